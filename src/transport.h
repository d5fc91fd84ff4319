/* The HTTP transport over libcurl's multi interface.
 *
 * A transport (one per client) owns a multi handle, whose connection cache
 * keeps connections alive between calls, and a share handle for DNS and TLS
 * sessions. Each request is a transfer with its own fresh easy handle and
 * buffers, so any number can be in flight at once; a blocking call is a
 * transfer driven to its end.
 *
 * Proxies: when no proxy is configured and none of libcurl's proxy
 * variables (http_proxy, https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY,
 * no_proxy, NO_PROXY) is set as the transport opens, its requests are told
 * to use no proxy, so that libcurl does not read the environment again on
 * every request; a variable set later is not seen by that transport.
 *
 * Pure C: nothing here touches a lua_State, so no Lua error can unwind
 * through libcurl's frames, and callbacks only record what happened. */
#ifndef ANTHROPIC_ENV_TRANSPORT_H
#define ANTHROPIC_ENV_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>
#include <curl/curl.h>

#include "buffer.h"
#include "answer_limits.h"

/* The most a response's header block (every header line of the final
 * answer) may hold; a larger one ends the transfer as TRANSPORT_TOO_LARGE.
 * libcurl bounds single lines itself (100 KiB), not their total. */
#define TRANSPORT_HEADER_BLOCK_MAX LIMITS_HEAD_MAX

/* The longest wait, in milliseconds, that the transport honours: any
 * longer one (math.huge included) is clamped to it. Fits poll()'s int. */
#define TRANSPORT_MAX_WAIT_MS 2147483647L

/* Fixed for the life of a transport. Strings are copied. */
typedef struct {
    long connect_timeout_ms;      /* 0: libcurl's default */
    long stall_timeout_ms;        /* abort when no byte is sent or received for this
                                     long; 0: off */
    size_t max_body;              /* response bodies larger than this are refused */
    long max_connections;         /* idle connections kept for reuse; 0: libcurl's default */
    const char *proxy;            /* NULL: libcurl's environment variables */
    const char *ca_file, *ca_path;
    int insecure_skip_tls_verify;
    int no_proxy_at_all;          /* set by transport_open: see below */
} transport_config_t;

typedef enum { METHOD_GET, METHOD_POST, METHOD_DELETE } transport_method_t;

typedef struct {
    transport_method_t method;
    const char *url;
    const char *const *headers;   /* "Name: value" lines */
    size_t n_headers;
    /* Or a list made once by transport_header_list (then headers is
     * ignored): borrowed, it must outlive the transfer. */
    const struct curl_slist *header_list;
    const char *body;             /* NULL: no body; copied */
    size_t body_len;
    long timeout_ms;              /* whole attempt; 0: none */
} transport_request_t;

typedef enum {
    TRANSPORT_OK = 0,
    TRANSPORT_CONNECTION,         /* refused, reset, DNS, TLS, truncated... */
    TRANSPORT_TIMEOUT,            /* timeout, connect timeout, stall */
    TRANSPORT_TOO_LARGE,          /* body over max_body, or header block over
                                     TRANSPORT_HEADER_BLOCK_MAX */
    TRANSPORT_NO_MEMORY,
    TRANSPORT_CANCELLED,          /* its transport was closed while it ran */
    TRANSPORT_INVALID_REQUEST     /* libcurl refused the request (transfer_start
                                     only), e.g. a URL over its 8 MB limit */
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
    int body_too_large, headers_too_large, out_of_memory, stalled, cancelled, forked;
    int in_headers;               /* between a status line and the blank line */
    long stall_timeout_ms;
    double last_progress;         /* monotonic seconds when a byte last moved */
    curl_off_t uploaded;          /* bytes sent so far, as libcurl last said */
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
    /* Every socket libcurl opened for this transport and has not closed
     * (through its open/close socket callbacks), and the process that
     * opened the handles: see transport_check_fork. */
    curl_socket_t *open_sockets;
    int n_open_sockets, cap_open_sockets;
    pid_t pid;
};

/* curl_global_init exactly once per process, thread-safe. 0 on success. */
int transport_global_init(void);

