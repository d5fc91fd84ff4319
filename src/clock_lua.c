/* The core's clock for the Lua layer: core.now (monotonic seconds, the
 * transport's clock) and core.sleep (a real sleep, for hosts with no event
 * loop). */
#include <errno.h>
#include <time.h>

#include "binding.h"
#include "transport.h"

/* core.sleep(seconds): a real sleep for hosts with no event loop. */
static int core_sleep(lua_State *L) {
    lua_Number seconds = luaL_checknumber(L, 1);
    struct timespec ts, rem;
    if (!(seconds > 0)) return 0;
    if (seconds > 1e6) seconds = 1e6;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (lua_Number)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR) ts = rem;
    return 0;
}

/* core.now(): monotonic seconds, for elapsed times and deadlines. */
static int core_now(lua_State *L) {
    lua_pushnumber(L, (lua_Number)transport_now());
    return 1;
}

static const luaL_Reg clock_functions[] = {
    {"sleep", core_sleep},
    {"now", core_now},
    {NULL, NULL}
};

int clock_lua_open(lua_State *L) {
    luaL_setfuncs(L, clock_functions, 0);
    return 0;
}
