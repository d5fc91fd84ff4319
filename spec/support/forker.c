/* spec_forker: a tiny Lua module for the specs only (built into
 * build/<ver>/spec_forker.so, never installed). Real fork(), waitpid() and
 * _exit() so the fork-safety specs can fork a process that holds a client,
 * and a list of the process's open descriptors to check that nothing leaks.
 *
 *   local forker = require "spec_forker"
 *   local pid = forker.fork()            -- 0 in the child
 *   forker._exit(code)                   -- the child's end: no atexit, no flush
 *   local code = forker.wait(pid)        -- exit code, or nil, "signal N"
 *   local fds = forker.fds()             -- { [fd] = "socket:[123]", ... }
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/compat.h"

static int l_fork(lua_State *L) {
    pid_t pid;
    fflush(NULL);   /* no buffered output written twice */
    pid = fork();
    if (pid < 0) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)pid);
    return 1;
}

static int l_exit(lua_State *L) {
    _exit((int)luaL_optinteger(L, 1, 0));
    return 0;
}

static int l_wait(lua_State *L) {
    pid_t pid = (pid_t)luaL_checkinteger(L, 1);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            lua_pushnil(L);
            lua_pushstring(L, strerror(errno));
            return 2;
        }
    }
    if (WIFEXITED(status)) {
        lua_pushinteger(L, WEXITSTATUS(status));
        return 1;
    }
    lua_pushnil(L);
    lua_pushfstring(L, "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    return 2;
}

static int l_getpid(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

/* { [fd] = readlink target } for every open descriptor but the directory's. */
static int l_fds(lua_State *L) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int own;
    if (d == NULL) return luaL_error(L, "spec_forker: /proc/self/fd: %s", strerror(errno));
    own = dirfd(d);
    lua_newtable(L);
    while ((e = readdir(d)) != NULL) {
        char path[64], target[256];
        ssize_t n;
        int fd;
        if (e->d_name[0] == '.') continue;
        fd = atoi(e->d_name);
        if (fd == own) continue;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof target - 1);
        if (n < 0) continue;
        target[n] = '\0';
        lua_pushstring(L, target);
        lua_rawseti(L, -2, fd);
    }
    closedir(d);
    return 1;
}

static const luaL_Reg functions[] = {
    {"fork", l_fork},
    {"_exit", l_exit},
    {"wait", l_wait},
    {"getpid", l_getpid},
    {"fds", l_fds},
    {NULL, NULL}
};

__attribute__((visibility("default"))) int luaopen_spec_forker(lua_State *L) {
    lua_newtable(L);
    luaL_setfuncs(L, functions, 0);
    return 1;
}
