/* The Lua binding of the transport (transport.c): core.new makes a client
 * (a transport), client:start a request; the Lua layer
 * (lua/anthropic/environments/transport/curl.lua) is the seam over it. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>

#include "binding.h"
#include "headers_lua.h"
#include "json_bridge.h"
#include "transport.h"

#define CLIENT_MT "anthropic.environments.core.client"
#define REQUEST_MT "anthropic.environments.core.request"
#define MAX_STACK_HEADERS 32
#define DEFAULT_MAX_BODY (16.0 * 1024 * 1024)
#define DEFAULT_MAX_CONNECTIONS 16

/* Errors. Mistakes in the arguments (wrong types, unknown methods, header
 * lines with CR, LF or NUL, values out of range) raise a Lua error naming
 * what was wrong: they are the Lua layer's bugs. Nothing else raises:
 * whatever happens at run time -- out of memory in C, a request libcurl
 * refuses, a network failure, a closed client -- comes back as return
 * values, shaped per function below. (Lua's own allocations raise Lua's
 * memory error, as in any Lua function.) */

typedef struct {
    transport_t transport;
    int open;
    uint64_t jitter_state;        /* per-client PRNG for retry jitter */
    pid_t jitter_pid;             /* reseeded in a forked child */
} client_t;

/* One request of client:start. It holds no reference to its client: closing
 * or collecting the client first detaches the request (transport_close),
 * which then ends as cancelled, so either order is safe. The Lua layer's
 * calls keep their client alive anyway. */
typedef struct {
    transfer_t x;
    shared_headers_t *headers;    /* the shared list it sends, or NULL */
} request_t;

static client_t *check_client(lua_State *L) {
    return luaL_checkudata(L, 1, CLIENT_MT);
}

static request_t *check_request(lua_State *L, int idx) {
    return luaL_checkudata(L, idx, REQUEST_MT);
}

/* Pushes a failure: { kind =, message =, status = (the HTTP status seen
 * before it failed; absent when none), reason = (absent, or
 * "tls_certificate": a certificate that retrying cannot fix) }. */
static void push_failure(lua_State *L, const char *kind, const char *message, long status,
                         const char *reason) {
    lua_createtable(L, 0, 4);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    if (status > 0) {
        lua_pushinteger(L, (lua_Integer)status);
        lua_setfield(L, -2, "status");
    }
    if (reason != NULL) {
        lua_pushstring(L, reason);
        lua_setfield(L, -2, "reason");
    }
}

/* Reads config[field]: nil gives dflt; anything else must be a number in
 * [0, max] (raises otherwise). */
static lua_Number opt_number(lua_State *L, int config, const char *field, lua_Number dflt,
                             lua_Number max) {
    lua_Number n;
    lua_getfield(L, config, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return dflt;
    }
    if (lua_type(L, -1) != LUA_TNUMBER) {
        luaL_error(L, "core.new: %s must be a number, got %s", field, luaL_typename(L, -1));
    }
    n = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(n >= 0) || n > max) luaL_error(L, "core.new: %s out of range", field);
    return n;
}

/* config[field] in seconds as milliseconds (huge values, math.huge too, are
 * clamped to TRANSPORT_MAX_WAIT_MS, about 24 days). */
static long opt_ms(lua_State *L, int config, const char *field) {
    return transport_seconds_to_ms(opt_number(L, config, field, 0, HUGE_VAL));
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

static uint64_t jitter_seed(const client_t *c) {
    struct timespec ts;
    uint64_t seed;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
           ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)c;
    return seed ? seed : 0x9e3779b97f4a7c15ULL;
}

/* core.new{ connect_timeout =, stall_timeout =, max_body =, max_connections =,
 *           proxy =, ca_file =, ca_path =, insecure_skip_tls_verify = }
 *   -> client  or  nil, failure (push_failure; libcurl could not start: out
 *      of memory)
 * Seconds for the timeouts (0 or nil: none; connect: libcurl's default).
 * max_body: bytes (16 MiB). max_connections: idle connections kept for
 * reuse after a burst (16); a burst may open more, the rest are closed as
 * they finish. */
