/* A growable byte buffer, for the transports' answers (transport.c,
 * http_response.c). Pure C. */
#ifndef ANTHROPIC_ENV_BUFFER_H
#define ANTHROPIC_ENV_BUFFER_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len, cap;
} buffer_t;

/* Appends n bytes (growing by doubling from 4 KiB). 0 on success, -1 when
 * out of memory or the size would overflow; b is unchanged then. */
int buffer_append(buffer_t *b, const char *data, size_t n);

/* Frees the bytes; b is empty and usable again. */
void buffer_free(buffer_t *b);

#endif
