/* The Lua binding of the HTTP/1.x answer parser (http_response.c), for the
 * cosocket transport (lua/anthropic/environments/transport/ngx.lua), which
 * reads the bytes from nginx and hands them over:
 *
 *   local p = core.http_response(max_body)
 *   p:feed(bytes)   -> "more" | "done", bytes used  or  nil, kind, message
 *   p:eof()         -> "done"  or  nil, kind, message (the peer closed)
 *   p:want(cap)     -> bytes to ask for next (0 once ended)
 *   p:status()      -> the status seen so far (0: none)
 *   p:reusable()    -> true if the connection may be kept alive
 *   p:result()      -> status, headers, body of the complete answer
 *
 * kind is "connection" (not a valid answer) or "decode" (the body is over
 * max_body), as the libcurl transport reports them. */
#include <string.h>

#include "http_response.h"
#include "binding.h"

#define PARSER_MT "anthropic.environments.core.http_response"

static http_response_t *check_parser(lua_State *L) {
    return luaL_checkudata(L, 1, PARSER_MT);
}

static int push_failure(lua_State *L, http_response_t *r) {
    lua_pushnil(L);
    lua_pushstring(L, r->result == HR_TOO_LARGE ? "decode" : "connection");
    lua_pushstring(L, r->message);
    return 3;
}

static int parser_feed(lua_State *L) {
    http_response_t *r = check_parser(L);
    size_t len, used;
    const char *data = luaL_checklstring(L, 2, &len);
    hr_status_t st = http_response_feed(r, data, len, &used);
    if (st < 0) return push_failure(L, r);
    lua_pushstring(L, st == HR_DONE ? "done" : "more");
    lua_pushinteger(L, (lua_Integer)used);
    return 2;
}

static int parser_eof(lua_State *L) {
    http_response_t *r = check_parser(L);
    if (http_response_eof(r) < 0) return push_failure(L, r);
    lua_pushliteral(L, "done");
    return 1;
}

static int parser_want(lua_State *L) {
    http_response_t *r = check_parser(L);
    lua_Integer cap = luaL_optinteger(L, 2, 65536);
    if (cap < 1) cap = 1;
    lua_pushinteger(L, (lua_Integer)http_response_want(r, (size_t)cap));
    return 1;
}

static int parser_status(lua_State *L) {
    lua_pushinteger(L, check_parser(L)->status);
    return 1;
}

static int parser_reusable(lua_State *L) {
    lua_pushboolean(L, http_response_reusable(check_parser(L)));
    return 1;
}

/* status, headers (lower-case names, repeated ones joined with ", "), body;
 * frees the parser's buffers. */
static int parser_result(lua_State *L) {
    http_response_t *r = check_parser(L);
    if (r->result != HR_DONE) return luaL_error(L, "anthropic.environments: the answer is not complete");
    lua_pushinteger(L, r->status);
    push_header_table(L, r->head.data, r->head.len);
    lua_pushlstring(L, r->body.data ? r->body.data : "", r->body.len);
    http_response_free(r);
    return 3;
}

static int parser_gc(lua_State *L) {
    http_response_free(check_parser(L));
    return 0;
}

static const luaL_Reg parser_methods[] = {
    {"feed", parser_feed},
    {"eof", parser_eof},
    {"want", parser_want},
    {"status", parser_status},
    {"reusable", parser_reusable},
    {"result", parser_result},
    {NULL, NULL}
};

/* core.http_response(max_body) -> a parser of one answer. */
static int http_response_lua_new(lua_State *L) {
    hr_limits_t limits;
    http_response_t *r;
    lua_Number max_body = luaL_checknumber(L, 1);
    if (!(max_body >= 0) || max_body > 1e15) return luaL_error(L, "core.http_response: max_body out of range");
    limits.max_line = HR_DEFAULT_MAX_LINE;
    limits.max_head = HR_DEFAULT_MAX_HEAD;
    limits.max_body = (size_t)max_body;
    r = lua_newuserdata(L, sizeof *r);
    http_response_init(r, &limits);
    if (luaL_newmetatable(L, PARSER_MT)) {
        lua_newtable(L);
        luaL_setfuncs(L, parser_methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, parser_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return 1;
}

int http_response_lua_open(lua_State *L) {
    lua_pushcfunction(L, http_response_lua_new);
    lua_setfield(L, -2, "http_response");
    return 0;
}