static int core_new(lua_State *L) {
    transport_config_t config;
    client_t *c;
    memset(&config, 0, sizeof config);
    if (lua_isnoneornil(L, 1)) lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);

    config.connect_timeout_ms = opt_ms(L, 1, "connect_timeout");
    config.stall_timeout_ms = opt_ms(L, 1, "stall_timeout");
    config.max_body = (size_t)opt_number(L, 1, "max_body", DEFAULT_MAX_BODY, 1e15);
    config.max_connections = (long)opt_number(L, 1, "max_connections", DEFAULT_MAX_CONNECTIONS, 1e6);
    if (config.max_connections < 1) luaL_error(L, "core.new: max_connections out of range");
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
        lua_pushnil(L);
        push_failure(L, "connection", "libcurl could not be initialised (out of memory?)", 0, NULL);
        return 2;
    }
    c->open = 1;
    c->jitter_state = jitter_seed(c);
    c->jitter_pid = getpid();
    return 1;
}

/* client:random() -> a number in [0, 1), for retry jitter. Kept per client so
 * the host's math.random state is never touched or depended on. A forked
 * child reseeds, so parent and children do not retry in step. */
static int client_random(lua_State *L) {
    client_t *c = check_client(L);
    uint64_t x;
    if (c->jitter_pid != getpid()) {
        c->jitter_state ^= jitter_seed(c);
        if (c->jitter_state == 0) c->jitter_state = 0x9e3779b97f4a7c15ULL;
        c->jitter_pid = getpid();
    }
    x = c->jitter_state;   /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c->jitter_state = x;
    lua_pushnumber(L, (lua_Number)(x >> 11) / 9007199254740992.0);
    return 1;
}

/* client:close(): ends the requests in flight (as cancelled) and frees
 * everything; also __gc and __close. Idempotent. */
static int client_close(lua_State *L) {
    client_t *c = check_client(L);
    if (c->open) {
        transport_close(&c->transport);
        c->open = 0;
    }
    return 0;
}

static int client_tostring(lua_State *L) {
    client_t *c = check_client(L);
    lua_pushfstring(L, "anthropic.environments.core.client (%s)", c->open ? "open" : "closed");
    return 1;
}

/* The methods client:start takes, and what each is to the transport. */
static const char *const method_names[] = {"GET", "POST", "DELETE", NULL};
static const transport_method_t method_values[] = {METHOD_GET, METHOD_POST, METHOD_DELETE};

/* Reads client:start's arguments (method, url, headers, body, timeout at
 * stack indexes first..first+4) into req, raising on a mistake. The header
 * strings stay anchored by the headers table, which must stay on the stack
 * while req is used. No control byte (CR, LF, NUL...; tab aside) may reach
 * the wire in the URL or a header line, whatever the Lua layer checked. */
static void read_request_args(lua_State *L, int first, transport_request_t *req,
                              const char **stack_headers) {
    size_t i, n, len;
    memset(req, 0, sizeof *req);
    req->method = method_values[luaL_checkoption(L, first, NULL, method_names)];
    req->url = luaL_checklstring(L, first + 1, &len);
    if (!transport_header_line_ok(req->url, len))
        luaL_argerror(L, first + 1, "the URL holds a control character (CR, LF, NUL...)");
    if (lua_type(L, first + 2) == LUA_TUSERDATA) {
        req->header_list = ((headers_ud_t *)luaL_checkudata(L, first + 2, HEADERS_MT))->shared->list;
    } else {
        luaL_checktype(L, first + 2, LUA_TTABLE);
    }
    if (!lua_isnoneornil(L, first + 3)) req->body = luaL_checklstring(L, first + 3, &req->body_len);
    if (!lua_isnoneornil(L, first + 4)) {
        lua_Number timeout = luaL_checknumber(L, first + 4);
        if (!(timeout >= 0)) luaL_argerror(L, first + 4, "timeout must be a number of seconds >= 0");
        req->timeout_ms = transport_seconds_to_ms(timeout);
    }
    if (req->header_list != NULL) return;   /* checked when it was made */
    n = lua_rawlen(L, first + 2);
    req->headers = stack_headers;
    if (n > MAX_STACK_HEADERS) req->headers = lua_newuserdata(L, n * sizeof(char *));
    for (i = 0; i < n; i++) {
        const char *line;
        lua_rawgeti(L, first + 2, (int)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "core: header line %d is not a string", (int)i + 1);
        line = lua_tolstring(L, -1, &len);
        /* Never the line itself in the message: it may hold a key. */
        if (!transport_header_line_ok(line, len))
            luaL_error(L, "core: header line %d holds a control character (CR, LF, NUL...)", (int)i + 1);
        ((const char **)req->headers)[i] = line;
        lua_pop(L, 1);
    }
    req->n_headers = n;
}

