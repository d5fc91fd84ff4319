/* The HTTP transport over libcurl's multi interface. See transport.h. */
#include "transport.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result = CURLE_FAILED_INIT;

static void global_init_once(void) {
    global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int transport_global_init(void) {
    pthread_once(&global_once, global_init_once);
    return global_result == CURLE_OK ? 0 : -1;
}

static char *copy_string(const char *s) {
    char *c;
    if (s == NULL) return NULL;
    c = malloc(strlen(s) + 1);
    if (c != NULL) strcpy(c, s);
    return c;
}

double transport_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long transport_seconds_to_ms(double seconds) {
    double ms;
    if (!(seconds > 0)) return 0;   /* NaN too */
    ms = ceil(seconds * 1000.0);
    return ms >= (double)TRANSPORT_MAX_WAIT_MS ? TRANSPORT_MAX_WAIT_MS : (long)ms;
}

/* Nonzero when one of the 8 bytes of v is below 0x20 or is 0x7f (exact:
 * the classic "has a byte less than n" test, bytes >= 0x80 excluded). */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
static uint64_t has_control(uint64_t v) {
    uint64_t del = v ^ (0x7f * ONES);
    return (((v - 0x20 * ONES) & ~v) | ((del - ONES) & ~del)) & HIGHS;
}

int transport_header_line_ok(const char *line, size_t len) {
    size_t i = 0;
    /* Eight bytes at a time (a URL or a header line is checked on every
     * request); a block that may hold one is looked at byte by byte, as a
     * tab is allowed. */
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, line + i, 8);
        if (has_control(v)) break;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return 0;
    }
    return 1;
}

/* libcurl callbacks: they only record. Returning a short count aborts the
 * transfer (CURLE_WRITE_ERROR); the flags say why. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
    transfer_t *x = userdata;
    size_t n = size * nmemb;
    if (x->stall_timeout_ms > 0) x->last_progress = transport_now();
    if (n > x->max_body - x->body.len) {
        x->body_too_large = 1;
        return 0;
    }
    if (buffer_append(&x->body, ptr, n) != 0) {
        x->out_of_memory = 1;
        return 0;
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata) {
    transfer_t *x = userdata;
    size_t n = size * nmemb;
    if (x->stall_timeout_ms > 0) x->last_progress = transport_now();
    /* A new status line starts a new answer (after 100 Continue or a
     * proxy's CONNECT answer): only the final one's headers matter. */
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        x->header_block.len = 0;
        x->in_headers = 1;
        return n;
    }
    if (n <= 2 && (ptr[0] == '\r' || ptr[0] == '\n')) x->in_headers = 0;   /* the blank line */
    if (n > TRANSPORT_HEADER_BLOCK_MAX - x->header_block.len) {
        x->headers_too_large = 1;
        return 0;
    }
    if (buffer_append(&x->header_block, ptr, n) != 0) {
        x->out_of_memory = 1;
        return 0;
    }
    return n;
}

/* libcurl's progress callback: notes when the upload moves, for stall
 * detection in both directions (on_body and on_header note the download). */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow) {
    transfer_t *x = userdata;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    if (ulnow != x->uploaded) {
        x->uploaded = ulnow;
        x->last_progress = transport_now();
    }
    return 0;
}

/* libcurl's open and close socket callbacks: they do what libcurl would
 * (socket(), close()) and keep the list of open sockets that fork safety
 * needs. The slot is reserved first, so an opened socket is always listed;
 * close only closes listed sockets, so none is closed twice. */
static curl_socket_t on_open_socket(void *userdata, curlsocktype purpose,
                                    struct curl_sockaddr *address) {
    transport_t *t = userdata;
    curl_socket_t fd;
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
    if (t->n_open_sockets == t->cap_open_sockets) {
        int cap = t->cap_open_sockets ? t->cap_open_sockets * 2 : 16;
        curl_socket_t *p = realloc(t->open_sockets, (size_t)cap * sizeof *p);
        if (p == NULL) return CURL_SOCKET_BAD;
        t->open_sockets = p;
        t->cap_open_sockets = cap;
    }
    fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd != CURL_SOCKET_BAD) t->open_sockets[t->n_open_sockets++] = fd;
    return fd;
}

