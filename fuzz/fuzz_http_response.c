/* libFuzzer target over the bounded HTTP/1.x answer parser of the cosocket
 * transport (src/http_response.c): the input is an answer as it would come
 * off a connection. It is parsed twice, whole and in pieces of sizes drawn
 * from the input, with small limits so the bounds are reached: both runs
 * must agree on everything (outcome, status, headers, body, reuse), the
 * body and the head must stay within their limits, and neither run may
 * crash, hang, leak or draw a sanitizer report.
 *
 *   make fuzz FUZZ_SECONDS=60      (runs this and fuzz_response)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/http_response.h"

typedef struct {
    hr_status_t result;
    int status, reusable;
    size_t body_len, head_len, consumed;
} outcome_t;

static void parse(const uint8_t *data, size_t size, const hr_limits_t *limits, uint32_t seed,
                  int pieces, outcome_t *out, http_response_t *r) {
    size_t pos = 0;
    hr_status_t st = HR_MORE;
    http_response_init(r, limits);
    out->consumed = 0;
    while (pos < size && st == HR_MORE) {
        size_t n = size - pos, used = 0;
        if (pieces) {
            seed = seed * 1103515245u + 12345u;
            n = 1 + (seed >> 16) % 97;
            if (n > size - pos) n = size - pos;
            /* ask it what it wants, as the transport does */
            if (http_response_want(r, n) < n) n = http_response_want(r, n);
            if (n == 0) abort();   /* wants nothing while not done */
        }
        st = http_response_feed(r, (const char *)data + pos, n, &used);
        if (used > n) abort();
        out->consumed += used;
        if (st == HR_MORE && used != n) abort();   /* a piece left over while more is wanted */
        pos += n;
    }
    if (st == HR_DONE && pos < size) {   /* what came after the answer */
        size_t used = 0;
        http_response_feed(r, (const char *)data + pos, size - pos, &used);
        if (used != 0) abort();
    }
    if (st == HR_MORE) st = http_response_eof(r);
    out->result = st;
    out->status = r->status;
    out->reusable = http_response_reusable(r);
    out->body_len = r->body.len;
    out->head_len = r->head.len;
    if (r->body.len > r->limits.max_body) abort();
    if (r->head.len > r->limits.max_head) abort();
    if (st == HR_DONE) {
        size_t p = 0, nl, vl;
        const char *name, *value;
        if (r->status < 200 || r->status > 999) abort();
        while (http_response_next_header(r, &p, &name, &nl, &value, &vl)) {
            if (nl == 0 || name < r->head.data || value + vl > r->head.data + r->head.len) abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hr_limits_t limits;
    http_response_t whole, split;
    outcome_t a, b;
    uint32_t seed;
    if (size < 4) return 0;
    /* Small limits from the first bytes, so that every bound is hit. */
    limits.max_line = 16 + data[0] * 4;
    limits.max_head = 64 + data[1] * 32;
    limits.max_body = (size_t)data[2] * 16;
    if (data[2] == 255) limits.max_body = 1 << 20;
    seed = data[3];
    data += 4;
    size -= 4;
    parse(data, size, &limits, seed, 0, &a, &whole);
    parse(data, size, &limits, seed, 1, &b, &split);
    if (a.result != b.result || a.status != b.status || a.reusable != b.reusable) abort();
    if (a.result == HR_DONE) {
        if (a.body_len != b.body_len || (a.body_len && memcmp(whole.body.data, split.body.data, a.body_len) != 0)) abort();
        if (a.head_len != b.head_len || (a.head_len && memcmp(whole.head.data, split.head.data, a.head_len) != 0)) abort();
        if (a.consumed != b.consumed) abort();
    }
    http_response_free(&whole);
    http_response_free(&split);
    return 0;
}