/* Pushes the outcome of a done transfer:
 *   status, headers, body   on an answer (any HTTP status)
 *   nil, failure            on a failure (push_failure), kind being
 *                           "connection", "timeout", "decode" (body or
 *                           header block too large) or "cancelled" (the
 *                           client was closed)
 * Returns the body's stack index in *body_idx (0 on a failure). */
static int push_outcome(lua_State *L, const transfer_t *x, int lazy_headers, int *body_idx) {
    char message[CURL_ERROR_SIZE + 128];
    const char *kind;
    long status;
    *body_idx = 0;
    switch (transfer_outcome(x, &status, message, sizeof message)) {
    case TRANSPORT_OK:
        lua_pushinteger(L, (lua_Integer)status);
        if (lazy_headers && status >= 200 && status < 300)
            lua_pushlstring(L, x->header_block.data ? x->header_block.data : "", x->header_block.len);
        else
            push_header_table(L, x->header_block.data, x->header_block.len);
        lua_pushlstring(L, x->body.data ? x->body.data : "", x->body.len);
        *body_idx = lua_gettop(L);
        return 3;
    case TRANSPORT_TIMEOUT: kind = "timeout"; break;
    case TRANSPORT_TOO_LARGE: kind = "decode"; break;
    case TRANSPORT_CANCELLED: kind = "cancelled"; break;
    default: kind = "connection"; break;
    }
    lua_pushnil(L);
    push_failure(L, kind, message, status,
                 transfer_tls_certificate_failed(x) ? "tls_certificate" : NULL);
    return 2;
}

/* client:start(method, url, headers, body, timeout)
 *   -> request                  started; client:drive or client:run move it on
 *   -> nil, failure             not started (push_failure), its kind:
 *        "invalid_request"  libcurl refused it (a URL over 8 MB...); retrying
 *                           cannot help
 *        "connection"       out of memory
 *        "cancelled"        the client is closed
 * method: "GET", "POST" or "DELETE"; headers: an array of "Name: value"
 * lines; body: a string or nil; timeout: seconds for the whole attempt (nil
 * or 0: none). */
static int client_start(lua_State *L) {
    client_t *c = check_client(L);
    transport_request_t req;
    const char *stack_headers[MAX_STACK_HEADERS];
    char message[CURL_ERROR_SIZE + 128];
    request_t *r;
    transport_status_t status;

    read_request_args(L, 2, &req, stack_headers);
    if (!c->open) {
        lua_pushnil(L);
        push_failure(L, "cancelled", "the client was closed", 0, NULL);
        return 2;
    }
    r = lua_newuserdata(L, sizeof *r);
    memset(r, 0, sizeof *r);
    luaL_getmetatable(L, REQUEST_MT);
    lua_setmetatable(L, -2);
    status = transfer_start(&c->transport, &r->x, &req, message, sizeof message);
    if (status == TRANSPORT_OK) {
        if (req.header_list != NULL) {
            r->headers = ((headers_ud_t *)lua_touserdata(L, 4))->shared;
            r->headers->refs++;
        }
        return 1;
    }
    lua_pushnil(L);
    push_failure(L, status == TRANSPORT_INVALID_REQUEST ? "invalid_request" : "connection", message, 0,
                 NULL);
    return 2;
}

/* client:drive([wait]) -> number of requests still running. Does the work
 * that is ready, waiting up to `wait` seconds (default 0; NaN: 0; huge
 * ones, math.huge too, are clamped to about 24 days) for some. */
static int client_drive(lua_State *L) {
    client_t *c = check_client(L);
    lua_Number wait = luaL_optnumber(L, 2, 0);
    if (c->open) transport_drive(&c->transport, transport_seconds_to_ms(wait));
    lua_pushinteger(L, c->open ? c->transport.n_running : 0);
    return 1;
}

