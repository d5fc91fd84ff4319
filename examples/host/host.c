/* A host program that embeds Lua and never lets a frame stall.
 *
 * It links the C core in (the files of src/ compiled into this program, nothing
 * loaded from build/), registers it with luaL_requiref and the Lua layer
 * through package.preload, so `require "anthropic.environments"` never
 * searches the filesystem for our modules. Then it runs a 60 Hz frame loop:
 * the first frame starts an archive with client:archive_async(), every frame
 * calls call:poll() (which never blocks), and the loop ends when the call is
 * done. It prints the environment's name and the longest frame.
 *
 *   build/host/host [--lua-dir DIR] [--timeout SECONDS] [--blocking] ENVIRONMENT_ID
 *
 * --blocking archives with the blocking client:archive() in the first frame
 * instead, to show what one stalled frame looks like.
 *
 * Configured like the library: ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN,
 * and ANTHROPIC_BASE_URL. Exit status: 0 archived; 1 the API or the network
 * failed, or the call was not done in time; 2 usage or setup error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sys/stat.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#ifndef HOST_LUA_DIR
#define HOST_LUA_DIR "lua"   /* where anthropic/environments.lua lives */
#endif

#define FRAME_NS (1000000000L / 60)

/* The C core's entry point, compiled into this program (src/core.c). */
int luaopen_anthropic_environments_core(lua_State *L);

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Sleeps until `deadline_ms` on the monotonic clock (returns at once when
 * it has passed). */
static void sleep_until(double deadline_ms) {
    double left = deadline_ms - now_ms();
    struct timespec ts, rem;
    if (left <= 0) return;
    ts.tv_sec = (time_t)(left / 1e3);
    ts.tv_nsec = (long)((left - (double)ts.tv_sec * 1e3) * 1e6);
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR) ts = rem;
}

/* Compiles one Lua file into package.preload[name] (the package table is
 * at `preload`). -1 on failure, printed. */
static int preload_file(lua_State *L, int preload, const char *path, const char *name) {
    if (luaL_loadfile(L, path) != LUA_OK) {
        fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_setfield(L, preload, name);
    return 0;
}

/* Preloads every .lua file under dir (recursively) as module prefix.<name>:
 * the package's modules are found by walking its folder, so the host never
 * needs to know their list. */
static int preload_dir(lua_State *L, int preload, const char *dir, const char *prefix) {
    char path[4096], name[1024];
    struct dirent *e;
    int rc = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;   /* no sub-modules there */
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        struct stat st;
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            snprintf(name, sizeof name, "%s.%s", prefix, e->d_name);
            rc = preload_dir(L, preload, path, name);
        } else if (n > 4 && strcmp(e->d_name + n - 4, ".lua") == 0) {
            snprintf(name, sizeof name, "%s.%.*s", prefix, (int)(n - 4), e->d_name);
            rc = preload_file(L, preload, path, name);
        }
    }
    closedir(d);
    return rc;
}

/* Makes the library available to require:
 *   - the C core, opened now and put in package.loaded by luaL_requiref;
 *   - the Lua modules (anthropic/environments.lua and every file under
 *     anthropic/environments/), compiled from their files now and kept in
 *     package.preload, so require runs them without a path search. */
static int register_library(lua_State *L, const char *lua_dir) {
    char path[4096];
    int preload, rc;
    luaL_requiref(L, "anthropic.environments.core", luaopen_anthropic_environments_core, 0);
    lua_pop(L, 1);

    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    preload = lua_gettop(L);
    snprintf(path, sizeof path, "%s/anthropic/environments.lua", lua_dir);
    rc = preload_file(L, preload, path, "anthropic.environments");
    snprintf(path, sizeof path, "%s/anthropic/environments", lua_dir);
    if (rc == 0) rc = preload_dir(L, preload, path, "anthropic.environments");
    lua_pop(L, 2);
    return rc;
}

/* Pushes a client made from the environment variables (ANTHROPIC_API_KEY,
 * ANTHROPIC_BASE_URL, ...); on a Lua error prints it and returns -1. */
static int new_client(lua_State *L) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "anthropic.environments");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) goto fail;
    lua_getfield(L, -1, "new");
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) goto fail;
    lua_remove(L, -2);   /* the module */
    return 0;
fail:
    fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
    return -1;
}

