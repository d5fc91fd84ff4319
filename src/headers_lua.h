/* Header lines made once (core.headers), shared by any number of requests:
 * counted, so that a request still running keeps its list even when the
 * Lua object that made it is collected first. */
#ifndef ANTHROPIC_ENV_HEADERS_LUA_H
#define ANTHROPIC_ENV_HEADERS_LUA_H

#include <curl/curl.h>

#define HEADERS_MT "anthropic.environments.core.headers"

typedef struct {
    struct curl_slist *list;
    int refs;                     /* the Lua object's, plus one per request */
} shared_headers_t;

typedef struct {
    shared_headers_t *shared;
} headers_ud_t;

/* Drops one reference (NULL: nothing); the last frees the list. */
void shared_headers_drop(shared_headers_t *h);

#endif
