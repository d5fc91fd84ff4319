/* A bounded, incremental HTTP/1.x answer parser: see http_response.h. */
#include "http_response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    S_STATUS,             /* reading the status line */
    S_HEADER,             /* reading header lines */
    S_BODY_LENGTH,        /* `remaining` bytes of a Content-Length body */
    S_BODY_EOF,           /* a body that ends with the connection */
    S_CHUNK_SIZE,         /* reading a chunk-size line */
    S_CHUNK_DATA,         /* `remaining` bytes of a chunk */
    S_CHUNK_END,          /* the CRLF after a chunk's data */
    S_TRAILER,            /* trailer lines, up to an empty one */
    S_DONE,
    S_FAILED
};

/* More than 15 hex digits could overflow 64 bits; no chunk is that big. */
#define MAX_CHUNK_DIGITS 15

static hr_status_t fail(http_response_t *r, hr_status_t result, const char *message) {
    r->state = S_FAILED;
    r->result = result;
    snprintf(r->message, sizeof r->message, "%s", message);
    return result;
}

static hr_status_t too_large(http_response_t *r) {
    char message[sizeof r->message];
    snprintf(message, sizeof message, "response body larger than the limit of %lu bytes",
             (unsigned long)r->limits.max_body);
    return fail(r, HR_TOO_LARGE, message);
}

static hr_status_t headers_too_large(http_response_t *r) {
    char message[sizeof r->message];
    snprintf(message, sizeof message, LIMITS_HEAD_TOO_LARGE, (unsigned long)r->limits.max_head);
    return fail(r, HR_TOO_LARGE, message);
}

void http_response_init(http_response_t *r, const hr_limits_t *limits) {
    memset(r, 0, sizeof *r);
    r->limits = *limits;
    if (r->limits.max_line < 16) r->limits.max_line = 16;
    if (r->limits.max_head < r->limits.max_line) r->limits.max_head = r->limits.max_line;
    r->state = S_STATUS;
    r->result = HR_MORE;
}