/* client:run(request [, max_wait]) -> done: drives until that request is
 * done, or max_wait seconds have passed (nil or math.huge: no limit; NaN:
 * 0). */
static int client_run(lua_State *L) {
    client_t *c = check_client(L);
    request_t *r = check_request(L, 2);
    int limited = !lua_isnoneornil(L, 3);
    lua_Number max_wait = limited ? luaL_checknumber(L, 3) : 0;
    double deadline;
    if (!(max_wait >= 0)) max_wait = 0;   /* NaN, negative */
    deadline = transport_now() + max_wait;   /* inf stays inf */
    while (c->open && r->x.state == TRANSFER_RUNNING) {
        long slice = 1000;
        if (limited) {
            double left = deadline - transport_now();
            if (left <= 0) break;
            if (left * 1000.0 < slice) slice = transport_seconds_to_ms(left);
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
    client_t *c = check_client(L);
    /* First, as it lets go of a forked parent's sockets. */
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

/* request:done() -> boolean */
static int request_done(lua_State *L) {
    lua_pushboolean(L, check_request(L, 1)->x.state == TRANSFER_DONE);
    return 1;
}

/* request:result([decode [, lazy_headers]]) -> as push_outcome says; frees
 * the request's buffers. With decode true, an answer also gives the body
 * decoded, straight from the one string pushed:
 *   status, headers, body, value        the body is JSON
 *   status, headers, body, nil, message it is not
 * (a failure stays nil, failure)
 * With lazy_headers too, a 2xx answer whose body is JSON gives its headers
 * as the block they came in (a string, for core.header_table), not as a
 * table: the calls that succeed seldom read them.
 * Upvalue 1: the cjson instance's decode. */
static int request_result(lua_State *L) {
    request_t *r = check_request(L, 1);
    int decode = lua_toboolean(L, 2), lazy = decode && lua_toboolean(L, 3), body_idx, n;
    if (r->x.state != TRANSFER_DONE) return luaL_error(L, "anthropic.environments: request is not done");
    lua_settop(L, 1);
    n = push_outcome(L, &r->x, lazy, &body_idx);
    if (!decode || body_idx == 0) {
        transfer_release(&r->x);
        return n;
    }
    if (json_bridge_decode(L, lua_upvalueindex(1), body_idx)) {
        transfer_release(&r->x);
        return n + 1;
    }
    /* Not JSON: an error for sure, so its headers as a table after all. */
    if (lazy && lua_type(L, body_idx - 1) == LUA_TSTRING) {
        push_header_table(L, r->x.header_block.data, r->x.header_block.len);
        lua_replace(L, body_idx - 1);
    }
    transfer_release(&r->x);
    lua_pushnil(L);
    lua_insert(L, -2);
    return n + 2;
}

/* request:cancel(): stops it and frees what it holds (also its __gc). */
static int request_cancel(lua_State *L) {
    request_t *r = check_request(L, 1);
    transfer_release(&r->x);
    shared_headers_drop(r->headers);
    r->headers = NULL;
    return 0;
}

static const luaL_Reg request_methods[] = {
    {"done", request_done},
    {"result", request_result},
    {"cancel", request_cancel},
    {NULL, NULL}
};

static const luaL_Reg request_metamethods[] = {
    {"__gc", request_cancel},
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

static const luaL_Reg client_metamethods[] = {
    {"__gc", client_close},
#if LUA_VERSION_NUM >= 504
    {"__close", client_close},
#endif
    {"__tostring", client_tostring},
    {NULL, NULL}
};

static const luaL_Reg client_functions[] = {
    {"new", core_new},
    {NULL, NULL}
};

/* Registers core.new and the client and request classes; the request's
 * methods get the cjson instance's decode (json_lua_open runs first). */
int client_lua_open(lua_State *L) {
    binding_register_class(L, CLIENT_MT, client_methods, client_metamethods, 0);
    lua_getfield(L, LUA_REGISTRYINDEX, BINDING_CJSON_KEY);
    if (!lua_istable(L, -1)) return luaL_error(L, "anthropic.environments: json_lua_open must run first");
    lua_getfield(L, -1, "decode");
    lua_remove(L, -2);
    binding_register_class(L, REQUEST_MT, request_methods, request_metamethods, 1);
    luaL_setfuncs(L, client_functions, 0);
    return 0;
}
