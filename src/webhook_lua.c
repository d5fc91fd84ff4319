/* The Lua binding of what libcrypto does for the Lua layer: webhook
 * verification (webhook.c, pure C: the verdict only; the key never reaches
 * Lua), and SHA-256 (a fixed-size digest of a long string). */
#include <openssl/evp.h>

#include "binding.h"
#include "webhook.h"

/* core.webhook_verify(secret, id, timestamp, body, signature_header)
 *   -> true  |  false, reason
 * reason: "malformed_secret", "no_signature", "bad_signature" or
 * "crypto_failed". Raises only when an argument is not a string. */
static int webhook_lua_verify(lua_State *L) {
    static const char *const reasons[] = {
        NULL, "malformed_secret", "no_signature", "bad_signature", "crypto_failed"
    };
    size_t secret_len, id_len, ts_len, body_len, header_len;
    const char *secret = luaL_checklstring(L, 1, &secret_len);
    const char *id = luaL_checklstring(L, 2, &id_len);
    const char *ts = luaL_checklstring(L, 3, &ts_len);
    const char *body = luaL_checklstring(L, 4, &body_len);
    const char *header = luaL_checklstring(L, 5, &header_len);
    webhook_result_t r = webhook_verify(secret, secret_len, id, id_len, ts, ts_len, body, body_len,
                                        header, header_len);
    if (r == WEBHOOK_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushstring(L, reasons[r]);
    return 2;
}

/* core.sha256(s) -> the 32 bytes of s's SHA-256  or  nil (libcrypto
 * failed: out of memory). */
static int core_sha256(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(s, len, md, &md_len, EVP_sha256(), NULL) != 1) return 0;
    lua_pushlstring(L, (const char *)md, md_len);
    return 1;
}

int webhook_lua_open(lua_State *L) {
    lua_pushcfunction(L, webhook_lua_verify);
    lua_setfield(L, -2, "webhook_verify");
    lua_pushcfunction(L, core_sha256);
    lua_setfield(L, -2, "sha256");
    return 0;
}
