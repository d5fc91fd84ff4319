/* The HTTP transport: one libcurl easy handle per client, kept between calls
 * so its connection (and TLS session) is reused. Pure C: nothing here touches
 * a lua_State, so no Lua error can ever unwind through libcurl's frames. */
#ifndef ANTHROPIC_ENV_TRANSPORT_H
#define ANTHROPIC_ENV_TRANSPORT_H

#include <stddef.h>
#include <curl/curl.h>

typedef struct {
    char *data;
    size_t len, cap;
} buffer_t;

/* Fixed for the life of a client. */
typedef struct {
    long connect_timeout_ms;      /* 0: libcurl's default */
    long stall_timeout_s;         /* abort when no byte arrives for this long; 0: off */
    size_t max_body;              /* response bodies larger than this are refused */
    const char *proxy;            /* NULL: libcurl's environment variables */
    const char *ca_file, *ca_path;
    int insecure_skip_tls_verify;
} transport_config_t;

typedef enum { METHOD_GET, METHOD_POST, METHOD_DELETE } transport_method_t;

typedef struct {
    transport_method_t method;
    const char *url;
    const char *const *headers;   /* "Name: value" lines */
    size_t n_headers;
    const char *body;             /* NULL: no body */
    size_t body_len;
    long timeout_ms;              /* whole attempt; 0: none */
} transport_request_t;

typedef enum {
    TRANSPORT_OK = 0,
    TRANSPORT_CONNECTION,         /* refused, reset, DNS, TLS, truncated... */
    TRANSPORT_TIMEOUT,            /* timeout, connect timeout, stall */
    TRANSPORT_TOO_LARGE,          /* body over max_body */
    TRANSPORT_NO_MEMORY,
    TRANSPORT_USAGE               /* bad configuration (e.g. a malformed URL) */
} transport_status_t;

typedef struct {
    CURL *easy;
    size_t max_body;
    int body_too_large, out_of_memory;
    buffer_t body;                /* body of the last response */
    buffer_t header_block;        /* header lines of the last (final) response */
    char errbuf[CURL_ERROR_SIZE];
} transport_t;

/* curl_global_init exactly once per process, thread-safe. 0 on success. */
int transport_global_init(void);

/* 0 on success; on failure *t is left closed and may be closed again. */
int transport_open(transport_t *t, const transport_config_t *config);
void transport_close(transport_t *t);   /* idempotent */

/* Performs one request. On TRANSPORT_OK, *status is the HTTP status and
 * t->body / t->header_block hold the answer. Otherwise `message` (size
 * CURL_ERROR_SIZE + 64) says what went wrong. */
transport_status_t transport_perform(transport_t *t, const transport_request_t *req,
                                     long *status, char *message, size_t message_size);

/* Iterates over the header lines of the last answer: returns 1 and sets
 * name/value (not NUL-terminated) for each, 0 at the end. *pos starts at 0. */
int transport_next_header(const transport_t *t, size_t *pos,
                          const char **name, size_t *name_len,
                          const char **value, size_t *value_len);

#endif
