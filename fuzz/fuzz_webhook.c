/* libFuzzer target over webhook verification (src/webhook.c): the secret,
 * base64 and the webhook-signature header. The input is three fields split
 * at the first two newlines -- secret, signature header, body -- and
 *
 *  - webhook_verify must return one of its results, never crash, and accept
 *    the delivery once the right "v1," entry (computed here with OpenSSL's
 *    one-shot HMAC() and EVP_EncodeBlock, not with the code under test) is
 *    appended to the fuzzed header;
 *  - the base64 encoder must agree with EVP_EncodeBlock on the whole input,
 *    and decoding what it wrote must give the input back;
 *  - the decoder must accept a fuzzed secret exactly when the key is usable.
 *
 *   make build/fuzz/fuzz_webhook && build/fuzz/fuzz_webhook fuzz/corpus-webhook
 */
#define _GNU_SOURCE   /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../src/webhook.h"

#define ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define TS "1614265330"

static void fail(const char *what) {
    fprintf(stderr, "fuzz_webhook: %s\n", what);
    abort();
}

/* The next field up to '\n' (or the end); advances *p and *left. */
static const char *field(const char **p, size_t *left, size_t *len) {
    const char *start = *p;
    const char *nl = memchr(start, '\n', *left);
    if (!nl) {
        *len = *left;
        *p += *left;
        *left = 0;
    } else {
        *len = (size_t)(nl - start);
        *left -= *len + 1;
        *p = nl + 1;
    }
    return start;
}

static void check_base64(const uint8_t *data, size_t size) {
    size_t cap = (size / 3 + 1) * 4 + 1, n, decoded_len = 0;
    char *ours = malloc(cap);
    unsigned char *theirs = malloc(cap), *back = malloc(size + 1);
    int theirs_len;
    if (!ours || !theirs || !back) fail("out of memory");
    n = webhook_base64_encode(data, size, ours, cap);
    theirs_len = EVP_EncodeBlock(theirs, data, (int)size);
    if (size > 0 && n == 0) fail("encode refused a buffer that fits");
    if ((size_t)theirs_len != n || memcmp(ours, theirs, n) != 0) fail("encode differs from EVP_EncodeBlock");
    if (webhook_base64_encode(data, size, ours, n == 0 ? 0 : n - 1) != 0 && size > 0)
        fail("encode wrote past a short buffer");
    if (webhook_base64_decode(ours, n, back, size + 1, &decoded_len) != 0) fail("decode refused encode's output");
    if (decoded_len != size || memcmp(back, data, size) != 0) fail("decode(encode(x)) != x");
    free(ours);
    free(theirs);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data, *secret, *header, *body;
    size_t left = size, secret_len, header_len, body_len, key_len = 0;
    unsigned char key[WEBHOOK_MAX_KEY], mac[32];
    unsigned int mac_len = 0;
    webhook_result_t r;

    check_base64(data, size);

    secret = field(&p, &left, &secret_len);
    header = field(&p, &left, &header_len);
    body = p;
    body_len = left;

    r = webhook_verify(secret, secret_len, ID, sizeof ID - 1, TS, sizeof TS - 1, body, body_len,
                       header, header_len);
    if (r != WEBHOOK_OK && r != WEBHOOK_MALFORMED_SECRET && r != WEBHOOK_NO_SIGNATURE &&
        r != WEBHOOK_BAD_SIGNATURE)
        fail("unexpected result");

    if (webhook_key_from_secret(secret, secret_len, key, &key_len) != 0) {
        if (r != WEBHOOK_MALFORMED_SECRET) fail("a malformed secret was used");
        return 0;
    }
    if (r == WEBHOOK_MALFORMED_SECRET) fail("a usable secret was called malformed");
    if (key_len == 0 || key_len > WEBHOOK_MAX_KEY) fail("key length out of range");

    /* The oracle: the signed content joined, HMAC() over it. */
    {
        size_t content_len = sizeof ID - 1 + 1 + sizeof TS - 1 + 1 + body_len;
        size_t with_len = header_len + 1 + 3 + WEBHOOK_SIG_B64_LEN;
        unsigned char *content = malloc(content_len + 1);
        char *with = malloc(with_len);
        unsigned char sig[WEBHOOK_SIG_B64_LEN + 1];
        if (!content || !with) fail("out of memory");
        memcpy(content, ID "." TS ".", sizeof ID - 1 + 1 + sizeof TS - 1 + 1);
        if (body_len) memcpy(content + content_len - body_len, body, body_len);
        if (!HMAC(EVP_sha256(), key, (int)key_len, content, content_len, mac, &mac_len) || mac_len != 32)
            fail("HMAC failed");
        if (EVP_EncodeBlock(sig, mac, 32) != WEBHOOK_SIG_B64_LEN) fail("EVP_EncodeBlock length");
        if (r == WEBHOOK_OK && !memmem(header, header_len, sig, WEBHOOK_SIG_B64_LEN))
            fail("accepted a header without the right signature");
        if (header_len) memcpy(with, header, header_len);
        memcpy(with + header_len, " v1,", 4);
        memcpy(with + header_len + 4, sig, WEBHOOK_SIG_B64_LEN);
        r = webhook_verify(secret, secret_len, ID, sizeof ID - 1, TS, sizeof TS - 1, body, body_len,
                           with, with_len);
        if (r != WEBHOOK_OK) fail("refused a header holding the right signature");
        free(content);
        free(with);
    }
    return 0;
}
