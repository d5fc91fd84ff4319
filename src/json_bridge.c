/* The JSON bridge: decoding through a private lua-cjson instance, and an
 * encoder of our own for request bodies. See json_bridge.h. */
#include "json_bridge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

/* instance[name](arg) if the instance has that setting; older lua-cjson
 * releases lack some of them. */
static void configure(lua_State *L, int instance, const char *name, int is_boolean, int value) {
    lua_getfield(L, instance, name);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (is_boolean) lua_pushboolean(L, value);
    else lua_pushinteger(L, value);
    lua_call(L, 1, 0);
}

void json_bridge_new_instance(lua_State *L) {
    int instance;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    if (lua_pcall(L, 1, 1, 0) != 0)
        luaL_error(L, "anthropic.environments needs lua-cjson: %s", lua_tostring(L, -1));
    lua_getfield(L, -1, "new");
    if (!lua_isfunction(L, -1))
        luaL_error(L, "anthropic.environments needs lua-cjson 2.1 or later (cjson.new)");
    lua_call(L, 0, 1);
    lua_remove(L, -2);   /* the shared module */
    instance = lua_gettop(L);

    /* NaN, Infinity and hex numbers are not JSON. */
    configure(L, instance, "decode_invalid_numbers", 1, 0);
    configure(L, instance, "decode_max_depth", 0, JSON_MAX_DEPTH);
    /* OpenResty's lua-cjson can mark decoded arrays, so an empty array read
     * from the API encodes back as [] rather than {}. */
    configure(L, instance, "decode_array_with_array_mt", 1, 1);
}

int json_bridge_decode(lua_State *L, int decode_idx, int string_idx) {
    int ok;
    if (string_idx < 0 && string_idx > LUA_REGISTRYINDEX) string_idx = lua_gettop(L) + string_idx + 1;
    lua_pushvalue(L, decode_idx);
    lua_pushvalue(L, string_idx);
    ok = lua_pcall(L, 1, 1, 0) == 0;
    if (!ok && !lua_isstring(L, -1)) {
        lua_pop(L, 1);
        lua_pushliteral(L, "invalid JSON");
    }
    return ok;
}

/* ------------------------------------------------------------------------
 * Encoding.
 *
 * The walk runs inside lua_pcall (encode_worker) so that nothing it does can
 * unwind past json_bridge_encode: the only Lua errors possible in it are
 * memory errors. Everything it mallocs hangs off an encoder_t that lives in
 * json_bridge_encode's frame and is freed there on every path. Problems with
 * the value itself are not Lua errors: the walk records a message and
 * returns -1 up to the worker.
 * ---------------------------------------------------------------------- */

#define PATH_MAX_LEN 256

typedef struct {
    const char *s;
    size_t len;
} json_key_t;

typedef struct {
    char *data;
    size_t len, cap;
    json_key_t *keys;         /* a stack of key runs, one per open object */
    size_t n_keys, cap_keys;
    char path[PATH_MAX_LEN];  /* where the walk is, e.g. config.packages.pip[2] */
    size_t path_len;
    char message[PATH_MAX_LEN + 160];
    int failed;
    size_t max_len;           /* the most the text may hold; 0: no limit */
} encoder_t;

/* Stack indexes inside encode_worker: its arguments. */
enum { W_ENCODER = 1, W_VALUE, W_NULL, W_ARRAY_MT, W_CJSON_ARRAY_MT, W_CJSON_EMPTY_ARRAY_MT,
       W_CJSON_EMPTY_ARRAY, W_NARGS = W_CJSON_EMPTY_ARRAY };

static int fail(encoder_t *e, const char *fmt, const char *detail) {
    const char *where = e->path_len ? e->path : "(top level)";
    if (!e->failed) {
        size_t n = (size_t)snprintf(e->message, sizeof e->message, "%s: ", where);
        if (n < sizeof e->message) snprintf(e->message + n, sizeof e->message - n, fmt, detail);
    }
    e->failed = 1;
    return -1;
}