/* Pushes client:archive_async(id) for the client at `client`: the request
 * is started, nothing waits for it. -1 on a Lua error, printed. */
static int start_archive(lua_State *L, int client, const char *id) {
    lua_getfield(L, client, "archive_async");
    lua_pushvalue(L, client);
    lua_pushstring(L, id);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
        return -1;
    }
    return 0;
}

/* The contrast: client:archive(id), which blocks until the answer is in,
 * leaving the environment and the error on the stack. -1 on a Lua error. */
static int archive_blocking(lua_State *L, int client, const char *id) {
    lua_getfield(L, client, "archive");
    lua_pushvalue(L, client);
    lua_pushstring(L, id);
    if (lua_pcall(L, 2, 2, 0) != LUA_OK) {
        fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
        return -1;
    }
    return 1;
}

/* call:poll() for the call at `call`: 0 pending; 1 done, leaving the
 * environment and the error (one of them nil) on the stack; -1 on a Lua
 * error, printed. */
static int poll_call(lua_State *L, int call) {
    lua_getfield(L, call, "poll");
    lua_pushvalue(L, call);
    if (lua_pcall(L, 1, 3, 0) != LUA_OK) {
        fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
        return -1;
    }
    if (!lua_toboolean(L, -3)) {
        lua_pop(L, 3);
        return 0;
    }
    lua_remove(L, -3);
    return 1;
}

static int usage(void) {
    fprintf(stderr, "usage: host [--lua-dir DIR] [--timeout SECONDS] [--blocking] ENVIRONMENT_ID\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *lua_dir = HOST_LUA_DIR, *id = NULL;
    double timeout_s = 30, longest = 0, started, frame_start, next_frame;
    long frames = 0;
    int i, client, call = 0, state = 0, status = 1, blocking = 0;
    lua_State *L;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--lua-dir") == 0 && i + 1 < argc) lua_dir = argv[++i];
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) timeout_s = atof(argv[++i]);
        else if (strcmp(argv[i], "--blocking") == 0) blocking = 1;
        else if (argv[i][0] == '-' || id != NULL) return usage();
        else id = argv[i];
    }
    if (id == NULL || !(timeout_s > 0)) return usage();

    L = luaL_newstate();
    if (L == NULL) return 2;
    luaL_openlibs(L);
    if (register_library(L, lua_dir) != 0 || new_client(L) != 0) {
        lua_close(L);
        return 2;
    }
    client = lua_gettop(L);

    /* The frame loop. Each frame: start the archive (first frame) or poll
     * it, then (a real host would update and draw here) sleep to the next
     * 1/60 s boundary. A frame lasts from its start to the next one's. */
    started = frame_start = next_frame = now_ms();
    for (;;) {
        double t;
        frames++;
        if (frames == 1 && blocking) {
            state = archive_blocking(L, client, id);
            break;
        } else if (frames == 1) {
            if (start_archive(L, client, id) != 0) {
                lua_close(L);
                return 2;
            }
            call = lua_gettop(L);
        } else {
            state = poll_call(L, call);
            if (state != 0) break;
        }
        if (frame_start - started > timeout_s * 1e3) {
            fprintf(stderr, "host: the archive was not done after %.0f s\n", timeout_s);
            break;
        }
        next_frame += FRAME_NS / 1e6;
        sleep_until(next_frame);
        t = now_ms();
        if (t - frame_start > longest) longest = t - frame_start;
        frame_start = t;
        if (t > next_frame + FRAME_NS / 1e6) next_frame = t;   /* fell behind: do not rush */
    }
    {
        double t = now_ms();   /* the last frame, which saw the call done */
        if (t - frame_start > longest) longest = t - frame_start;
    }

    if (state == 1) {
        if (lua_istable(L, -2)) {
            lua_getfield(L, -2, "name");
            lua_getfield(L, -3, "id");
            printf("archived %s: %s\n", lua_tostring(L, -1),
                   lua_isstring(L, -2) ? lua_tostring(L, -2) : "(no name)");
            lua_pop(L, 2);
            status = 0;
        } else {
            fprintf(stderr, "host: %s\n", luaL_tolstring(L, -1, NULL));
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
    }
    printf("longest frame: %.1f ms (%ld frames, %.0f ms in all)\n", longest, frames, now_ms() - started);
    lua_close(L);
    return status;
}