/* Monotonic seconds: the one clock of the core, for deadlines and elapsed
 * times. */
double transport_now(void);

/* Seconds as milliseconds for the transport, rounded up: NaN and
 * non-positive values give 0, huge ones (inf too) TRANSPORT_MAX_WAIT_MS. */
long transport_seconds_to_ms(double seconds);

/* 0 on success; on failure the transport is closed. */
int transport_open(transport_t *t, const transport_config_t *config);
/* Aborts running transfers (they end as TRANSFER_DONE with a connection
 * error) and releases everything. Idempotent. */
void transport_close(transport_t *t);

/* After fork(), the child must never use a connection, TLS session or multi
 * handle its parent opened. Every function below calls this first: in a
 * process other than the one that opened the handles, it ends the running
 * transfers (TRANSFER_DONE, a connection error saying so), lets go of the
 * inherited handles without sending a byte on the inherited sockets, and
 * makes fresh ones. Returns 0, or -1 if the fresh handles could not be
 * made (transfer_start then retries). See transport.c for how. */
int transport_check_fork(transport_t *t);

/* Starts a transfer (which must be idle or done). Returns TRANSPORT_OK, or
 * TRANSPORT_NO_MEMORY or TRANSPORT_INVALID_REQUEST with message set (the
 * transfer stays idle). A header line with a control byte (CR, LF...) is
 * refused as TRANSPORT_INVALID_REQUEST; the lines being C strings, a NUL is
 * for the caller to refuse (transport_header_line_ok over the full length). */
transport_status_t transfer_start(transport_t *t, transfer_t *x, const transport_request_t *req,
                                  char *message, size_t message_size);

/* 1 if a header line may go on the wire as is: no CR, LF, NUL or other
 * control byte except horizontal tab (DEL included). */
int transport_header_line_ok(const char *line, size_t len);

/* Does whatever work is ready, waiting at most wait_ms for some (0: never
 * blocks; nothing is waited for when no transfer runs). Running transfers
 * that end become TRANSFER_DONE. */
void transport_drive(transport_t *t, long wait_ms);

/* For an external event loop: the milliseconds until libcurl's timer is
 * due (-1: none; 0: now). The sockets to watch are t->sockets. */
long transport_timeout_ms(transport_t *t);

/* Header lines for requests, made once and used by any number of them
 * (transport_request_t.header_list): each line checked (no control
 * character but tab), plus the lines that stop libcurl from adding headers
 * of its own ("Content-Type:" when the lines have none; a request whose
 * body could get "Expect: 100-continue" sends a copy with "Expect:").
 * Returns the list, or NULL with *bad_line set to the 1-based number of a
 * line that holds a control character, or to 0 when out of memory. Free it
 * with curl_slist_free_all. */
struct curl_slist *transport_header_list(const char *const *lines, const size_t *lens, size_t n,
                                         size_t *bad_line);

/* Stops a running transfer (it becomes idle) and frees its resources; for
 * a done transfer, frees them. Safe to call in any state. */
void transfer_release(transfer_t *x);

/* The outcome of a done transfer. On TRANSPORT_OK, *status is the HTTP
 * status and x->body / x->header_block hold the answer; otherwise message
 * says what went wrong and *status is any status seen before the failure. */
transport_status_t transfer_outcome(const transfer_t *x, long *status,
                                    char *message, size_t message_size);

/* 1 if a done transfer failed on the server's certificate, which no retry
 * can fix: an untrusted chain, a host name that does not match, an expired
 * or revoked certificate, a pinned public key that does not match. */
int transfer_tls_certificate_failed(const transfer_t *x);

/* Iterates over the header lines of the answer: returns 1 and sets
 * name/value (not NUL-terminated) for each, 0 at the end. *pos starts at 0. */
int transfer_next_header(const transfer_t *x, size_t *pos,
                         const char **name, size_t *name_len,
                         const char **value, size_t *value_len);

/* The same over any header block (the lines of transfer_t.header_block,
 * kept as they came). */
int transport_next_header(const char *block, size_t len, size_t *pos,
                          const char **name, size_t *name_len,
                          const char **value, size_t *value_len);

#endif
