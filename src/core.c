/* anthropic.environments.core: the Lua binding of the transport
 * (transport.c) and of the JSON bridge (json_bridge.c). The Lua layer
 * (lua/anthropic/environments.lua) builds the API on top of this. */
#include <ctype.h>
#include <stdint.h>
#include <unistd.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "http_response_lua.h"
#include "json_bridge.h"
#include "transport.h"
#include "webhook.h"

#define CLIENT_MT "anthropic.environments.core.client"
#define REQUEST_MT "anthropic.environments.core.request"
#define MAX_STACK_HEADERS 32

typedef struct {
    transport_t transport;
    int open;
    uint64_t jitter_state;        /* per-client PRNG for retry jitter */
} client_t;

/* One request of client:start. It holds no reference to its client: closing
 * or collecting the client first detaches the request (transport_close),
 * which then ends as cancelled, so either order is safe. The Lua layer's
 * calls keep their client alive anyway. */
typedef struct {
    transfer_t x;
} request_t;

static client_t *check_open_client(lua_State *L) {
    client_t *c = luaL_checkudata(L, 1, CLIENT_MT);
    if (!c->open) luaL_error(L, "anthropic.environments: client is closed");
    return c;
}

/* Reads an optional number of seconds from config[field] as milliseconds. */
static long opt_ms(lua_State *L, int config, const char *field, long dflt) {
    lua_Number seconds;
    lua_getfield(L, config, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return dflt;
    }
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "core.new: %s must be a number", field);
    seconds = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(seconds >= 0) || seconds > 1e9) luaL_error(L, "core.new: %s out of range", field);
    return (long)ceil(seconds * 1000.0);
}

/* config[field] as a string kept alive by `config`, or NULL. */
static const char *opt_string(lua_State *L, int config, const char *field) {
    const char *s;
    lua_getfield(L, config, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "core.new: %s must be a string", field);
    s = lua_tostring(L, -1);
    lua_pop(L, 1);   /* still referenced by the config table */
    return s;
}

/* core.new{ connect_timeout =, stall_timeout =, max_body =, proxy =,
 *           ca_file =, ca_path =, insecure_skip_tls_verify = } */
static int core_new(lua_State *L) {
    transport_config_t config;
    client_t *c;
    lua_Number max_body;
    memset(&config, 0, sizeof config);
    if (lua_isnoneornil(L, 1)) lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);

    config.connect_timeout_ms = opt_ms(L, 1, "connect_timeout", 0);
    config.stall_timeout_ms = opt_ms(L, 1, "stall_timeout", 0);
    lua_getfield(L, 1, "max_body");
    max_body = lua_isnil(L, -1) ? 16.0 * 1024 * 1024 : lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(max_body >= 0) || max_body > 1e15) luaL_error(L, "core.new: max_body out of range");
    config.max_body = (size_t)max_body;
    config.proxy = opt_string(L, 1, "proxy");
    config.ca_file = opt_string(L, 1, "ca_file");
    config.ca_path = opt_string(L, 1, "ca_path");
    lua_getfield(L, 1, "insecure_skip_tls_verify");
    config.insecure_skip_tls_verify = lua_toboolean(L, -1);
    lua_pop(L, 1);

    c = lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    luaL_getmetatable(L, CLIENT_MT);
    lua_setmetatable(L, -2);
    if (transport_open(&c->transport, &config) != 0) {
        transport_close(&c->transport);
        return luaL_error(L, "anthropic.environments: libcurl could not be initialised");
    }
    c->open = 1;
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        c->jitter_state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
                          ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)c;
        if (c->jitter_state == 0) c->jitter_state = 0x9e3779b97f4a7c15ULL;
    }
    return 1;
}

/* client:random() -> a number in [0, 1), for retry jitter. Kept per client so
 * the host's math.random state is never touched or depended on. */
static int client_random(lua_State *L) {
    client_t *c = luaL_checkudata(L, 1, CLIENT_MT);
    uint64_t x = c->jitter_state;   /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c->jitter_state = x;
    lua_pushnumber(L, (lua_Number)(x >> 11) / 9007199254740992.0);
    return 1;
}

static int client_close(lua_State *L) {
    client_t *c = luaL_checkudata(L, 1, CLIENT_MT);
    if (c->open) {
        transport_close(&c->transport);
        c->open = 0;
    }
    return 0;
}

