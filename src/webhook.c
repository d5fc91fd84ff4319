/* Standard Webhooks verification (see webhook.h). The base64 code is
 * branch-free over the data, since it handles the secret and the expected
 * signature: its timing depends on lengths only. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "webhook.h"

#define SECRET_PREFIX "whsec_"
#define SECRET_PREFIX_LEN (sizeof SECRET_PREFIX - 1)
#define MAC_LEN 32

/* All ones when lo < c < hi, else zero, without a branch (|c|, |lo|, |hi|
 * are small, so the differences never overflow). */
static unsigned between(int c, int lo, int hi) {
    return 0u - ((unsigned)((lo - c) & (c - hi)) >> 31);
}

/* The 6-bit value of a base64 character, or -1. */
static int b64_value(unsigned char ch) {
    int c = ch;
    unsigned v = 0;   /* value + 1 for the range c falls in */
    v |= between(c, 'A' - 1, 'Z' + 1) & (unsigned)(c - 'A' + 1);
    v |= between(c, 'a' - 1, 'z' + 1) & (unsigned)(c - 'a' + 27);
    v |= between(c, '0' - 1, '9' + 1) & (unsigned)(c - '0' + 53);
    v |= between(c, '+' - 1, '+' + 1) & 63u;
    v |= between(c, '/' - 1, '/' + 1) & 64u;
    return (int)v - 1;
}

/* The base64 character of a 6-bit value. */
static char b64_char(unsigned value) {
    int x = (int)(value & 63u);
    unsigned r = 0;
    r |= between(x, -1, 26) & (unsigned)(x + 'A');
    r |= between(x, 25, 52) & (unsigned)(x - 26 + 'a');
    r |= between(x, 51, 62) & (unsigned)(x - 52 + '0');
    r |= between(x, 61, 63) & (unsigned)'+';
    r |= between(x, 62, 64) & (unsigned)'/';
    return (char)r;
}

int webhook_base64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_cap,
                          size_t *out_len) {
    size_t n = in_len, i, o = 0, need;
    unsigned acc = 0, bad = 0;
    int bits = 0;
    /* Padding only where a padded text has it: the last one or two of a
     * multiple of four characters. */
    if (n >= 4 && n % 4 == 0 && in[n - 1] == '=') {
        n--;
        if (in[n - 1] == '=') n--;
    }
    if (n % 4 == 1) return -1;
    need = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (need > out_cap) return -1;
    for (i = 0; i < n; i++) {
        int v = b64_value((unsigned char)in[i]);
        bad |= (unsigned)v >> 31;            /* v == -1 */
        acc = (acc << 6) | ((unsigned)v & 63u);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (bad) {
        OPENSSL_cleanse(out, o);
        return -1;
    }
    *out_len = o;
    return 0;
}

size_t webhook_base64_encode(const unsigned char *in, size_t in_len, char *out, size_t out_cap) {
    size_t i, o = 0, groups = in_len / 3 + (in_len % 3 != 0);
    if (groups > out_cap / 4) return 0;
    for (i = 0; i + 2 < in_len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_char(v >> 18);
        out[o++] = b64_char(v >> 12);
        out[o++] = b64_char(v >> 6);
        out[o++] = b64_char(v);
    }
    if (i < in_len) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < in_len) v |= (unsigned)in[i + 1] << 8;
        out[o++] = b64_char(v >> 18);
        out[o++] = b64_char(v >> 12);
        out[o++] = i + 1 < in_len ? b64_char(v >> 6) : '=';
        out[o++] = '=';
    }
    return o;
}

int webhook_key_from_secret(const char *secret, size_t secret_len,
                            unsigned char key[WEBHOOK_MAX_KEY], size_t *key_len) {
    if (secret_len >= SECRET_PREFIX_LEN && memcmp(secret, SECRET_PREFIX, SECRET_PREFIX_LEN) == 0) {
        secret += SECRET_PREFIX_LEN;
        secret_len -= SECRET_PREFIX_LEN;
    }
    if (secret_len == 0 || secret_len > WEBHOOK_MAX_SECRET) return -1;
    if (webhook_base64_decode(secret, secret_len, key, WEBHOOK_MAX_KEY, key_len) != 0) return -1;
    if (*key_len == 0) return -1;
    return 0;
}

webhook_result_t webhook_match_header(const char *header, size_t header_len,
                                      const char expected[WEBHOOK_SIG_B64_LEN]) {
    size_t i = 0;
    int seen_v1 = 0, matched = 0;
    while (i < header_len) {
        size_t start;
        while (i < header_len && header[i] == ' ') i++;
        start = i;
        while (i < header_len && header[i] != ' ') i++;
        if (i - start >= 3 && memcmp(header + start, "v1,", 3) == 0) {
            seen_v1 = 1;
            /* The length is public (always 44 for a real one); only the
             * content is compared, in constant time. */
            if (i - start == 3 + WEBHOOK_SIG_B64_LEN &&
                CRYPTO_memcmp(header + start + 3, expected, WEBHOOK_SIG_B64_LEN) == 0)
                matched = 1;
        }
    }
    if (matched) return WEBHOOK_OK;
    return seen_v1 ? WEBHOOK_BAD_SIGNATURE : WEBHOOK_NO_SIGNATURE;
}

/* HMAC-SHA256 over the pieces in order, without joining them. */
static int hmac_sha256(const unsigned char *key, size_t key_len, const char *const *parts,
                       const size_t *lens, int count, unsigned char out[MAC_LEN]) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    size_t out_len = 0;
    int ok, i;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = ctx != NULL && EVP_MAC_init(ctx, key, key_len, params) == 1;
    for (i = 0; ok && i < count; i++)
        ok = EVP_MAC_update(ctx, (const unsigned char *)parts[i], lens[i]) == 1;
    ok = ok && EVP_MAC_final(ctx, out, &out_len, MAC_LEN) == 1 && out_len == MAC_LEN;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? 0 : -1;
}

webhook_result_t webhook_verify(const char *secret, size_t secret_len,
                                const char *id, size_t id_len,
                                const char *timestamp, size_t timestamp_len,
                                const char *body, size_t body_len,
                                const char *header, size_t header_len) {
    unsigned char key[WEBHOOK_MAX_KEY], mac[MAC_LEN];
    char expected[WEBHOOK_SIG_B64_LEN];
    size_t key_len = 0;
    const char *parts[5];
    size_t lens[5];
    webhook_result_t result;

    if (webhook_key_from_secret(secret, secret_len, key, &key_len) != 0) return WEBHOOK_MALFORMED_SECRET;
    parts[0] = id;        lens[0] = id_len;
    parts[1] = ".";       lens[1] = 1;
    parts[2] = timestamp; lens[2] = timestamp_len;
    parts[3] = ".";       lens[3] = 1;
    parts[4] = body;      lens[4] = body_len;
    if (hmac_sha256(key, key_len, parts, lens, 5, mac) != 0) {
        result = WEBHOOK_CRYPTO_FAILED;
    } else {
        webhook_base64_encode(mac, MAC_LEN, expected, sizeof expected);
        result = webhook_match_header(header, header_len, expected);
    }
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(mac, sizeof mac);
    OPENSSL_cleanse(expected, sizeof expected);
    return result;
}