static int forget_socket(transport_t *t, curl_socket_t fd) {
    int i;
    for (i = 0; i < t->n_open_sockets; i++) {
        if (t->open_sockets[i] == fd) {
            t->open_sockets[i] = t->open_sockets[--t->n_open_sockets];
            return 1;
        }
    }
    return 0;
}

static int on_close_socket(void *userdata, curl_socket_t fd) {
    transport_t *t = userdata;
    return forget_socket(t, fd) ? close(fd) : 0;
}

/* libcurl's socket callback: records which sockets to watch for what. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    transport_t *t = userp;
    int i;
    (void)easy;
    (void)socketp;
    for (i = 0; i < t->n_sockets && t->sockets[i].fd != fd; i++) {}
    if (what == CURL_POLL_REMOVE) {
        if (i < t->n_sockets) t->sockets[i] = t->sockets[--t->n_sockets];
        return 0;
    }
    if (i == t->n_sockets) {
        if (t->n_sockets == t->cap_sockets) {
            int cap = t->cap_sockets ? t->cap_sockets * 2 : 16;
            watched_socket_t *p = realloc(t->sockets, (size_t)cap * sizeof *p);
            if (p == NULL) return -1;
            t->sockets = p;
            t->cap_sockets = cap;
        }
        t->sockets[t->n_sockets++].fd = fd;
    }
    t->sockets[i].what = what;
    return 0;
}

/* libcurl's timer callback: when it next wants to be called, whatever the
 * sockets do. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
    transport_t *t = userp;
    (void)multi;
    t->timer_deadline = timeout_ms < 0 ? -1.0 : transport_now() + (double)timeout_ms / 1000.0;
    return 0;
}

/* Makes the multi and share handles. 0 on success; -1 (with neither
 * made) when out of memory or libcurl refuses an option. */
