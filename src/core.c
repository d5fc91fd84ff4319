/* anthropic.environments.core: the C core as one Lua module. Each binding
 * file registers its part (see binding.h); the Lua layer
 * (lua/anthropic/environments.lua) builds the API on top of it.
 *
 * Errors. Mistakes in the arguments (wrong types, unknown methods, header
 * lines with CR, LF or NUL, values out of range) raise a Lua error naming
 * what was wrong: they are the Lua layer's bugs. Nothing else raises:
 * whatever happens at run time -- out of memory in C, a request libcurl
 * refuses, a network failure, a closed client -- comes back as return
 * values, shaped per function. (Lua's own allocations raise Lua's memory
 * error, as in any Lua function.) */
#include "binding.h"
#include "transport.h"

/* The version, one value for the Lua layer and the core: the Makefile and
 * the rockspec pass lua/anthropic/environments/version.lua's. */
#ifndef AE_VERSION
#error "AE_VERSION must be defined (-DAE_VERSION=\"x.y.z\"): see lua/anthropic/environments/version.lua"
#endif

#if defined(_WIN32)
#define EXPORT __declspec(dllexport)
#else
#define EXPORT __attribute__((visibility("default")))
#endif

EXPORT int luaopen_anthropic_environments_core(lua_State *L) {
    const curl_version_info_data *info;

    if (transport_global_init() != 0) return luaL_error(L, "anthropic.environments: curl_global_init failed");

    lua_newtable(L);
    json_lua_open(L);   /* first: the others may decode */
    headers_lua_open(L);
    client_lua_open(L);
    webhook_lua_open(L);
    http_response_lua_open(L);
    clock_lua_open(L);

    info = curl_version_info(CURLVERSION_NOW);
    lua_pushstring(L, info->version);
    lua_setfield(L, -2, "curl_version");
    lua_pushstring(L, info->ssl_version ? info->ssl_version : "");
    lua_setfield(L, -2, "ssl_version");
    lua_pushboolean(L, (info->features & CURL_VERSION_HTTP2) != 0);
    lua_setfield(L, -2, "http2");
    lua_pushliteral(L, AE_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
