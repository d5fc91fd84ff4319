/* The Lua binding of the JSON bridge (json_bridge.c): core.decode and
 * core.encode over a private lua-cjson instance, core.null, and the array
 * marker core.array_mt. */
#include "binding.h"
#include "json_bridge.h"

/* core.decode(s) -> value  or  nil, message */
static int core_decode(lua_State *L) {
    luaL_checkstring(L, 1);
    lua_settop(L, 1);
    if (json_bridge_decode(L, lua_upvalueindex(1), 1)) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* core.encode(value [, max_bytes]) -> JSON text  or  nil, message
 * max_bytes: the most the text may hold (nil: no limit); the walk stops as
 * soon as it would pass it (a message saying so). Upvalues: cjson.null, our array marker metatable, and the cjson
 * instance's array_mt, empty_array_mt and empty_array (nil when that
 * lua-cjson has none). */
static int core_encode(lua_State *L) {
    json_markers_t m;
    size_t max_len = 0;
    if (!lua_isnoneornil(L, 2)) {
        lua_Number n = luaL_checknumber(L, 2);
        if (!(n >= 1)) luaL_argerror(L, 2, "max_bytes must be a number >= 1");
        max_len = n >= 1e15 ? (size_t)1e15 : (size_t)n;
    }
    lua_settop(L, 1);
    m.null_idx = lua_upvalueindex(1);
    m.array_mt_idx = lua_upvalueindex(2);
    m.cjson_array_mt_idx = lua_upvalueindex(3);
    m.cjson_empty_array_mt_idx = lua_upvalueindex(4);
    m.cjson_empty_array_idx = lua_upvalueindex(5);
    if (json_bridge_encode(L, 1, &m, max_len)) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* Registers core.decode, core.encode, core.null and core.array_mt, and
 * keeps the private cjson instance in the registry (BINDING_CJSON_KEY) for
 * the bindings that decode (request:result). */
int json_lua_open(lua_State *L) {
    int module = lua_gettop(L), instance;
    json_bridge_new_instance(L);
    instance = lua_gettop(L);
    lua_pushvalue(L, instance);
    lua_setfield(L, LUA_REGISTRYINDEX, BINDING_CJSON_KEY);

    lua_getfield(L, instance, "decode");
    lua_pushcclosure(L, core_decode, 1);
    lua_setfield(L, module, "decode");
    lua_getfield(L, instance, "null");
    lua_setfield(L, module, "null");

    /* The array marker: a table with this metatable encodes as a JSON
     * array, even when empty. */
    lua_getfield(L, instance, "null");
    lua_newtable(L);
    lua_pushliteral(L, "anthropic.environments.array");
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_setfield(L, module, "array_mt");
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
    lua_setfield(L, module, "encode");
    lua_settop(L, module);
    return 0;
}
