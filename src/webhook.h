/* Standard Webhooks verification: HMAC-SHA256 through OpenSSL's libcrypto,
 * base64, and the signature header, compared in constant time. The decoded
 * key never leaves C (it is wiped after use); Lua sees only the verdict.
 *
 * Every input is bounded: the secret by WEBHOOK_MAX_SECRET, the header and
 * the body are read once, front to back, and the body is hashed in place
 * (never copied), so time is linear in the input and memory is constant. */
#ifndef ANTHROPIC_ENV_WEBHOOK_H
#define ANTHROPIC_ENV_WEBHOOK_H

#include <stddef.h>

/* Characters of base64 after the optional "whsec_" prefix; real secrets
 * are 32 to 64. */
#define WEBHOOK_MAX_SECRET 1024
#define WEBHOOK_MAX_KEY (WEBHOOK_MAX_SECRET / 4 * 3)
/* base64 of a SHA-256 MAC, padded: what follows "v1," in a header entry. */
#define WEBHOOK_SIG_B64_LEN 44

typedef enum {
    WEBHOOK_OK = 0,
    WEBHOOK_MALFORMED_SECRET,   /* empty, too long, or not base64 */
    WEBHOOK_NO_SIGNATURE,       /* the header has no "v1," entry */
    WEBHOOK_BAD_SIGNATURE,      /* v1 entries, none of them matches */
    WEBHOOK_CRYPTO_FAILED       /* libcrypto refused (out of memory, say) */
} webhook_result_t;

/* Decodes standard-alphabet base64 (padding optional, no whitespace) into
 * out. Returns 0 and sets *out_len, or -1 when the text is not base64 or
 * does not fit in out_cap bytes. Runs in time that depends only on in_len. */
int webhook_base64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_cap,
                          size_t *out_len);

/* Encodes in as padded standard base64 into out (no terminating NUL).
 * Returns the length written, or 0 when it does not fit in out_cap. */
size_t webhook_base64_encode(const unsigned char *in, size_t in_len, char *out, size_t out_cap);

/* The key of a secret "whsec_<base64>" or "<base64>". Returns 0 and sets
 * *key_len (at least 1), or -1 when the secret is malformed. */
int webhook_key_from_secret(const char *secret, size_t secret_len,
                            unsigned char key[WEBHOOK_MAX_KEY], size_t *key_len);

/* Whether a webhook-signature header (space-separated "v<n>,<base64>"
 * entries) holds "v1,<expected>": WEBHOOK_OK, WEBHOOK_NO_SIGNATURE or
 * WEBHOOK_BAD_SIGNATURE. Each candidate is compared in constant time. */
webhook_result_t webhook_match_header(const char *header, size_t header_len,
                                      const char expected[WEBHOOK_SIG_B64_LEN]);

/* The whole check: HMAC-SHA256(key, id "." timestamp "." body) against the
 * header's v1 entries. */
webhook_result_t webhook_verify(const char *secret, size_t secret_len,
                                const char *id, size_t id_len,
                                const char *timestamp, size_t timestamp_len,
                                const char *body, size_t body_len,
                                const char *header, size_t header_len);

#endif