static int reserve(encoder_t *e, size_t n) {
    if (e->max_len != 0 && n > e->max_len - e->len) {
        /* Stop at once: a value whose tables are shared can stand for far
         * more text than it holds (2^k copies of a leaf at depth k). */
        char limit[64];
        snprintf(limit, sizeof limit, "the JSON text would be over %lu bytes", (unsigned long)e->max_len);
        return fail(e, "%s", limit);
    }
    if (n > e->cap - e->len) {
        size_t cap = e->cap ? e->cap : 256;
        char *p;
        while (cap - e->len < n) {
            if (cap > ((size_t)-1) / 2) return fail(e, "%s", "out of memory");
            cap *= 2;
        }
        p = realloc(e->data, cap);
        if (p == NULL) return fail(e, "%s", "out of memory");
        e->data = p;
        e->cap = cap;
    }
    return 0;
}

static int put(encoder_t *e, const char *s, size_t n) {
    if (reserve(e, n) != 0) return -1;
    memcpy(e->data + e->len, s, n);
    e->len += n;
    return 0;
}

#define PUT_LITERAL(e, lit) put((e), (lit), sizeof(lit) - 1)

/* RFC 8259: '"', '\\' and the control characters are escaped (DEL too, for
 * readability); everything else, bytes >= 0x80 included, goes out as is. */
static int put_string(encoder_t *e, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, run;
    if (PUT_LITERAL(e, "\"") != 0) return -1;
    while (i < len) {
        unsigned char c;
        for (run = i; run < len; run++) {
            c = (unsigned char)s[run];
            if (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) break;
        }
        if (run > i && put(e, s + i, run - i) != 0) return -1;
        if (run == len) break;
        c = (unsigned char)s[run];
        if (c == '"') {
            if (PUT_LITERAL(e, "\\\"") != 0) return -1;
        } else if (c == '\\') {
            if (PUT_LITERAL(e, "\\\\") != 0) return -1;
        } else {
            char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            if (put(e, u, sizeof u) != 0) return -1;
        }
        i = run + 1;
    }
    return PUT_LITERAL(e, "\"");
}

static int put_number(encoder_t *e, lua_State *L, int idx) {
    char buf[64];
    int n;
    lua_Number d;
#if LUA_VERSION_NUM >= 503
    if (lua_isinteger(L, idx)) {
        n = snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, idx));
        return put(e, buf, (size_t)n);
    }
#endif
    d = lua_tonumber(L, idx);
    if (d != d) return fail(e, "%s", "cannot encode NaN");
    if (d == HUGE_VAL || d == -HUGE_VAL) return fail(e, "%s", "cannot encode infinity");
    if (d == floor(d) && fabs(d) <= 9007199254740992.0) {
        /* An integral value JSON readers keep exactly: no fraction, no
         * exponent (and -0 as 0). */
        n = snprintf(buf, sizeof buf, "%lld", (long long)d);
    } else {
        int i;
        n = snprintf(buf, sizeof buf, "%.17g", (double)d);
        /* printf follows LC_NUMERIC, which a host may have changed: whatever
         * it used as the decimal point becomes '.'. */
        for (i = 0; i < n; i++) {
            char c = buf[i];
            if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E')) buf[i] = '.';
        }
    }
    if (n < 0 || (size_t)n >= sizeof buf) return fail(e, "%s", "cannot format a number");
    return put(e, buf, (size_t)n);
}

/* Appends ".key" (or "key" at the top) or "[i]" to the path; returns the
 * length to restore. A path too long to keep ends in "...". */
static size_t path_push(encoder_t *e, const char *key, size_t key_len, long index) {
    size_t saved = e->path_len, room = sizeof e->path - e->path_len;
    int n;
    if (key != NULL) {
        int shown = key_len > 64 ? 64 : (int)key_len;
        n = snprintf(e->path + e->path_len, room, "%s%.*s%s", e->path_len ? "." : "", shown, key,
                     key_len > 64 ? "..." : "");
    } else {
        n = snprintf(e->path + e->path_len, room, "[%ld]", index);
    }
    if (n < 0 || (size_t)n >= room) {
        e->path_len = sizeof e->path - 1;
        memcpy(e->path + e->path_len - 3, "...", 3);
    } else {
        e->path_len += (size_t)n;
    }
    return saved;
}