static int open_handles(transport_t *t) {
    CURLMcode m = CURLM_OK;
    CURLSHcode sh = CURLSHE_OK;
    t->multi = curl_multi_init();
    t->share = curl_share_init();
    t->timer_deadline = -1.0;
    t->pid = getpid();
    if (t->multi == NULL || t->share == NULL) goto fail;
    /* A client lives in one Lua state, hence one thread: no share locks. */
    sh = curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    if (sh == CURLSHE_OK) sh = curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (sh != CURLSHE_OK) goto fail;
#define MULTI_SET(opt, value) if (m == CURLM_OK) m = curl_multi_setopt(t->multi, opt, value)
    MULTI_SET(CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    MULTI_SET(CURLMOPT_SOCKETFUNCTION, on_socket);
    MULTI_SET(CURLMOPT_SOCKETDATA, t);
    MULTI_SET(CURLMOPT_TIMERFUNCTION, on_timer);
    MULTI_SET(CURLMOPT_TIMERDATA, t);
    /* The idle connections kept: when a finished transfer would make the
     * cache hold more, libcurl closes the oldest. It does not limit how
     * many run at once (that is the caller's concurrency). */
    if (t->config.max_connections > 0) MULTI_SET(CURLMOPT_MAXCONNECTS, t->config.max_connections);
#undef MULTI_SET
    if (m != CURLM_OK) goto fail;
    return 0;
fail:
    if (t->multi != NULL) curl_multi_cleanup(t->multi);
    if (t->share != NULL) curl_share_cleanup(t->share);
    t->multi = NULL;
    t->share = NULL;
    return -1;
}

/* 1 if libcurl would find a proxy setting in the environment. */
static int proxy_in_environment(void) {
    static const char *const names[] = {
        "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY", NULL
    };
    int i;
    for (i = 0; names[i] != NULL; i++) {
        const char *v = getenv(names[i]);
        if (v != NULL && v[0] != '\0') return 1;
    }
    return 0;
}

int transport_open(transport_t *t, const transport_config_t *config) {
    memset(t, 0, sizeof *t);
    t->timer_deadline = -1.0;
    t->pid = getpid();
    if (transport_global_init() != 0) return -1;
    t->config = *config;
    t->config.proxy = copy_string(config->proxy);
    t->config.ca_file = copy_string(config->ca_file);
    t->config.ca_path = copy_string(config->ca_path);
    t->config.no_proxy_at_all = config->proxy == NULL && !proxy_in_environment();
    if ((config->proxy && !t->config.proxy) || (config->ca_file && !t->config.ca_file) ||
        (config->ca_path && !t->config.ca_path) || open_handles(t) != 0) {
        transport_close(t);
        return -1;
    }
    return 0;
}

/* Ends a running transfer's easy handle and unlinks it. The caller has
 * called transport_check_fork. */
static void detach(transfer_t *x) {
    transport_t *t = x->owner;
    if (t != NULL) {
        curl_multi_remove_handle(t->multi, x->easy);
        if (x->prev) x->prev->next = x->next;
        else t->running = x->next;
        if (x->next) x->next->prev = x->prev;
        t->n_running--;
        x->owner = NULL;
        x->prev = x->next = NULL;
    }
    if (x->easy != NULL) {
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    curl_slist_free_all(x->header_list);
    x->header_list = NULL;
}

/* Fork safety.
 *
 * A child process shares its parent's sockets: the same kernel socket
 * behind two descriptors. If both use it, bytes from both processes
 * interleave on one connection and answers reach the wrong request. So in
 * a process other than the one that made the handles, they are abandoned,
 * and it matters how:
 *
 * - Closing a descriptor in the child (close(), or dup2() over it) only
 *   drops the child's reference: the parent's socket stays open and
 *   nothing goes on the wire. shutdown() would end the connection for the
 *   parent too, and is never called.
 * - But libcurl, told to clean up a connection, does more than close():
 *   for TLS it reads what is pending (OpenSSL's SSL_read, which would eat
 *   bytes meant for the parent) and sends a close_notify alert (whose
 *   record the server would take as the end of the parent's session, or
 *   as a bad record MAC). HTTP/2 sessions may write too.
 * - Leaking the inherited handles without cleaning them up would avoid
 *   that, but leak memory and descriptors on every fork.
 *
 * So the child first points each inherited socket's descriptor number at
 * /dev/null (dup2, which atomically drops the child's reference to the
 * socket yet keeps the number taken, so no other thread can be handed it
 * meanwhile), and only then lets libcurl clean up: whatever it reads finds
 * end-of-file and whatever it writes goes nowhere, and its close, through
 * on_close_socket, frees the number. The sockets are known exactly because
 * libcurl opens and closes them through on_open_socket/on_close_socket.
 * Should /dev/null not open (no /dev, or no descriptor left), each socket
 * is closed directly instead: still nothing reaches the parent's
 * connection, but in a host whose other threads open files at that moment
 * a descriptor number might be reused before libcurl's write to it.
 *
 * Transfers running at the fork end as connection errors in the child;
 * the parent's continue undisturbed. Known limit: libcurl's threaded
 * resolver runs a thread per name lookup, which a child does not inherit;
 * a transfer still resolving a host name at the fork is detached, as
 * libcurl does for any abandoned lookup. */
static void abandon_inherited(transport_t *t) {
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    int i;
    for (i = 0; i < t->n_open_sockets;) {
        curl_socket_t fd = t->open_sockets[i];
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
            t->open_sockets[i] = t->open_sockets[--t->n_open_sockets];   /* not ours any more */
            continue;
        }
        if (devnull >= 0 && dup2(devnull, fd) == fd) {
            i++;
            continue;
        }
        t->open_sockets[i] = t->open_sockets[--t->n_open_sockets];
        close(fd);
    }
    while (t->running != NULL) {
        transfer_t *x = t->running;
        detach(x);
        x->state = TRANSFER_DONE;
        x->result = CURLE_RECV_ERROR;
        x->forked = 1;
    }
    if (t->multi != NULL) curl_multi_cleanup(t->multi);   /* closes through on_close_socket */
    if (t->share != NULL) curl_share_cleanup(t->share);
    t->multi = NULL;
    t->share = NULL;
    /* Anything libcurl did not close is ours to close: nothing leaks. */
    for (i = 0; i < t->n_open_sockets; i++) close(t->open_sockets[i]);
    t->n_open_sockets = 0;
    if (devnull >= 0) close(devnull);
    t->n_sockets = 0;
    t->timer_deadline = -1.0;
    t->pid = getpid();
}

int transport_check_fork(transport_t *t) {
    if (t->pid == getpid()) return 0;
    abandon_inherited(t);
    return open_handles(t);
}

void transport_close(transport_t *t) {
    if (t->multi != NULL && t->pid != getpid()) abandon_inherited(t);
    while (t->running != NULL) {
        transfer_t *x = t->running;
        detach(x);
        x->state = TRANSFER_DONE;
        x->result = CURLE_ABORTED_BY_CALLBACK;
        x->cancelled = 1;
    }
    if (t->multi != NULL) curl_multi_cleanup(t->multi);   /* may still call on_socket */
    if (t->share != NULL) curl_share_cleanup(t->share);
    t->multi = NULL;
    t->share = NULL;
    free(t->sockets);
    t->sockets = NULL;
    t->n_sockets = t->cap_sockets = 0;
    free(t->open_sockets);   /* empty now: the cleanup closed them */
    t->open_sockets = NULL;
    t->n_open_sockets = t->cap_open_sockets = 0;
    t->timer_deadline = -1.0;
    free((char *)t->config.proxy);
    free((char *)t->config.ca_file);
    free((char *)t->config.ca_path);
    t->config.proxy = t->config.ca_file = t->config.ca_path = NULL;
}

struct curl_slist *transport_header_list(const char *const *lines, const size_t *lens, size_t n,
                                         size_t *bad_line) {
    struct curl_slist *list = NULL, *next;
    int has_content_type = 0;
    size_t i;
    *bad_line = 0;
    for (i = 0; i < n; i++) {
        if (!transport_header_line_ok(lines[i], lens ? lens[i] : strlen(lines[i]))) {
            *bad_line = i + 1;
            goto fail;
        }
        if (strncasecmp(lines[i], "content-type:", 13) == 0) has_content_type = 1;
        if ((next = curl_slist_append(list, lines[i])) == NULL) goto fail;
        list = next;
    }
    /* A request without a body type of ours must not claim to be a form (a
     * POST); for other methods libcurl adds none anyway. */
    if (!has_content_type) {
        if ((next = curl_slist_append(list, "Content-Type:")) == NULL) goto fail;
        list = next;
    }
    return list;
fail:
    curl_slist_free_all(list);
    return NULL;
}

/* The bodies up to this size never get libcurl's "Expect: 100-continue"
 * (7.88 adds it past 1 MiB, older releases past 1 KiB): their requests send
 * the header list as it is; a larger body's request sends a copy of it
 * with "Expect:", which turns that round trip off. Checking the list costs
 * libcurl work per entry on every request, so the entry is only there when
 * it does something. */
#define EXPECT_FREE_MAX 1024

static struct curl_slist *copy_with_expect_off(const struct curl_slist *list) {
    struct curl_slist *copy = NULL, *next;
    for (; list != NULL; list = list->next) {
        if ((next = curl_slist_append(copy, list->data)) == NULL) goto fail;
        copy = next;
    }
    if ((next = curl_slist_append(copy, "Expect:")) == NULL) goto fail;
    return next;
fail:
    curl_slist_free_all(copy);
    return NULL;
}

void transfer_release(transfer_t *x) {
    /* In a forked child, its transport's check ends x (and every other
     * inherited transfer) without touching the parent's connection. */
    if (x->owner != NULL) transport_check_fork(x->owner);
    detach(x);
    buffer_free(&x->body);
    buffer_free(&x->header_block);
    x->state = TRANSFER_IDLE;
}

/* The name of an easy option, for the message when libcurl refuses it. */
#define EASY_SET(opt, value)                                              \
    do {                                                                  \
        if (rc == CURLE_OK) {                                             \
            rc = curl_easy_setopt(e, opt, value);                         \
            if (rc != CURLE_OK) refused = #opt;                           \
        }                                                                 \
    } while (0)

transport_status_t transfer_start(transport_t *t, transfer_t *x, const transport_request_t *req,
                                  char *message, size_t message_size) {
    const transport_config_t *c = &t->config;
    CURL *e;
    CURLcode rc = CURLE_OK;
    CURLMcode mrc;
    const char *refused = NULL;

    transfer_release(x);
    x->result = CURLE_OK;
    x->status = 0;
    x->max_body = c->max_body;
    x->body_too_large = x->headers_too_large = x->out_of_memory = 0;
    x->stalled = x->cancelled = x->forked = x->in_headers = 0;
    x->stall_timeout_ms = c->stall_timeout_ms;
    x->last_progress = transport_now();
    x->uploaded = 0;
    x->errbuf[0] = '\0';

    if (transport_check_fork(t) != 0 || (t->multi == NULL && open_handles(t) != 0)) {
        snprintf(message, message_size, "out of memory starting a request");
        return TRANSPORT_NO_MEMORY;
    }
    /* Defence in depth: whatever the caller checked, no header line with a
     * line break (or another control byte) goes on the wire. A prepared
     * list was checked when it was made. */
    if (req->header_list == NULL) {
        size_t bad_line;
        x->header_list = transport_header_list(req->headers, NULL, req->n_headers, &bad_line);
        if (x->header_list == NULL) {
            if (bad_line == 0) {
                snprintf(message, message_size, "out of memory starting a request");
                return TRANSPORT_NO_MEMORY;
            }
            snprintf(message, message_size, "header line %lu holds a control character",
                     (unsigned long)bad_line);
            return TRANSPORT_INVALID_REQUEST;
        }
    }
    if (req->body != NULL && req->body_len > EXPECT_FREE_MAX) {
        struct curl_slist *own = x->header_list;
        x->header_list = copy_with_expect_off(own != NULL ? own : req->header_list);
        curl_slist_free_all(own);
        if (x->header_list == NULL) {
            snprintf(message, message_size, "out of memory starting a request");
            return TRANSPORT_NO_MEMORY;
        }
    }

    /* A fresh easy handle per transfer: the multi handle's cache keeps the
     * connections, and no state leaks from one answer into the next (libcurl
     * 7.88 reads freed memory when an answer starts with a folded header
     * line on a reused easy handle). */
    e = curl_easy_init();
    if (e == NULL) {
        transfer_release(x);
        snprintf(message, message_size, "out of memory starting a request");
        return TRANSPORT_NO_MEMORY;
    }
    x->easy = e;
    EASY_SET(CURLOPT_PRIVATE, (char *)x);
    EASY_SET(CURLOPT_SHARE, t->share);
    EASY_SET(CURLOPT_NOSIGNAL, 1L);   /* never raise SIGALRM in the host */
    EASY_SET(CURLOPT_ERRORBUFFER, x->errbuf);
    EASY_SET(CURLOPT_WRITEFUNCTION, on_body);
    EASY_SET(CURLOPT_WRITEDATA, x);
    EASY_SET(CURLOPT_HEADERFUNCTION, on_header);
    EASY_SET(CURLOPT_HEADERDATA, x);
    if (x->stall_timeout_ms > 0) {   /* progress is only watched for stalls */
        EASY_SET(CURLOPT_XFERINFOFUNCTION, on_progress);
        EASY_SET(CURLOPT_XFERINFODATA, x);
        EASY_SET(CURLOPT_NOPROGRESS, 0L);
    }
    EASY_SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    EASY_SET(CURLOPT_OPENSOCKETDATA, t);
    EASY_SET(CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    EASY_SET(CURLOPT_CLOSESOCKETDATA, t);
#if LIBCURL_VERSION_NUM >= 0x075500
    EASY_SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    EASY_SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    EASY_SET(CURLOPT_FOLLOWLOCATION, 0L);
    EASY_SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    EASY_SET(CURLOPT_PIPEWAIT, 1L);   /* prefer multiplexing over a new connection */
    EASY_SET(CURLOPT_TCP_KEEPALIVE, 1L);
    EASY_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
    if (c->connect_timeout_ms > 0) EASY_SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    if (c->proxy != NULL) {
        EASY_SET(CURLOPT_PROXY, c->proxy);
    } else if (c->no_proxy_at_all) {
        /* "" disables proxies: libcurl then reads no variable per request. */
        EASY_SET(CURLOPT_PROXY, "");
        EASY_SET(CURLOPT_NOPROXY, "");
    }
    if (c->ca_file != NULL) EASY_SET(CURLOPT_CAINFO, c->ca_file);
    if (c->ca_path != NULL) EASY_SET(CURLOPT_CAPATH, c->ca_path);
    if (c->insecure_skip_tls_verify) {
        EASY_SET(CURLOPT_SSL_VERIFYPEER, 0L);
        EASY_SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }

    EASY_SET(CURLOPT_URL, req->url);
    EASY_SET(CURLOPT_HTTPHEADER, x->header_list ? x->header_list : (struct curl_slist *)req->header_list);
    if (req->timeout_ms > 0) EASY_SET(CURLOPT_TIMEOUT_MS, req->timeout_ms);
    switch (req->method) {
    case METHOD_POST:
        EASY_SET(CURLOPT_POST, 1L);
        if (req->body != NULL) {
            EASY_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            EASY_SET(CURLOPT_COPYPOSTFIELDS, req->body);   /* the Lua string may go */
        } else {
            EASY_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
            EASY_SET(CURLOPT_POSTFIELDS, "");
        }
        break;
    case METHOD_DELETE:
        EASY_SET(CURLOPT_CUSTOMREQUEST, "DELETE");
        break;
    default:
        break;
    }
    if (rc != CURLE_OK) {
        transfer_release(x);
        if (rc == CURLE_OUT_OF_MEMORY) {
            snprintf(message, message_size, "out of memory starting a request");
            return TRANSPORT_NO_MEMORY;
        }
        /* libcurl takes no string option over 8 MB (CURL_MAX_INPUT_LENGTH). */
        if (strcmp(refused, "CURLOPT_URL") == 0 && rc == CURLE_BAD_FUNCTION_ARGUMENT)
            snprintf(message, message_size, "the URL is %lu bytes, longer than libcurl accepts",
                     (unsigned long)strlen(req->url));
        else
            snprintf(message, message_size, "libcurl refused %s: %s", refused + 8,
                     curl_easy_strerror(rc));
        return TRANSPORT_INVALID_REQUEST;
    }

    mrc = curl_multi_add_handle(t->multi, e);
    if (mrc != CURLM_OK) {
        transfer_release(x);
        snprintf(message, message_size, "could not start the request: %s", curl_multi_strerror(mrc));
        return mrc == CURLM_OUT_OF_MEMORY ? TRANSPORT_NO_MEMORY : TRANSPORT_INVALID_REQUEST;
    }
    x->owner = t;
    x->prev = NULL;
    x->next = t->running;
    if (t->running) t->running->prev = x;
    t->running = x;
    t->n_running++;
    x->state = TRANSFER_RUNNING;
    return TRANSPORT_OK;
}
#undef EASY_SET

/* Moves the transfers libcurl has finished to TRANSFER_DONE. */
static void collect_finished(transport_t *t) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(t->multi, &left)) != NULL) {
        transfer_t *x = NULL;
        if (msg->msg != CURLMSG_DONE) continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x == NULL) continue;
        x->result = msg->data.result;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
        detach(x);   /* msg is invalid from here on */
        x->state = TRANSFER_DONE;
    }
}

