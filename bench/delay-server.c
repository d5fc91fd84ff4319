/* A delaying stand-in for the Environments API, for `make bench` section 3:
 * every POST /v1/environments/<id>/archive is answered, DELAY_MS after it
 * arrived, with the reference page's example environment carrying that id.
 *
 * Why not the bundled fake or a Node.js server: at 64 connections with a
 * 20 ms delay, fake/server.lua tops out near 2,100 answers/s and a Node.js
 * http server near 2,500-2,800/s on this 2-core machine, when concurrency 64
 * needs 3,200/s: they would measure themselves, not the clients. This one
 * spends a few microseconds per request.
 *
 * One thread, epoll, non-blocking sockets, HTTP/1.1 keep-alive. Every delay
 * is the same, so requests fall due in arrival order: a FIFO is the whole
 * timer queue, and epoll_pwait2 (Linux 5.11, glibc 2.35) its clock. Binds
 * 127.0.0.1 only.
 *
 *   delay-server EXAMPLE_JSON DELAY_MS WATCH_PID
 * prints "listening 127.0.0.1 <port> <pid>" and exits when WATCH_PID is gone
 * or on SIGTERM. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define IN_MAX 16384
#define QUEUE_MAX (MAX_CONNS * 4)

typedef struct {
    int fd;
    size_t in_len;
    int waiting;              /* a request is queued: read no further */
    unsigned generation;      /* bumped on close, so stale queue entries are skipped */
    char in[IN_MAX];
} conn_t;

typedef struct {
    long long due_us;         /* never answered before: epoll waits round up */
    int fd;
    unsigned generation;
    int status;               /* 200 or 404 */
    char id[128];
} pending_t;

static conn_t *conns[MAX_CONNS];
static pending_t queue[QUEUE_MAX];
static size_t q_head, q_len;
static char *body_before, *body_after;   /* the example, split around its id */
static size_t before_len, after_len;
static long long delay_ms;

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *s;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
    fclose(f);
    if (s) { s[n] = '\0'; *len = (size_t)n; }
    return s;
}

/* Splits the example around the value of its "id" field. */
static int load_example(const char *path) {
    size_t len;
    char *s = read_file(path, &len), *key, *open, *close;
    if (!s) return -1;
    key = strstr(s, "\"id\"");
    open = key ? strchr(key + 4, '"') : NULL;
    close = open ? strchr(open + 1, '"') : NULL;
    if (!close) return -1;
    body_before = s;
    before_len = (size_t)(open + 1 - s);
    body_after = close;
    after_len = len - (size_t)(close - s);
    return 0;
}

static void close_conn(int epfd, conn_t *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->generation++;
    c->in_len = 0;
    c->waiting = 0;
}