static int client_tostring(lua_State *L) {
    client_t *c = luaL_checkudata(L, 1, CLIENT_MT);
    lua_pushfstring(L, "anthropic.environments.core.client (%s)", c->open ? "open" : "closed");
    return 1;
}

static transport_method_t check_method(lua_State *L, int idx) {
    const char *m = luaL_checkstring(L, idx);
    if (strcmp(m, "GET") == 0) return METHOD_GET;
    if (strcmp(m, "POST") == 0) return METHOD_POST;
    if (strcmp(m, "DELETE") == 0) return METHOD_DELETE;
    luaL_error(L, "core: unsupported method '%s'", m);
    return METHOD_GET;
}

/* Pushes the answer's headers as a table: lower-case names, repeated
 * headers joined with ", " as HTTP allows. */
static void push_header_table(lua_State *L, const transfer_t *x) {
    size_t pos = 0, name_len, value_len, i;
    const char *name, *value;
    char lower[256];
    lua_newtable(L);
    while (transfer_next_header(x, &pos, &name, &name_len, &value, &value_len)) {
        if (name_len >= sizeof lower) continue;
        for (i = 0; i < name_len; i++) lower[i] = (char)tolower((unsigned char)name[i]);
        lua_pushlstring(L, lower, name_len);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushlstring(L, value, value_len);
        } else {
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, value, value_len);
            lua_concat(L, 3);
        }
        lua_rawset(L, -3);
    }
}

/* Reads client:start's arguments (method, url, headers, body, timeout at
 * stack indexes first..first+4) into req. The header strings stay anchored
 * by the headers table, which must stay on the stack while req is used. */
static void check_request(lua_State *L, int first, transport_request_t *req,
                          const char **stack_headers) {
    size_t i, n;
    memset(req, 0, sizeof *req);
    req->method = check_method(L, first);
    req->url = luaL_checkstring(L, first + 1);
    luaL_checktype(L, first + 2, LUA_TTABLE);
    if (!lua_isnoneornil(L, first + 3)) req->body = luaL_checklstring(L, first + 3, &req->body_len);
    if (!lua_isnoneornil(L, first + 4)) {
        lua_Number timeout = luaL_checknumber(L, first + 4);
        if (!(timeout >= 0) || timeout > 1e9) luaL_error(L, "core: timeout out of range");
        req->timeout_ms = (long)ceil(timeout * 1000.0);
    }
    n = lua_rawlen(L, first + 2);
    req->headers = stack_headers;
    if (n > MAX_STACK_HEADERS) req->headers = lua_newuserdata(L, n * sizeof(char *));
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, first + 2, (int)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "core: header %d is not a string", (int)i + 1);
        ((const char **)req->headers)[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    req->n_headers = n;
}

/* Pushes the outcome of a done transfer:
 *   status, headers, body            on an answer (any HTTP status)
 *   nil, kind, message, status-seen  on a failure, kind being "connection",
 *                                    "timeout", "decode" (body too large) or
 *                                    "cancelled" (the client was closed) */
static int push_outcome(lua_State *L, const transfer_t *x) {
    char message[CURL_ERROR_SIZE + 128];
    long status;
    switch (transfer_outcome(x, &status, message, sizeof message)) {
    case TRANSPORT_OK:
        lua_pushinteger(L, (lua_Integer)status);
        push_header_table(L, x);
        lua_pushlstring(L, x->body.data ? x->body.data : "", x->body.len);
        return 3;
    case TRANSPORT_TIMEOUT:
        lua_pushnil(L);
        lua_pushliteral(L, "timeout");
        break;
    case TRANSPORT_TOO_LARGE:
        lua_pushnil(L);
        lua_pushliteral(L, "decode");
        break;
    case TRANSPORT_CANCELLED:
        lua_pushnil(L);
        lua_pushliteral(L, "cancelled");
        break;
    default:
        lua_pushnil(L);
        lua_pushliteral(L, "connection");
        break;
    }
    lua_pushstring(L, message);
    lua_pushinteger(L, (lua_Integer)status);
    return 4;
}

/* client:start(method, url, headers, body, timeout) -> request: starts one
 * attempt without waiting for it; client:drive or client:run move it on. */
