/* A bounded, incremental parser of one HTTP/1.x answer, for transports that
 * read the bytes themselves (the cosocket transport inside nginx): the
 * status line, the header block, and a body framed by Content-Length, by
 * chunked transfer coding or by the end of the connection.
 *
 * Every input is bounded: one line (status, header, chunk size, trailer)
 * by max_line, the head (status line and headers, and the trailers apart)
 * by max_head, the body by max_body. The parser never reads past what it
 * was given and never allocates more than those bounds allow, so feeding it
 * anything in pieces of any size ends in HR_MORE, HR_DONE or an error.
 *
 * Pure C: no Lua here (the binding is http_response_lua.c). */
#ifndef ANTHROPIC_ENV_HTTP_RESPONSE_H
#define ANTHROPIC_ENV_HTTP_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "answer_limits.h"

typedef enum {
    HR_MORE = 0,          /* needs more bytes */
    HR_DONE = 1,          /* the answer is complete */
    HR_ERROR = -1,        /* not a valid answer (message says why) */
    HR_TOO_LARGE = -2,    /* the body is over max_body, or the head (a line
                             of it too) over max_head */
    HR_NO_MEMORY = -3
} hr_status_t;

typedef struct {
    size_t max_line;      /* bytes of one line, CRLF included */
    size_t max_head;      /* bytes of the head; also of the trailers */
    size_t max_body;      /* bytes of the body (0: it must be empty) */
} hr_limits_t;

typedef struct {
    hr_limits_t limits;
    int state;            /* private */
    hr_status_t result;   /* HR_MORE until done or failed */
    int status;           /* of the final answer; 0 until its status line */
    int version_minor;    /* HTTP/1.x */
    int keep_alive;       /* the connection may carry another exchange */
    int chunked, has_length, coded, saw_bytes;
    int extra;            /* bytes came after the end of the answer */
    int ambiguous;        /* a 1xx, 204 or 304 announced a body (a length or a
                             coding): what follows it on the connection is
                             not to be trusted */
    uint64_t length;      /* Content-Length */
    uint64_t remaining;   /* bytes left of the body or of the chunk */
    size_t head_bytes;    /* bytes of the head (or trailers) so far */
    buffer_t line;     /* the line being read */
    buffer_t head;     /* "name: value\n" lines of the final answer */
    buffer_t body;
    char message[160];
} http_response_t;

/* Limits of the answers of the cosocket transport. */
#define HR_DEFAULT_MAX_LINE (64 * 1024)
/* As the libcurl transport (answer_limits.h): a head over it is HR_TOO_LARGE,
 * "response headers over 65536 bytes". */
#define HR_DEFAULT_MAX_HEAD LIMITS_HEAD_MAX

void http_response_init(http_response_t *r, const hr_limits_t *limits);
/* Frees the buffers; the parser may be initialised again. */
void http_response_free(http_response_t *r);

/* Parses up to len bytes. *consumed gets how many were used: all of them
 * unless the answer ended (HR_DONE) before their end, when the rest belongs
 * to no answer. After HR_DONE or an error, nothing more is consumed. */
hr_status_t http_response_feed(http_response_t *r, const char *data, size_t len, size_t *consumed);

/* The connection ended (the peer closed it): HR_DONE for a body read to
 * the end of the connection, an error for anything cut short. */
hr_status_t http_response_eof(http_response_t *r);

/* How many bytes to ask the connection for next: what remains of a body or
 * chunk of known length (at most `cap`), else `cap`; 0 once done or failed. */
size_t http_response_want(const http_response_t *r, size_t cap);

/* 1 when the answer ended with its framing (length or last chunk), no
 * extra bytes came after it, no 1xx, 204 or 304 on the way announced a
 * body it did not send (its framing is ambiguous: the bytes may still come)
 * and the connection is to be kept alive. */
int http_response_reusable(const http_response_t *r);

/* Iterates over the header lines of the final answer: returns 1 and sets
 * name/value (not NUL-terminated, value trimmed) for each, 0 at the end.
 * *pos starts at 0. */
int http_response_next_header(const http_response_t *r, size_t *pos,
                              const char **name, size_t *name_len,
                              const char **value, size_t *value_len);

#endif