/* Ids are [A-Za-z0-9_-]: anything else is a 404, and nothing needs escaping. */
static int plain_id(const char *s, size_t n) {
    size_t i;
    if (n == 0 || n >= sizeof queue[0].id) return 0;
    for (i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

/* Looks for one whole request in c->in; queues its answer. Returns 1 if one
 * was queued, 0 if more bytes are needed, -1 on a request to refuse. */
static int take_request(conn_t *c) {
    static const char prefix[] = "POST /v1/environments/";
    static const char suffix[] = "/archive HTTP/1.1\r\n";
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4), *id, *slash;
    size_t head_len, body_len = 0;
    pending_t *p;
    const char *cl;
    if (!end) return c->in_len == IN_MAX ? -1 : 0;
    head_len = (size_t)(end + 4 - c->in);
    cl = memmem(c->in, head_len, "\r\ncontent-length:", 17);
    if (!cl) cl = memmem(c->in, head_len, "\r\nContent-Length:", 17);
    if (cl) body_len = strtoul(cl + 17, NULL, 10);
    if (body_len > IN_MAX - head_len) return -1;
    if (c->in_len < head_len + body_len) return 0;
    if (q_len == QUEUE_MAX) return -1;

    p = &queue[(q_head + q_len) % QUEUE_MAX];
    p->due_us = now_us() + delay_ms * 1000;
    p->fd = c->fd;
    p->generation = c->generation;
    p->status = 404;
    p->id[0] = '\0';
    if (c->in_len > sizeof prefix && memcmp(c->in, prefix, sizeof prefix - 1) == 0) {
        id = c->in + sizeof prefix - 1;
        slash = memchr(id, '/', head_len - (size_t)(id - c->in));
        if (slash && plain_id(id, (size_t)(slash - id)) &&
            (size_t)(end - slash) >= sizeof suffix - 1 && memcmp(slash, suffix, sizeof suffix - 1) == 0) {
            memcpy(p->id, id, (size_t)(slash - id));
            p->id[slash - id] = '\0';
            p->status = 200;
        }
    }
    q_len++;
    memmove(c->in, c->in + head_len + body_len, c->in_len - head_len - body_len);
    c->in_len -= head_len + body_len;
    c->waiting = 1;
    return 1;
}

static void answer(int epfd, const pending_t *p, unsigned long serial) {
    static char out[IN_MAX + 1024];
    conn_t *c = (p->fd >= 0 && p->fd < MAX_CONNS) ? conns[p->fd] : NULL;
    size_t n, id_len;
    ssize_t w;
    if (!c || c->fd != p->fd || c->generation != p->generation) return;   /* closed since */
    if (p->status == 200) {
        id_len = strlen(p->id);
        n = (size_t)snprintf(out, sizeof out,
                             "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             "request-id: req_delay_%lu\r\ncontent-length: %zu\r\n\r\n",
                             serial, before_len + id_len + after_len);
        memcpy(out + n, body_before, before_len);
        memcpy(out + n + before_len, p->id, id_len);
        memcpy(out + n + before_len + id_len, body_after, after_len);
        n += before_len + id_len + after_len;
    } else {
        static const char nf[] = "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"no route\"}}";
        n = (size_t)snprintf(out, sizeof out,
                             "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n"
                             "content-length: %zu\r\n\r\n%s", sizeof nf - 1, nf);
    }
    /* Under 2 KB into an idle connection's empty send buffer: one write. */
    w = send(c->fd, out, n, MSG_NOSIGNAL);
    if (w != (ssize_t)n) {
        close_conn(epfd, c);
        return;
    }
    c->waiting = 0;
    if (take_request(c) < 0) close_conn(epfd, c);   /* a request that came early */
}

static void on_readable(int epfd, conn_t *c) {
    for (;;) {
        ssize_t r;
        if (c->in_len == IN_MAX) { close_conn(epfd, c); return; }
        r = recv(c->fd, c->in + c->in_len, IN_MAX - c->in_len, 0);
        if (r > 0) { c->in_len += (size_t)r; continue; }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            close_conn(epfd, c);
            return;
        }
        if (errno == EINTR) continue;
        break;
    }
    if (!c->waiting && take_request(c) < 0) close_conn(epfd, c);
}

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
    struct sockaddr_in addr;
    socklen_t addr_len = sizeof addr;
    struct epoll_event ev, events[256];
    int lfd, epfd, one = 1;
    pid_t watched;
    long long last_watch = 0;
    unsigned long serial = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: %s EXAMPLE_JSON DELAY_MS WATCH_PID\n", argv[0]);
        return 2;
    }
    if (load_example(argv[1]) != 0) {
        fprintf(stderr, "cannot read an example with an \"id\" from %s\n", argv[1]);
        return 1;
    }
    delay_ms = atoll(argv[2]);
    watched = (pid_t)atol(argv[3]);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 1024) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &addr_len) != 0) {
        perror("delay-server: listen");
        return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    printf("listening 127.0.0.1 %d %d\n", ntohs(addr.sin_port), (int)getpid());
    fflush(stdout);

    while (!stop) {
        long long now = now_us(), timeout_us = 500000;
        struct timespec timeout;
        int n, i;
        /* Answer everything that is due. */
        while (q_len > 0 && queue[q_head].due_us <= now) {
            answer(epfd, &queue[q_head], ++serial);
            q_head = (q_head + 1) % QUEUE_MAX;
            q_len--;
        }
        if (q_len > 0 && queue[q_head].due_us - now < timeout_us) timeout_us = queue[q_head].due_us - now;
        timeout.tv_sec = (time_t)(timeout_us / 1000000);
        timeout.tv_nsec = (long)(timeout_us % 1000000) * 1000;
        if (now - last_watch >= 500000) {
            last_watch = now;
            if (watched > 0 && kill(watched, 0) != 0 && errno == ESRCH) break;
        }
        /* epoll_pwait2 waits to the microsecond (epoll_wait's whole
         * milliseconds would add half a millisecond to every answer). */
        n = epoll_pwait2(epfd, events, 256, &timeout, NULL);
        for (i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int cfd;
                while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    conn_t *c;
                    if (cfd >= MAX_CONNS) { close(cfd); continue; }
                    c = conns[cfd];
                    if (!c && !(c = conns[cfd] = calloc(1, sizeof *c))) { close(cfd); continue; }
                    c->fd = cfd;
                    c->in_len = 0;
                    c->waiting = 0;
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ev.events = EPOLLIN;
                    ev.data.fd = cfd;
                    epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &ev);
                }
            } else if (fd >= 0 && fd < MAX_CONNS && conns[fd] && conns[fd]->fd == fd) {
                on_readable(epfd, conns[fd]);
            }
        }
    }
    return 0;
}
