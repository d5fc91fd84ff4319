/* The HTTP transport over libcurl's multi interface.
 *
 * A transport (one per client) owns a multi handle, whose connection cache
 * keeps connections alive between calls, and a share handle for DNS and TLS
 * sessions. Each request is a transfer with its own fresh easy handle and
 * buffers, so any number can be in flight at once; a blocking call is a
 * transfer driven to its end.
 *
 * Pure C: nothing here touches a lua_State, so no Lua error can unwind
 * through libcurl's frames, and callbacks only record what happened. */
#ifndef ANTHROPIC_ENV_TRANSPORT_H
#define ANTHROPIC_ENV_TRANSPORT_H

#include <stddef.h>
#include <curl/curl.h>

typedef struct {
    char *data;
    size_t len, cap;
} buffer_t;

/* Fixed for the life of a transport. Strings are copied. */
typedef struct {
    long connect_timeout_ms;      /* 0: libcurl's default */
    long stall_timeout_ms;        /* abort when no byte arrives for this long; 0: off */
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
    const char *body;             /* NULL: no body; copied */
    size_t body_len;
    long timeout_ms;              /* whole attempt; 0: none */
} transport_request_t;

typedef enum {
    TRANSPORT_OK = 0,
    TRANSPORT_CONNECTION,         /* refused, reset, DNS, TLS, truncated... */
    TRANSPORT_TIMEOUT,            /* timeout, connect timeout, stall */
    TRANSPORT_TOO_LARGE,          /* body over max_body */
    TRANSPORT_NO_MEMORY,
    TRANSPORT_CANCELLED           /* its transport was closed while it ran */
} transport_status_t;

typedef struct transport transport_t;
typedef struct transfer transfer_t;

typedef enum { TRANSFER_IDLE, TRANSFER_RUNNING, TRANSFER_DONE } transfer_state_t;

struct transfer {
    transport_t *owner;           /* while running */
    transfer_t *prev, *next;      /* the owner's list of running transfers */
    CURL *easy;
    struct curl_slist *header_list;
    transfer_state_t state;
    CURLcode result;
    long status;
    size_t max_body;
    int body_too_large, out_of_memory, stalled, cancelled;
    long stall_timeout_ms;
    double last_progress;         /* monotonic seconds when bytes last came */
    buffer_t body;                /* the answer's body */
    buffer_t header_block;        /* header lines of the final answer */
    char errbuf[CURL_ERROR_SIZE];
};

/* A socket libcurl wants watched, and for what (CURL_POLL_IN/OUT/INOUT). */
typedef struct {
    curl_socket_t fd;
    int what;
} watched_socket_t;

struct transport {
    CURLM *multi;
    CURLSH *share;
    transfer_t *running;          /* head of the list */
    int n_running;
    transport_config_t config;    /* with owned copies of the strings */
    /* What libcurl asked for through its socket and timer callbacks: the
     * transport drives it with curl_multi_socket_action, so the work per
     * wake-up follows the sockets that are ready, not the requests in
     * flight. */
    watched_socket_t *sockets;
    int n_sockets, cap_sockets;
    double timer_deadline;        /* monotonic seconds; < 0: no timer */
};

/* curl_global_init exactly once per process, thread-safe. 0 on success. */
int transport_global_init(void);

/* 0 on success; on failure the transport is closed. */
int transport_open(transport_t *t, const transport_config_t *config);
/* Aborts running transfers (they end as TRANSFER_DONE with a connection
 * error) and releases everything. Idempotent. */
void transport_close(transport_t *t);

/* Starts a transfer (which must be idle or done). 0 on success; -1 when out
 * of memory, with message set. */
int transfer_start(transport_t *t, transfer_t *x, const transport_request_t *req,
                   char *message, size_t message_size);

/* Does whatever work is ready, waiting at most wait_ms for some (0: never
 * blocks; nothing is waited for when no transfer runs). Running transfers
 * that end become TRANSFER_DONE. */
void transport_drive(transport_t *t, long wait_ms);

/* For an external event loop: the milliseconds until libcurl's timer is
 * due (-1: none; 0: now). The sockets to watch are t->sockets. */
long transport_timeout_ms(transport_t *t);

/* Stops a running transfer (it becomes idle) and frees its resources; for
 * a done transfer, frees them. Safe to call in any state. */
void transfer_release(transfer_t *x);

/* The outcome of a done transfer. On TRANSPORT_OK, *status is the HTTP
 * status and x->body / x->header_block hold the answer; otherwise message
 * says what went wrong and *status is any status seen before the failure. */
transport_status_t transfer_outcome(const transfer_t *x, long *status,
                                    char *message, size_t message_size);

/* Iterates over the header lines of the answer: returns 1 and sets
 * name/value (not NUL-terminated) for each, 0 at the end. *pos starts at 0. */
int transfer_next_header(const transfer_t *x, size_t *pos,
                         const char **name, size_t *name_len,
                         const char **value, size_t *value_len);

#endif