static void path_pop(encoder_t *e, size_t saved) {
    e->path_len = saved;
    e->path[saved] = '\0';
}

static int compare_keys(const void *a, const void *b) {
    const json_key_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c != 0) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int is_marker(lua_State *L, int mt, int marker) {
    return !lua_isnil(L, marker) && lua_rawequal(L, mt, marker);
}

static int encode_value(encoder_t *e, lua_State *L, int idx, int depth);

static int encode_array(encoder_t *e, lua_State *L, int idx, size_t n, int depth) {
    size_t i;
    if (PUT_LITERAL(e, "[") != 0) return -1;
    for (i = 1; i <= n; i++) {
        size_t saved;
        if (i > 1 && PUT_LITERAL(e, ",") != 0) return -1;
        lua_rawgeti(L, idx, (int)i);
        saved = path_push(e, NULL, 0, (long)i);
        if (encode_value(e, L, lua_gettop(L), depth + 1) != 0) return -1;
        path_pop(e, saved);
        lua_pop(L, 1);
    }
    return PUT_LITERAL(e, "]");
}

/* The table's n string keys are e->keys[base..base+n). */
static int encode_object(encoder_t *e, lua_State *L, int idx, size_t base, size_t n, int depth) {
    size_t i;
    qsort(e->keys + base, n, sizeof *e->keys, compare_keys);
    if (PUT_LITERAL(e, "{") != 0) return -1;
    for (i = 0; i < n; i++) {
        /* Nested objects push their keys above ours and may move the
         * array: read ours by index each time. */
        const char *key = e->keys[base + i].s;
        size_t key_len = e->keys[base + i].len, saved;
        if (i > 0 && PUT_LITERAL(e, ",") != 0) return -1;
        if (put_string(e, key, key_len) != 0 || PUT_LITERAL(e, ":") != 0) return -1;
        lua_pushlstring(L, key, key_len);
        lua_rawget(L, idx);
        saved = path_push(e, key, key_len, 0);
        if (encode_value(e, L, lua_gettop(L), depth + 1) != 0) return -1;
        path_pop(e, saved);
        lua_pop(L, 1);
    }
    return PUT_LITERAL(e, "}");
}

static int encode_table(encoder_t *e, lua_State *L, int idx, int depth) {
    size_t count = 0, n_number = 0, n_integer = 0, n_string = 0, base = e->n_keys;
    lua_Number max_index = 0;
    int marked = 0, rc;

    if (depth >= JSON_MAX_DEPTH) return fail(e, "%s", "nested too deeply (or a cycle)");
    if (!lua_checkstack(L, 4)) return fail(e, "%s", "nested too deeply for the Lua stack");
    if (lua_getmetatable(L, idx)) {
        int mt = lua_gettop(L);
        marked = is_marker(L, mt, W_ARRAY_MT) || is_marker(L, mt, W_CJSON_ARRAY_MT) ||
                 is_marker(L, mt, W_CJSON_EMPTY_ARRAY_MT);
        lua_pop(L, 1);
    }

    /* One pass over the keys: count them, see whether they are exactly
     * 1..n, and keep the string ones for an object. Keys are only read with
     * lua_tonumber / lua_tolstring on strings, which never change them. */
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int kt = lua_type(L, -2);
        count++;
        if (kt == LUA_TNUMBER) {
            lua_Number k = lua_tonumber(L, -2);
            n_number++;
            if (k >= 1 && k == floor(k)) {
                n_integer++;
                if (k > max_index) max_index = k;
            }
        } else if (kt == LUA_TSTRING) {
            if (e->n_keys == e->cap_keys) {
                size_t cap = e->cap_keys ? e->cap_keys * 2 : 32;
                json_key_t *p = realloc(e->keys, cap * sizeof *p);
                if (p == NULL) {
                    lua_pop(L, 2);
                    return fail(e, "%s", "out of memory");
                }
                e->keys = p;
                e->cap_keys = cap;
            }
            e->keys[e->n_keys].s = lua_tolstring(L, -2, &e->keys[e->n_keys].len);
            e->n_keys++;
            n_string++;
        }
        lua_pop(L, 1);
    }

    if (count == 0) {
        e->n_keys = base;
        return marked ? PUT_LITERAL(e, "[]") : PUT_LITERAL(e, "{}");
    }
    if (n_integer == count && max_index == (lua_Number)count) {
        e->n_keys = base;
        return encode_array(e, L, idx, count, depth);
    }
    if (marked) {
        e->n_keys = base;
        return fail(e, "%s", "an array must have exactly the keys 1..n");
    }
    if (n_string != count) {
        e->n_keys = base;
        return fail(e, "%s", n_number == count
            ? "a table with number keys other than 1..n is neither a JSON array nor an object"
            : "object keys must be strings (found a key of another type)");
    }
    rc = encode_object(e, L, idx, base, n_string, depth);
    e->n_keys = base;
    return rc;
}

