/* What the Lua bindings (core.c, http_response_lua.c) share: an answer's
 * header block as a Lua table. */
#ifndef ANTHROPIC_ENV_LUA_HEADERS_H
#define ANTHROPIC_ENV_LUA_HEADERS_H

#include <stddef.h>

struct lua_State;

/* Pushes the table of the "Name: value" lines of block (CRLF or LF line
 * ends; blank and folded lines skipped): lower-case names, values trimmed,
 * repeated names joined with ", " as HTTP allows. Defined in core.c. */
void push_header_table(struct lua_State *L, const char *block, size_t len);

#endif