void http_response_free(http_response_t *r) {
    buffer_free(&r->line);
    buffer_free(&r->head);
    buffer_free(&r->body);
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static int is_ws(int c) { return c == ' ' || c == '\t'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

static int hex_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Case-insensitive: does s[0..n) equal the lower-case word w? */
static int equals(const char *s, size_t n, const char *w) {
    size_t i;
    if (strlen(w) != n) return 0;
    for (i = 0; i < n; i++) if (lower((unsigned char)s[i]) != w[i]) return 0;
    return 1;
}

/* Calls fn on each comma-separated, trimmed, non-empty element of a value. */
typedef int (*element_fn)(http_response_t *r, const char *s, size_t n);
static int each_element(http_response_t *r, const char *v, size_t n, element_fn fn) {
    size_t i = 0;
    while (i < n) {
        size_t start, end;
        while (i < n && (is_ws((unsigned char)v[i]) || v[i] == ',')) i++;
        start = i;
        while (i < n && v[i] != ',') i++;
        end = i;
        while (end > start && is_ws((unsigned char)v[end - 1])) end--;
        if (end > start && fn(r, v + start, end - start) != 0) return -1;
    }
    return 0;
}

static int on_connection_token(http_response_t *r, const char *s, size_t n) {
    if (equals(s, n, "close")) r->keep_alive = 0;
    else if (equals(s, n, "keep-alive") && r->version_minor == 0) r->keep_alive = 1;
    return 0;
}

/* The last transfer coding decides: chunked, or a body to the end. */
static int on_coding(http_response_t *r, const char *s, size_t n) {
    r->chunked = equals(s, n, "chunked");
    return 0;
}

/* Content-Length: digits; a list of equal values counts as one. An empty
 * value is invalid wherever it comes (1*DIGIT), as libcurl has it. */
static int on_length(http_response_t *r, const char *s, size_t n) {
    uint64_t v = 0;
    size_t i;
    while (n > 1 && s[0] == '0') { s++; n--; }                   /* leading zeros */
    if (n > 18) return -1;
    for (i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (r->has_length && r->length != v) return -1;
    r->has_length = 1;
    r->length = v;
    return 0;
}

static hr_status_t status_line(http_response_t *r, const char *s, size_t n) {
    int i, code = 0;
    if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !is_digit((unsigned char)s[7]) || s[8] != ' ') {
        return fail(r, HR_ERROR, "unsupported HTTP version or malformed status line in the answer");
    }
    for (i = 9; i < 12; i++) {
        if (!is_digit((unsigned char)s[i])) return fail(r, HR_ERROR, "malformed status line in the answer");
        code = code * 10 + (s[i] - '0');
    }
    if (n > 12 && s[12] != ' ') return fail(r, HR_ERROR, "malformed status line in the answer");
    if (code < 100) return fail(r, HR_ERROR, "malformed status line in the answer");
    r->version_minor = s[7] - '0';
    r->status = code;
    r->keep_alive = r->version_minor >= 1;
    r->chunked = r->has_length = r->coded = 0;
    r->length = 0;
    r->head.len = 0;
    r->state = S_HEADER;
    return HR_MORE;
}

static hr_status_t header_line(http_response_t *r, const char *s, size_t n) {
    const char *colon, *v, *ve;
    size_t name_len;
    if (is_ws((unsigned char)s[0])) return HR_MORE;            /* folded: ignored */
    colon = memchr(s, ':', n);
    if (colon == NULL || colon == s) return HR_MORE;           /* malformed: ignored */
    name_len = (size_t)(colon - s);
    v = colon + 1;
    ve = s + n;
    while (v < ve && is_ws((unsigned char)*v)) v++;
    while (ve > v && is_ws((unsigned char)ve[-1])) ve--;
    if (equals(s, name_len, "content-length")) {
        int had = r->has_length;
        uint64_t had_length = r->length;
        r->has_length = 0;
        if (each_element(r, v, (size_t)(ve - v), on_length) != 0 || !r->has_length ||
            (had && r->length != had_length)) {
            return fail(r, HR_ERROR, "invalid Content-Length in the answer");
        }
    } else if (equals(s, name_len, "transfer-encoding")) {
        each_element(r, v, (size_t)(ve - v), on_coding);
        r->keep_alive = r->keep_alive && r->chunked;
        r->coded = 1;
    } else if (equals(s, name_len, "connection")) {
        each_element(r, v, (size_t)(ve - v), on_connection_token);
    }
    if (buffer_append(&r->head, s, n) != 0 || buffer_append(&r->head, "\n", 1) != 0) {
        return fail(r, HR_NO_MEMORY, "out of memory reading the answer");
    }
    return HR_MORE;
}

static hr_status_t end_of_head(http_response_t *r) {
    int coded = r->coded;
    r->coded = 0;
    r->head_bytes = 0;
    /* An answer without a body that announced one: its bytes may come late
     * and be read as the next exchange's answer. */
    if ((r->status < 200 || r->status == 204 || r->status == 304) &&
        (coded || (r->has_length && r->length > 0))) {
        r->ambiguous = 1;
    }
    if (r->status < 200) {
        if (r->status == 101) return fail(r, HR_ERROR, "the server switched protocols (101)");
        r->state = S_STATUS;                                    /* 1xx: the answer follows */
        r->status = 0;
        return HR_MORE;
    }
    if (r->status == 204 || r->status == 304) {
        r->state = S_DONE;
        return r->result = HR_DONE;
    }
    if (coded) {
        /* A length beside a coding is not to be trusted for framing. */
        if (r->has_length) r->keep_alive = 0;
        r->has_length = 0;
        if (r->chunked) {
            r->state = S_CHUNK_SIZE;
            return HR_MORE;
        }
        r->state = S_BODY_EOF;
        return HR_MORE;
    }
    if (r->has_length) {
        if (r->length > (uint64_t)r->limits.max_body) {
            return too_large(r);
        }
        r->remaining = r->length;
        if (r->remaining == 0) {
            r->state = S_DONE;
            return r->result = HR_DONE;
        }
        r->state = S_BODY_LENGTH;
        return HR_MORE;
    }
    r->keep_alive = 0;
    r->state = S_BODY_EOF;
    return HR_MORE;
}

static hr_status_t chunk_size_line(http_response_t *r, const char *s, size_t n) {
    size_t i = 0, digits = 0;
    uint64_t size = 0;
    while (i < n && hex_value((unsigned char)s[i]) >= 0) {
        /* Leading zeros are allowed (1*HEXDIG) and count for nothing. */
        if (size == 0 && s[i] == '0') {
            if (digits == 0) digits = 1;
            i++;
            continue;
        }
        if (size == 0) digits = 0;
        if (++digits > MAX_CHUNK_DIGITS) return fail(r, HR_ERROR, "chunk size too large in the answer");
        size = size * 16 + (uint64_t)hex_value((unsigned char)s[i]);
        i++;
    }
    if (digits == 0) return fail(r, HR_ERROR, "malformed chunk size in the answer");
    while (i < n && is_ws((unsigned char)s[i])) i++;
    if (i < n && s[i] != ';') return fail(r, HR_ERROR, "malformed chunk size in the answer");
    if (size == 0) {
        r->state = S_TRAILER;
        r->head_bytes = 0;
        return HR_MORE;
    }
    if (size > (uint64_t)(r->limits.max_body - r->body.len)) {
        return too_large(r);
    }
    r->remaining = size;
    r->state = S_CHUNK_DATA;
    return HR_MORE;
}

/* One whole line (without its CRLF or LF) in the current state. */
static hr_status_t on_line(http_response_t *r, const char *s, size_t n) {
    switch (r->state) {
    case S_STATUS:
        if (n == 0 && r->head_bytes <= 2) return HR_MORE;       /* a stray CRLF before it */
        return status_line(r, s, n);
    case S_HEADER:
        if (n == 0) return end_of_head(r);
        return header_line(r, s, n);
    case S_CHUNK_SIZE:
        return chunk_size_line(r, s, n);
    case S_CHUNK_END:
        if (n != 0) return fail(r, HR_ERROR, "malformed chunked body in the answer");
        r->state = S_CHUNK_SIZE;
        return HR_MORE;
    case S_TRAILER:
        if (n == 0) {
            r->state = S_DONE;
            return r->result = HR_DONE;
        }
        return HR_MORE;                                         /* trailers are dropped */
    default:
        return fail(r, HR_ERROR, "internal parser state");
    }
}

/* Takes bytes of a line; on its LF, handles the line. Returns the bytes used. */
static size_t take_line(http_response_t *r, const char *data, size_t len) {
    const char *lf = memchr(data, '\n', len);
    size_t n = lf ? (size_t)(lf - data) + 1 : len;
    int counts = r->state == S_STATUS || r->state == S_HEADER || r->state == S_TRAILER;
    if (counts) {
        /* As libcurl's transport: the head (status line and headers, and
         * the trailers apart) is bounded as a whole, a kind of "too large". */
        if (n > r->limits.max_head - r->head_bytes) {
            headers_too_large(r);
            return n;
        }
        r->head_bytes += n;
    }
    if (n > r->limits.max_line - r->line.len) {
        if (counts) headers_too_large(r);
        else fail(r, HR_ERROR, "a chunk-size line of the answer is too long");
        return n;
    }
    if (buffer_append(&r->line, data, n) != 0) {
        fail(r, HR_NO_MEMORY, "out of memory reading the answer");
        return n;
    }
    if (lf) {
        size_t l = r->line.len - 1;
        if (l > 0 && r->line.data[l - 1] == '\r') l--;
        r->line.len = 0;
        on_line(r, r->line.data, l);
    }
    return n;
}

static size_t take_body(http_response_t *r, const char *data, size_t len) {
    size_t n = len;
    if (r->state != S_BODY_EOF && (uint64_t)n > r->remaining) n = (size_t)r->remaining;
    if (n > r->limits.max_body - r->body.len) {
        too_large(r);
        return n;
    }
    if (buffer_append(&r->body, data, n) != 0) {
        fail(r, HR_NO_MEMORY, "out of memory reading the answer");
        return n;
    }
    if (r->state == S_BODY_EOF) return n;
    r->remaining -= n;
    if (r->remaining == 0) {
        if (r->state == S_CHUNK_DATA) {
            r->state = S_CHUNK_END;
        } else {
            r->state = S_DONE;
            r->result = HR_DONE;
        }
    }
    return n;
}

hr_status_t http_response_feed(http_response_t *r, const char *data, size_t len, size_t *consumed) {
    size_t used = 0;
    if (len > 0) r->saw_bytes = 1;
    while (used < len && r->state != S_DONE && r->state != S_FAILED) {
        switch (r->state) {
        case S_BODY_LENGTH:
        case S_BODY_EOF:
        case S_CHUNK_DATA:
            used += take_body(r, data + used, len - used);
            break;
        default:
            used += take_line(r, data + used, len - used);
            break;
        }
    }
    if (r->state == S_DONE && used < len) r->extra = 1;
    *consumed = used;
    return r->result;
}

hr_status_t http_response_eof(http_response_t *r) {
    char message[sizeof r->message];
    switch (r->state) {
    case S_DONE:
    case S_FAILED:
        return r->result;
    case S_BODY_EOF:
        r->keep_alive = 0;
        r->state = S_DONE;
        return r->result = HR_DONE;
    case S_BODY_LENGTH:
        snprintf(message, sizeof message, "transfer closed with %llu bytes remaining to read",
                 (unsigned long long)r->remaining);
        return fail(r, HR_ERROR, message);
    case S_STATUS:
        if (!r->saw_bytes) return fail(r, HR_ERROR, "empty reply from server");
        /* fall through */
    case S_HEADER:
        return fail(r, HR_ERROR, "the connection closed in the middle of the answer's head");
    default:
        return fail(r, HR_ERROR, "the connection closed in the middle of a chunked body");
    }
}

size_t http_response_want(const http_response_t *r, size_t cap) {
    if (r->state == S_DONE || r->state == S_FAILED) return 0;
    if ((r->state == S_BODY_LENGTH || r->state == S_CHUNK_DATA) && r->remaining < (uint64_t)cap) {
        return (size_t)r->remaining;
    }
    return cap;
}

int http_response_reusable(const http_response_t *r) {
    return r->state == S_DONE && r->keep_alive && !r->extra && !r->ambiguous;
}

int http_response_next_header(const http_response_t *r, size_t *pos,
                              const char **name, size_t *name_len,
                              const char **value, size_t *value_len) {
    const char *block = r->head.data;
    size_t len = r->head.len;
    while (*pos < len) {
        const char *line = block + *pos;
        const char *end = memchr(line, '\n', len - *pos);
        const char *colon, *v, *ve;
        size_t line_len = end ? (size_t)(end - line) : len - *pos;
        *pos += line_len + (end ? 1 : 0);
        colon = memchr(line, ':', line_len);
        if (colon == NULL || colon == line) continue;
        v = colon + 1;
        ve = line + line_len;
        while (v < ve && is_ws((unsigned char)*v)) v++;
        while (ve > v && is_ws((unsigned char)ve[-1])) ve--;
        *name = line;
        *name_len = (size_t)(colon - line);
        *value = v;
        *value_len = (size_t)(ve - v);
        return 1;
    }
    return 0;
}
