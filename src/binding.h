/* What the Lua bindings of the core share. As luasocket lays out its
 * modules, each binding file registers its own functions and classes into
 * the module table with one *_open function, and
 * luaopen_anthropic_environments_core (core.c) calls them all:
 *
 *   client_lua.c         core.new, the client and request classes
 *   headers_lua.c        core.headers, core.header_table
 *   json_lua.c           core.encode, core.decode, core.null, core.array_mt
 *   webhook_lua.c        core.webhook_verify
 *   http_response_lua.c  core.http_response (the cosocket answer parser)
 *   clock_lua.c          core.now, core.sleep
 *
 * Each *_open takes the module table on the stack top and leaves the stack
 * as it found it. The pure C they bind (transport.c, http_response.c,
 * webhook.c, buffer.c) includes no Lua header. */
#ifndef ANTHROPIC_ENV_BINDING_H
#define ANTHROPIC_ENV_BINDING_H

#include <stddef.h>

#include "compat.h"

/* The registry field where json_lua_open keeps the private lua-cjson
 * instance (a table of functions), for the bindings that decode. */
#define BINDING_CJSON_KEY "anthropic.environments.core.cjson"

/* Registers a class, as luasocket's auxiliar.c does: a metatable under
 * `name` whose __index holds `methods` and which holds `metamethods`
 * itself, each function with the nup upvalues found on the stack top
 * (popped). */
void binding_register_class(lua_State *L, const char *name, const luaL_Reg *methods,
                            const luaL_Reg *metamethods, int nup);

/* Pushes the table of the "Name: value" lines of block (CRLF or LF line
 * ends; blank and folded lines skipped): lower-case names, values trimmed,
 * repeated names joined with ", " as HTTP allows. In headers_lua.c. */
void push_header_table(lua_State *L, const char *block, size_t len);

int json_lua_open(lua_State *L);
int headers_lua_open(lua_State *L);
int client_lua_open(lua_State *L);
int webhook_lua_open(lua_State *L);
int http_response_lua_open(lua_State *L);
int clock_lua_open(lua_State *L);

#endif