static int client_start(lua_State *L) {
    client_t *c = check_open_client(L);
    transport_request_t req;
    const char *stack_headers[MAX_STACK_HEADERS];
    char message[CURL_ERROR_SIZE + 128];
    request_t *r;

    check_request(L, 2, &req, stack_headers);
    r = lua_newuserdata(L, sizeof *r);
    memset(r, 0, sizeof *r);
    luaL_getmetatable(L, REQUEST_MT);
    lua_setmetatable(L, -2);
    if (transfer_start(&c->transport, &r->x, &req, message, sizeof message) != 0)
        return luaL_error(L, "anthropic.environments: %s", message);
    return 1;
}

/* client:drive([wait]) -> number of requests still running. Does the work
 * that is ready, waiting up to `wait` seconds (default 0) for some. */
static int client_drive(lua_State *L) {
    client_t *c = luaL_checkudata(L, 1, CLIENT_MT);
    lua_Number wait = luaL_optnumber(L, 2, 0);
    if (c->open) transport_drive(&c->transport, wait > 0 ? (long)ceil(wait * 1000.0) : 0);
    lua_pushinteger(L, c->open ? c->transport.n_running : 0);
    return 1;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* client:run(request [, max_wait]) -> done: drives until that request is
 * done, or max_wait seconds have passed. */
static int client_run(lua_State *L) {
    client_t *c = luaL_checkudata(L, 1, CLIENT_MT);
    request_t *r = luaL_checkudata(L, 2, REQUEST_MT);
    lua_Number max_wait = luaL_optnumber(L, 3, -1);
    double deadline = max_wait >= 0 ? now_seconds() + max_wait : 0;
    while (c->open && r->x.state == TRANSFER_RUNNING) {
        long slice = 1000;
        if (max_wait >= 0) {
            double left = deadline - now_seconds();
            if (left <= 0) break;
            if (left * 1000.0 < slice) slice = (long)ceil(left * 1000.0);
        }
        transport_drive(&c->transport, slice);
    }
    lua_pushboolean(L, r->x.state != TRANSFER_RUNNING);
    return 1;
}

/* client:fds() -> { {fd =, read =, write =}, ... }, timeout
 * The sockets libcurl waits on and the seconds until it wants to be driven
 * anyway (nil: no timer), for event loops that wait themselves (luv,
 * cqueues, a game engine) and then call client:drive(). */
static int client_fds(lua_State *L) {
    client_t *c = luaL_checkudata(L, 1, CLIENT_MT);
    long timeout = c->open ? transport_timeout_ms(&c->transport) : -1;
    int i, n = c->open ? c->transport.n_sockets : 0;
    lua_createtable(L, n, 0);
    for (i = 0; i < n; i++) {
        const watched_socket_t *w = &c->transport.sockets[i];
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, (lua_Integer)w->fd);
        lua_setfield(L, -2, "fd");
        lua_pushboolean(L, (w->what & CURL_POLL_IN) != 0);
        lua_setfield(L, -2, "read");
        lua_pushboolean(L, (w->what & CURL_POLL_OUT) != 0);
        lua_setfield(L, -2, "write");
        lua_rawseti(L, -2, i + 1);
    }
    if (timeout < 0) lua_pushnil(L);
    else lua_pushnumber(L, (lua_Number)timeout / 1000.0);
    return 2;
}

static request_t *check_request_ud(lua_State *L) {
    return luaL_checkudata(L, 1, REQUEST_MT);
}

/* request:done() -> boolean */
static int request_done(lua_State *L) {
    lua_pushboolean(L, check_request_ud(L)->x.state == TRANSFER_DONE);
    return 1;
}

/* request:result() -> as client:request; frees the request's buffers. */
static int request_result(lua_State *L) {
    request_t *r = check_request_ud(L);
    int n;
    if (r->x.state != TRANSFER_DONE) return luaL_error(L, "anthropic.environments: request is not done");
    n = push_outcome(L, &r->x);
    transfer_release(&r->x);
    return n;
}

/* request:cancel(): stops it and frees what it holds (also its __gc). */
static int request_cancel(lua_State *L) {
    transfer_release(&check_request_ud(L)->x);
    return 0;
}

