/* Helpers the Lua bindings share (see binding.h). */
#include "binding.h"

void binding_register_class(lua_State *L, const char *name, const luaL_Reg *methods,
                            const luaL_Reg *metamethods, int nup) {
    int i;
    luaL_newmetatable(L, name);
    lua_insert(L, -(nup + 1));
    lua_newtable(L);
    for (i = 0; i < nup; i++) lua_pushvalue(L, -(nup + 1));
    luaL_setfuncs(L, methods, nup);
    lua_setfield(L, -(nup + 2), "__index");
    luaL_setfuncs(L, metamethods, nup);   /* pops the upvalues */
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}