/* Stall detection, done here rather than with libcurl's LOW_SPEED options
 * (which average over several seconds, so a few early bytes hide a stall):
 * a transfer whose last byte came stall_timeout ago is ended as timed out.
 * Returns the milliseconds until the next such deadline (-1: none). */
static long end_stalled(transport_t *t) {
    double now = transport_now(), next = -1.0;
    transfer_t *x = t->running, *following;
    for (; x != NULL; x = following) {
        double deadline;
        following = x->next;
        if (x->stall_timeout_ms <= 0) continue;
        deadline = x->last_progress + (double)x->stall_timeout_ms / 1000.0;
        if (now >= deadline) {
            detach(x);
            x->result = CURLE_OPERATION_TIMEDOUT;
            x->stalled = 1;
            x->state = TRANSFER_DONE;
        } else if (next < 0 || deadline < next) {
            next = deadline;
        }
    }
    return next < 0 ? -1 : (long)((next - now) * 1000.0) + 1;
}

/* Runs libcurl's timer if it is due. */
static void run_due_timer(transport_t *t) {
    int running;
    if (t->timer_deadline >= 0 && transport_now() >= t->timer_deadline) {
        t->timer_deadline = -1.0;   /* on_timer sets the next one */
        curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

#define STACK_POLLFDS 64

void transport_drive(transport_t *t, long wait_ms) {
    struct pollfd stack_fds[STACK_POLLFDS], *fds = stack_fds;
    int i, n, ready, running;
    long timeout = wait_ms;

    long until_stall;

    if (transport_check_fork(t) != 0 || t->multi == NULL) return;
    if (timeout > TRANSPORT_MAX_WAIT_MS) timeout = TRANSPORT_MAX_WAIT_MS;
    run_due_timer(t);
    collect_finished(t);
    until_stall = end_stalled(t);
    if (t->n_running == 0) return;

    /* Wait for a socket, or until the timer or a stall deadline is due, or
     * wait_ms. */
    if (until_stall >= 0 && until_stall < timeout) timeout = until_stall;
    if (t->timer_deadline >= 0) {
        double left_ms = (t->timer_deadline - transport_now()) * 1000.0;
        long until_timer = left_ms <= 0 ? 0 : (long)left_ms + 1;
        if (until_timer < timeout) timeout = until_timer;
    }
    n = t->n_sockets;
    if (n > STACK_POLLFDS) {
        fds = malloc((size_t)n * sizeof *fds);
        if (fds == NULL) {   /* cannot wait on them: just run what is due */
            fds = stack_fds;
            n = 0;
        }
    }
    for (i = 0; i < n; i++) {
        fds[i].fd = t->sockets[i].fd;
        fds[i].events = (short)(((t->sockets[i].what & CURL_POLL_IN) ? POLLIN : 0) |
                                ((t->sockets[i].what & CURL_POLL_OUT) ? POLLOUT : 0));
        fds[i].revents = 0;
    }
    ready = poll(fds, (nfds_t)n, (int)(timeout > 0 ? timeout : 0));
    /* The callbacks may change t->sockets meanwhile: act on this copy. */
    for (i = 0; ready > 0 && i < n; i++) {
        int flags = 0;
        if (fds[i].revents == 0) continue;
        if (fds[i].revents & (POLLIN | POLLHUP)) flags |= CURL_CSELECT_IN;
        if (fds[i].revents & POLLOUT) flags |= CURL_CSELECT_OUT;
        if (fds[i].revents & (POLLERR | POLLNVAL)) flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(t->multi, fds[i].fd, flags, &running);
        ready--;
    }
    if (fds != stack_fds) free(fds);
    run_due_timer(t);
    collect_finished(t);
    end_stalled(t);
}

long transport_timeout_ms(transport_t *t) {
    double left_ms;
    if (transport_check_fork(t) != 0 || t->multi == NULL || t->timer_deadline < 0) return -1;
    left_ms = (t->timer_deadline - transport_now()) * 1000.0;
    return left_ms <= 0 ? 0 : (long)left_ms + 1;
}

transport_status_t transfer_outcome(const transfer_t *x, long *status,
                                    char *message, size_t message_size) {
    size_t n;
    *status = x->status;
    message[0] = '\0';
    if (x->result == CURLE_OK) return TRANSPORT_OK;
    if (x->forked) {
        snprintf(message, message_size, "the process forked while the request ran (a child "
                 "never uses its parent's connections)");
        return TRANSPORT_CONNECTION;
    }
    /* libcurl 7.88 reports a header line over its own limit (100 KiB) as
     * out of memory: while reading headers, that is what it means. */
    if (x->headers_too_large ||
        (x->result == CURLE_OUT_OF_MEMORY && x->in_headers && !x->out_of_memory)) {
        snprintf(message, message_size, LIMITS_HEAD_TOO_LARGE, (unsigned long)TRANSPORT_HEADER_BLOCK_MAX);
        return TRANSPORT_TOO_LARGE;
    }
    if (x->body_too_large || x->result == CURLE_FILESIZE_EXCEEDED) {
        snprintf(message, message_size, "response body larger than the limit of %lu bytes",
                 (unsigned long)x->max_body);
        return TRANSPORT_TOO_LARGE;
    }
    if (x->cancelled) {
        snprintf(message, message_size, "the client was closed");
        return TRANSPORT_CANCELLED;
    }
    if (x->stalled) {
        snprintf(message, message_size, "no data sent or received for %ld ms (stall_timeout)",
                 x->stall_timeout_ms);
        return TRANSPORT_TIMEOUT;
    }
    if (x->out_of_memory || x->result == CURLE_OUT_OF_MEMORY) {
        snprintf(message, message_size, "out of memory reading the response");
        return TRANSPORT_NO_MEMORY;
    }
    /* libcurl's own detail when it gave one, else the code's description. */
    snprintf(message, message_size, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result));
    n = strlen(message);
    while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r')) message[--n] = '\0';
    /* Whatever the server sent is never a usage error: libcurl also says
     * "unsupported protocol" for an answer with an unknown HTTP version. */
    return x->result == CURLE_OPERATION_TIMEDOUT ? TRANSPORT_TIMEOUT : TRANSPORT_CONNECTION;
}

int transfer_tls_certificate_failed(const transfer_t *x) {
    switch (x->result) {
    case CURLE_PEER_FAILED_VERIFICATION:   /* chain, name, dates (with OpenSSL) */
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ISSUER_ERROR:           /* CURLOPT_ISSUERCERT mismatch */
    case CURLE_SSL_INVALIDCERTSTATUS:      /* OCSP stapling: revoked */
        return !x->forked && !x->cancelled;
    default:
        return 0;
    }
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int transfer_next_header(const transfer_t *x, size_t *pos,
                         const char **name, size_t *name_len,
                         const char **value, size_t *value_len) {
    return transport_next_header(x->header_block.data, x->header_block.len, pos,
                                 name, name_len, value, value_len);
}

int transport_next_header(const char *block, size_t len, size_t *pos,
                          const char **name, size_t *name_len,
                          const char **value, size_t *value_len) {
    while (*pos < len) {
        const char *line = block + *pos;
        const char *end = memchr(line, '\n', len - *pos);
        const char *colon, *v, *ve;
        size_t line_len = end ? (size_t)(end - line) + 1 : len - *pos;
        *pos += line_len;
        if (is_space(line[0])) continue;                /* blank or folded line */
        colon = memchr(line, ':', line_len);
        if (colon == NULL || colon == line) continue;   /* malformed line */
        v = colon + 1;
        ve = line + line_len;
        while (v < ve && is_space(*v)) v++;
        while (ve > v && is_space(ve[-1])) ve--;
        *name = line;
        *name_len = (size_t)(colon - line);
        *value = v;
        *value_len = (size_t)(ve - v);
        return 1;
    }
    return 0;
}
