/* The HTTP transport over libcurl's easy interface. See transport.h. */
#include "transport.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A response body that grew past this is not kept between calls: one large
 * answer should not pin its memory for the life of the client. */
#define KEEP_BUFFER_MAX (1024 * 1024)
/* libcurl caps single header lines itself; this bounds the whole block. */
#define HEADER_BLOCK_MAX (1024 * 1024)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result = CURLE_FAILED_INIT;

static void global_init_once(void) {
    global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int transport_global_init(void) {
    pthread_once(&global_once, global_init_once);
    return global_result == CURLE_OK ? 0 : -1;
}

static int buffer_append(buffer_t *b, const char *data, size_t n) {
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;
        while (cap - b->len < n) {
            if (cap > ((size_t)-1) / 2) return -1;
            cap *= 2;
        }
        p = realloc(b->data, cap);
        if (p == NULL) return -1;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

static void buffer_free(buffer_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static void buffer_reset(buffer_t *b) {
    if (b->cap > KEEP_BUFFER_MAX) buffer_free(b);
    b->len = 0;
}

/* libcurl callbacks: they only record; the caller reports after
 * curl_easy_perform has returned. Returning a short count aborts the
 * transfer (CURLE_WRITE_ERROR). */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
    transport_t *t = userdata;
    size_t n = size * nmemb;
    if (n > t->max_body - t->body.len) {
        t->body_too_large = 1;
        return 0;
    }
    if (buffer_append(&t->body, ptr, n) != 0) {
        t->out_of_memory = 1;
        return 0;
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata) {
    transport_t *t = userdata;
    size_t n = size * nmemb;
    /* A new status line starts a new response (after 100 Continue or a
     * proxy's CONNECT answer): only the final one's headers matter. */
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        t->header_block.len = 0;
        return n;
    }
    if (n > HEADER_BLOCK_MAX - t->header_block.len) return n;   /* drop the excess */
    if (buffer_append(&t->header_block, ptr, n) != 0) {
        t->out_of_memory = 1;
        return 0;
    }
    return n;
}

int transport_open(transport_t *t, const transport_config_t *config) {
    CURL *e;
    memset(t, 0, sizeof *t);
    if (transport_global_init() != 0) return -1;
    e = curl_easy_init();
    if (e == NULL) return -1;
    t->easy = e;
    t->max_body = config->max_body;

    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);   /* never raise SIGALRM in the host */
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)config->max_body);
    if (config->connect_timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, config->connect_timeout_ms);
    if (config->stall_timeout_s > 0) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, config->stall_timeout_s);
    }
    if (config->proxy != NULL) curl_easy_setopt(e, CURLOPT_PROXY, config->proxy);
    if (config->ca_file != NULL) curl_easy_setopt(e, CURLOPT_CAINFO, config->ca_file);
    if (config->ca_path != NULL) curl_easy_setopt(e, CURLOPT_CAPATH, config->ca_path);
    if (config->insecure_skip_tls_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return 0;
}

void transport_close(transport_t *t) {
    if (t->easy != NULL) {
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    buffer_free(&t->body);
    buffer_free(&t->header_block);
}

/* Header lines for one request: the caller's, plus lines that stop libcurl
 * from adding headers of its own that would misdescribe the request. */
static struct curl_slist *build_header_list(const transport_request_t *req, int *failed) {
    struct curl_slist *list = NULL, *next;
    int has_content_type = 0;
    size_t i;
    *failed = 0;
    for (i = 0; i < req->n_headers; i++) {
        if (strncasecmp(req->headers[i], "content-type:", 13) == 0) has_content_type = 1;
        next = curl_slist_append(list, req->headers[i]);
        if (next == NULL) goto fail;
        list = next;
    }
    /* No "Expect: 100-continue" round trip for our small bodies. */
    if ((next = curl_slist_append(list, "Expect:")) == NULL) goto fail;
    list = next;
    /* A POST without a body of ours must not claim to be a form. */
    if (req->method == METHOD_POST && !has_content_type) {
        if ((next = curl_slist_append(list, "Content-Type:")) == NULL) goto fail;
        list = next;
    }
    return list;
fail:
    curl_slist_free_all(list);
    *failed = 1;
    return NULL;
}

transport_status_t transport_perform(transport_t *t, const transport_request_t *req,
                                     long *status, char *message, size_t message_size) {
    CURL *e = t->easy;
    struct curl_slist *header_list;
    CURLcode rc;
    int failed;

    *status = 0;
    message[0] = '\0';
    buffer_reset(&t->body);
    buffer_reset(&t->header_block);
    t->body_too_large = t->out_of_memory = 0;
    t->errbuf[0] = '\0';

    header_list = build_header_list(req, &failed);
    if (failed) {
        snprintf(message, message_size, "out of memory building request headers");
        return TRANSPORT_NO_MEMORY;
    }

    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, header_list);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 0L);
    switch (req->method) {
    case METHOD_POST:
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, (char *)NULL);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        break;
    case METHOD_DELETE:
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
        break;
    default:
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, (char *)NULL);
        break;
    }

    rc = curl_easy_perform(e);

    /* The list and the body belong to this call only. */
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, (char *)NULL);
    curl_slist_free_all(header_list);

    if (rc == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
        return TRANSPORT_OK;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    if (t->body_too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(message, message_size, "response body larger than the limit of %lu bytes",
                 (unsigned long)t->max_body);
        return TRANSPORT_TOO_LARGE;
    }
    if (t->out_of_memory || rc == CURLE_OUT_OF_MEMORY) {
        snprintf(message, message_size, "out of memory reading the response");
        return TRANSPORT_NO_MEMORY;
    }
    /* libcurl's own detail when it gave one, else the code's description. */
    snprintf(message, message_size, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
    /* errbuf ends with a newline on some libcurl versions. */
    {
        size_t n = strlen(message);
        while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r')) message[--n] = '\0';
    }
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return TRANSPORT_TIMEOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return TRANSPORT_USAGE;
    default:
        return TRANSPORT_CONNECTION;
    }
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int transport_next_header(const transport_t *t, size_t *pos,
                          const char **name, size_t *name_len,
                          const char **value, size_t *value_len) {
    const char *block = t->header_block.data;
    size_t len = t->header_block.len;
    while (*pos < len) {
        const char *line = block + *pos;
        const char *end = memchr(line, '\n', len - *pos);
        const char *colon, *v, *ve;
        size_t line_len = end ? (size_t)(end - line) + 1 : len - *pos;
        *pos += line_len;
        colon = memchr(line, ':', line_len);
        if (colon == NULL || colon == line) continue;   /* blank or malformed line */
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
