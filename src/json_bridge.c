/* The JSON bridge. See json_bridge.h. */
#include "json_bridge.h"

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

int json_bridge_decode(lua_State *L, int decode_idx, const char *s, size_t len) {
    int ok;
    lua_pushvalue(L, decode_idx);
    lua_pushlstring(L, s, len);
    ok = lua_pcall(L, 1, 1, 0) == 0;
    if (!ok && !lua_isstring(L, -1)) {
        lua_pop(L, 1);
        lua_pushliteral(L, "invalid JSON");
    }
    return ok;
}
