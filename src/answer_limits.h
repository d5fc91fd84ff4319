/* The limits and texts that both transports share, in one place: the
 * libcurl transport (transport.c) and the cosocket transport's answer
 * parser (http_response.c) bound an answer's head alike and say so in the
 * same words. Pure C. */
#ifndef ANTHROPIC_ENVIRONMENTS_ANSWER_LIMITS_H
#define ANTHROPIC_ENVIRONMENTS_ANSWER_LIMITS_H

/* Bytes of an answer's head (status line and header lines of the final
 * answer) at most; over it the call fails as `decode`. */
#define LIMITS_HEAD_MAX (64 * 1024)

/* The failure's message, given the bound (as unsigned long). */
#define LIMITS_HEAD_TOO_LARGE "response headers over %lu bytes"

#endif
