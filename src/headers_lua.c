/* The Lua binding of header lines: core.headers (a list made once, for
 * client:start) and core.header_table (an answer's header block as a
 * table). */
#include <ctype.h>
#include <stdlib.h>

#include "binding.h"
#include "headers_lua.h"
#include "transport.h"

#define MAX_STACK_HEADERS 32

void shared_headers_drop(shared_headers_t *h) {
    if (h != NULL && --h->refs == 0) {
        curl_slist_free_all(h->list);
        free(h);
    }
}

/* Pushes the answer's headers as a table: lower-case names, repeated
 * headers joined with ", " as HTTP allows. A repeated header's values are
 * gathered in a list first and joined once at the end: a hostile answer
 * that repeats one header thousands of times costs one pass, not a
 * concatenation per repeat. */
void push_header_table(lua_State *L, const char *block, size_t len) {
    size_t pos = 0, name_len, value_len, i;
    const char *name, *value;
    char lower[256];
    int t, parts = 0;
    lua_createtable(L, 0, 8);   /* sized for a usual answer: no rehash */
    t = lua_gettop(L);
    while (transport_next_header(block, len, &pos, &name, &name_len, &value, &value_len)) {
        if (name_len >= sizeof lower) continue;
        for (i = 0; i < name_len; i++) lower[i] = (char)tolower((unsigned char)name[i]);
        lua_pushlstring(L, lower, name_len);
        lua_pushvalue(L, -1);
        lua_rawget(L, t);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushlstring(L, value, value_len);
            lua_rawset(L, t);
            continue;
        }
        lua_pop(L, 2);
        if (parts == 0) {                       /* name -> { value, ... } */
            lua_newtable(L);
            parts = lua_gettop(L);
        }
        lua_pushlstring(L, lower, name_len);    /* name */
        lua_pushvalue(L, -1);
        lua_rawget(L, parts);                   /* name, list or nil */
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_createtable(L, 4, 0);           /* name, list */
            lua_pushvalue(L, -2);
            lua_rawget(L, t);
            lua_rawseti(L, -2, 1);              /* the first value */
            lua_pushvalue(L, -2);
            lua_pushvalue(L, -2);
            lua_rawset(L, parts);
        }
        lua_pushlstring(L, value, value_len);
        lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
        lua_pop(L, 2);
    }
    if (parts == 0) return;
    lua_pushnil(L);
    while (lua_next(L, parts) != 0) {           /* name, list */
        luaL_Buffer b;
        int list = lua_gettop(L);
        int n = (int)lua_rawlen(L, list), k;
        luaL_buffinit(L, &b);
        for (k = 1; k <= n; k++) {
            if (k > 1) luaL_addlstring(&b, ", ", 2);
            lua_rawgeti(L, list, k);
            luaL_addvalue(&b);
        }
        luaL_pushresult(&b);                    /* name, list, joined */
        lua_pushvalue(L, list - 1);
        lua_insert(L, -2);
        lua_rawset(L, t);                       /* name, list */
        lua_pop(L, 1);
    }
    lua_remove(L, parts);
}

/* core.header_table(block) -> the table of a header block that
 * request:result gave as a string: lower-case names, repeated headers
 * joined with ", ". */
static int core_header_table(lua_State *L) {
    size_t len;
    const char *block = luaL_checklstring(L, 1, &len);
    push_header_table(L, block, len);
    return 1;
}

/* core.headers(lines) -> a header list made once, for client:start in place
 * of the array of lines: the lines are checked (no control character but
 * tab: raises, naming the line's number, never its text) and the list built
 * now, so that requests sending the same lines (a client's defaults) do
 * neither again. Out of memory gives nil, message. */
static int core_headers(lua_State *L) {
    const char *stack_lines[MAX_STACK_HEADERS];
    size_t stack_lens[MAX_STACK_HEADERS];
    const char **lines = stack_lines;
    size_t *lens = stack_lens, n, i, bad_line;
    struct curl_slist *list;
    headers_ud_t *ud;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    n = lua_rawlen(L, 1);
    if (n > MAX_STACK_HEADERS) {
        lines = lua_newuserdata(L, n * sizeof *lines);
        lens = lua_newuserdata(L, n * sizeof *lens);
    }
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (int)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING) return luaL_error(L, "core.headers: line %d is not a string", (int)i + 1);
        lines[i] = lua_tolstring(L, -1, &lens[i]);
        lua_pop(L, 1);   /* still referenced by the table */
    }
    ud = lua_newuserdata(L, sizeof *ud);
    ud->shared = NULL;
    luaL_getmetatable(L, HEADERS_MT);
    lua_setmetatable(L, -2);
    list = transport_header_list(lines, lens, n, &bad_line);
    if (list == NULL && bad_line != 0)
        return luaL_error(L, "core.headers: line %d holds a control character (CR, LF, NUL...)", (int)bad_line);
    if (list == NULL || (ud->shared = malloc(sizeof *ud->shared)) == NULL) {
        curl_slist_free_all(list);
        lua_pushnil(L);
        lua_pushliteral(L, "out of memory making a header list");
        return 2;
    }
    ud->shared->list = list;
    ud->shared->refs = 1;
    return 1;
}

static int headers_gc(lua_State *L) {
    headers_ud_t *ud = luaL_checkudata(L, 1, HEADERS_MT);
    shared_headers_drop(ud->shared);
    ud->shared = NULL;
    return 0;
}

static const luaL_Reg headers_methods[] = {
    {NULL, NULL}
};

static const luaL_Reg headers_metamethods[] = {
    {"__gc", headers_gc},
    {NULL, NULL}
};

static const luaL_Reg headers_functions[] = {
    {"headers", core_headers},
    {"header_table", core_header_table},
    {NULL, NULL}
};

int headers_lua_open(lua_State *L) {
    binding_register_class(L, HEADERS_MT, headers_methods, headers_metamethods, 0);
    luaL_setfuncs(L, headers_functions, 0);
    return 0;
}
