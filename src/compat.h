/* Lua 5.1 / LuaJIT / 5.2 / 5.3 / 5.4 differences this module touches. */
#ifndef ANTHROPIC_ENV_COMPAT_H
#define ANTHROPIC_ENV_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM == 501
/* Plain Lua 5.1 lacks these; LuaJIT 2.1 has them, but our own copies under
 * other names keep one code path for both. */
static inline void compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#define luaL_setfuncs compat_setfuncs
#define lua_rawlen lua_objlen
#endif

#endif
