/* The Lua binding of the HTTP/1.x answer parser (http_response.c). */
#ifndef ANTHROPIC_ENV_HTTP_RESPONSE_LUA_H
#define ANTHROPIC_ENV_HTTP_RESPONSE_LUA_H

struct lua_State;

/* core.http_response(max_body) -> a parser of one answer; see
 * http_response_lua.c for its methods. */
int http_response_lua_new(struct lua_State *L);

#endif
