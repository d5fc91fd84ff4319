/* A growable byte buffer: see buffer.h. */
#include <stdlib.h>
#include <string.h>

#include "buffer.h"

int buffer_append(buffer_t *b, const char *data, size_t n) {
    if (n == 0) return 0;
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

void buffer_free(buffer_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