/* core.decode(s) -> value  or  nil, message */
static int core_decode(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (json_bridge_decode(L, lua_upvalueindex(1), s, len)) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* core.encode(value) -> JSON text  or  nil, message
 * Upvalues: cjson.null, our array marker metatable, and the cjson
 * instance's array_mt, empty_array_mt and empty_array (nil when that
 * lua-cjson has none). */
static int core_encode(lua_State *L) {
    json_markers_t m;
    lua_settop(L, 1);
    m.null_idx = lua_upvalueindex(1);
    m.array_mt_idx = lua_upvalueindex(2);
    m.cjson_array_mt_idx = lua_upvalueindex(3);
    m.cjson_empty_array_mt_idx = lua_upvalueindex(4);
    m.cjson_empty_array_idx = lua_upvalueindex(5);
    if (json_bridge_encode(L, 1, &m)) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* core.sleep(seconds): a real sleep for hosts with no event loop. */
static int core_sleep(lua_State *L) {
    lua_Number seconds = luaL_checknumber(L, 1);
    struct timespec ts, rem;
    if (!(seconds > 0)) return 0;
    if (seconds > 1e6) seconds = 1e6;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (lua_Number)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR) ts = rem;
    return 0;
}

/* core.now(): monotonic seconds, for elapsed times and deadlines. */
static int core_now(lua_State *L) {
    lua_pushnumber(L, (lua_Number)now_seconds());
    return 1;
}

static const luaL_Reg request_methods[] = {
    {"done", request_done},
    {"result", request_result},
    {"cancel", request_cancel},
    {NULL, NULL}
};

static const luaL_Reg client_methods[] = {
    {"start", client_start},
    {"drive", client_drive},
    {"run", client_run},
    {"fds", client_fds},
    {"close", client_close},
    {"random", client_random},
    {NULL, NULL}
};

static const luaL_Reg core_functions[] = {
    {"new", core_new},
    {"sleep", core_sleep},
    {"now", core_now},
    {"webhook_verify", webhook_lua_verify},
    {"http_response", http_response_lua_new},
    {NULL, NULL}
};

#if defined(_WIN32)
#define EXPORT __declspec(dllexport)
#else
#define EXPORT __attribute__((visibility("default")))
#endif

EXPORT int luaopen_anthropic_environments_core(lua_State *L) {
    const curl_version_info_data *info;
    int instance;

    if (transport_global_init() != 0) return luaL_error(L, "anthropic.environments: curl_global_init failed");

    if (luaL_newmetatable(L, CLIENT_MT)) {
        lua_newtable(L);
        luaL_setfuncs(L, client_methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, client_close);
        lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
        lua_pushcfunction(L, client_close);
        lua_setfield(L, -2, "__close");
#endif
        lua_pushcfunction(L, client_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);

    if (luaL_newmetatable(L, REQUEST_MT)) {
        lua_newtable(L);
        luaL_setfuncs(L, request_methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, request_cancel);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);

    lua_newtable(L);
    luaL_setfuncs(L, core_functions, 0);

    json_bridge_new_instance(L);
    instance = lua_gettop(L);
    lua_getfield(L, instance, "decode");
    lua_pushcclosure(L, core_decode, 1);
    lua_setfield(L, -3, "decode");
    lua_getfield(L, instance, "null");
    lua_setfield(L, -3, "null");

    /* The array marker: a table with this metatable encodes as a JSON
     * array, even when empty. */
    lua_newtable(L);
    lua_pushliteral(L, "anthropic.environments.array");
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "array_mt");
    lua_getfield(L, instance, "null");
    lua_insert(L, -2);
    lua_getfield(L, instance, "array_mt");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    lua_getfield(L, instance, "empty_array_mt");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    lua_getfield(L, instance, "empty_array");
    if (!lua_islightuserdata(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    lua_pushcclosure(L, core_encode, 5);
    lua_setfield(L, -3, "encode");
    lua_pop(L, 1);

    info = curl_version_info(CURLVERSION_NOW);
    lua_pushstring(L, info->version);
    lua_setfield(L, -2, "curl_version");
    lua_pushstring(L, info->ssl_version ? info->ssl_version : "");
    lua_setfield(L, -2, "ssl_version");
    lua_pushboolean(L, (info->features & CURL_VERSION_HTTP2) != 0);
    lua_setfield(L, -2, "http2");
    lua_pushliteral(L, "0.2.0");
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
