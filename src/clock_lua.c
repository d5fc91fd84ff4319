/* The core's clock for the Lua layer: core.now (monotonic seconds, the
 * transport's clock) and core.sleep (a real sleep, for hosts with no event
 * loop); and core.yieldable (whether the calling code could yield). */
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

/* core.yieldable() -> whether the calling code could yield (false inside a
 * string.gsub callback or a table.sort comparator), for nginx, whose
 * coroutine table hides LuaJIT's coroutine.isyieldable; nil where the
 * runtime cannot tell (Lua 5.1 and 5.2, a LuaJIT without lua_isyieldable).
 * A C function runs in its caller's C frame: the answer is the caller's. */
#if LUA_VERSION_NUM >= 503
#define HAVE_ISYIELDABLE 1
#elif defined(__GNUC__) && !defined(_WIN32)
/* LuaJIT 2.1 has it under 5.1's API; PUC Lua 5.1 and 5.2 do not: a weak
 * reference, NULL where the host lacks it. */
extern int lua_isyieldable(lua_State *L) __attribute__((weak));
#define HAVE_ISYIELDABLE (lua_isyieldable != NULL)
#else
#define HAVE_ISYIELDABLE 0
#define lua_isyieldable(L) 0
#endif
static int core_yieldable(lua_State *L) {
    if (!HAVE_ISYIELDABLE) return 0;
    lua_pushboolean(L, lua_isyieldable(L));
    return 1;
}

static const luaL_Reg clock_functions[] = {
    {"sleep", core_sleep},
    {"now", core_now},
    {"yieldable", core_yieldable},
    {NULL, NULL}
};

int clock_lua_open(lua_State *L) {
    luaL_setfuncs(L, clock_functions, 0);
    return 0;
}