static int encode_value(encoder_t *e, lua_State *L, int idx, int depth) {
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return PUT_LITERAL(e, "null");
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? PUT_LITERAL(e, "true") : PUT_LITERAL(e, "false");
    case LUA_TNUMBER:
        return put_number(e, L, idx);
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return put_string(e, s, len);
    }
    case LUA_TTABLE:
        return encode_table(e, L, idx, depth);
    case LUA_TLIGHTUSERDATA:
        if (lua_rawequal(L, idx, W_NULL)) return PUT_LITERAL(e, "null");
        if (!lua_isnil(L, W_CJSON_EMPTY_ARRAY) && lua_rawequal(L, idx, W_CJSON_EMPTY_ARRAY))
            return PUT_LITERAL(e, "[]");
        return fail(e, "%s", "cannot encode a light userdata other than null");
    default:
        return fail(e, "cannot encode a %s value", lua_typename(L, lua_type(L, idx)));
    }
}

/* lua_pcall'd: (encoder, value, markers...) -> string, or nothing if the
 * value cannot be encoded (the encoder says why). */
static int encode_worker(lua_State *L) {
    encoder_t *e = lua_touserdata(L, W_ENCODER);
    if (encode_value(e, L, W_VALUE, 0) != 0) return 0;
    lua_pushlstring(L, e->data ? e->data : "", e->len);
    return 1;
}

static void push_marker(lua_State *L, int idx) {
    if (idx == 0) lua_pushnil(L);
    else lua_pushvalue(L, idx);
}

int json_bridge_encode(lua_State *L, int idx, const json_markers_t *m, size_t max_len) {
    encoder_t e;
    int status;
    memset(&e, 0, sizeof e);
    e.max_len = max_len;
    idx = idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
    if (!lua_checkstack(L, W_NARGS + 2)) {
        lua_pushliteral(L, "encode: out of Lua stack");
        return 0;
    }
    lua_pushcfunction(L, encode_worker);
    lua_pushlightuserdata(L, &e);
    lua_pushvalue(L, idx);
    push_marker(L, m->null_idx);
    push_marker(L, m->array_mt_idx);
    push_marker(L, m->cjson_array_mt_idx);
    push_marker(L, m->cjson_empty_array_mt_idx);
    push_marker(L, m->cjson_empty_array_idx);
    status = lua_pcall(L, W_NARGS, 1, 0);
    free(e.data);
    free(e.keys);
    if (status != 0) {
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 1);
            lua_pushliteral(L, "encode: out of memory");
        }
        return 0;
    }
    if (e.failed) {
        lua_pop(L, 1);
        lua_pushstring(L, e.message);
        return 0;
    }
    return 1;
}
