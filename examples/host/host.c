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
 *   build/host/host [--lua-dir DIR] [--timeout SECONDS] --worker ENVIRONMENT_ID
 *                   [--work-ms MS] [--ttl SECONDS]
 *
 * --blocking archives with the blocking client:archive() in the first frame
 * instead, to show what one stalled frame looks like.
 *
 * --worker serves a self-hosted environment from the same frame loop: it
 * long-polls the work queue with client:work_poll_async(), leases the item
 * it gets with client:work_lease() (ack, then heartbeats), calls
 * lease:poll() every frame while the "work" runs for --work-ms (default
 * 3000), then lease:finish() and polls until the item is stopped. It stops
 * early when the server asks (state "stopping") and exits 1 when the lease
 * is lost. Every request is a call in flight across frames: no heartbeat
 * ever waits inside a frame.
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

/* Calls obj:name(...) with the `nargs` values on top of the stack as its
 * arguments, leaving `nresults` results. -1 on a Lua error, printed. */
static int call_method(lua_State *L, int obj, const char *name, int nargs, int nresults) {
    lua_getfield(L, obj, name);
    lua_pushvalue(L, obj);
    lua_rotate(L, -(nargs + 2), 2);
    if (lua_pcall(L, nargs + 1, nresults, 0) != LUA_OK) {
        fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* The pacing of the frame loop: a frame lasts from its start to the next
 * one's; the longest is kept. */
typedef struct {
    double started, frame_start, next_frame, longest;
    long frames;
} frames_t;

static void frames_begin(frames_t *f) {
    f->started = f->frame_start = f->next_frame = now_ms();
    f->longest = 0;
    f->frames = 0;
}

/* Sleeps to the next 1/60 s boundary and starts the next frame. */
static void frames_next(frames_t *f) {
    double t;
    f->next_frame += FRAME_NS / 1e6;
    sleep_until(f->next_frame);
    t = now_ms();
    if (t - f->frame_start > f->longest) f->longest = t - f->frame_start;
    f->frame_start = t;
    if (t > f->next_frame + FRAME_NS / 1e6) f->next_frame = t;   /* fell behind: do not rush */
}

/* The last frame, cut short when the loop ends in it. */
static void frames_end(frames_t *f) {
    double t = now_ms();
    if (t - f->frame_start > f->longest) f->longest = t - f->frame_start;
}

/* --worker: polls, leases and works one item of env_id's queue, one step
 * per frame. 0 done (stopped), 1 the API failed, the lease was lost or time
 * ran out, 2 a Lua error. The client is at `client`. */
static int run_worker(lua_State *L, int client, const char *env_id, double timeout_s,
                      double work_ms, double ttl, frames_t *f) {
    enum { POLLING, WORKING, FINISHING } phase = POLLING;
    int call = 0, lease = 0, status = 1;
    double work_start = 0;
    char state[32] = "";

    frames_begin(f);
    for (;;) {
        f->frames++;
        if (phase == POLLING) {
            if (call == 0) {   /* a long poll of up to 500 ms, in flight across frames */
                lua_pushstring(L, env_id);
                lua_createtable(L, 0, 2);
                lua_pushinteger(L, 500);
                lua_setfield(L, -2, "block_ms");
                lua_pushliteral(L, "examples-host");
                lua_setfield(L, -2, "worker_id");
                if (call_method(L, client, "work_poll_async", 2, 1) != 0) return 2;
                call = lua_gettop(L);
            } else {
                int done = poll_call(L, call);
                if (done < 0) return 2;
                if (done == 1 && lua_istable(L, -2)) {   /* an item: lease it */
                    lua_getfield(L, -2, "id");
                    printf("claimed %s\n", lua_tostring(L, -1));
                    lua_pop(L, 1);
                    lua_pushstring(L, env_id);
                    lua_pushvalue(L, -3);          /* the item */
                    lua_createtable(L, 0, 1);
                    if (ttl > 0) {
                        lua_pushinteger(L, (lua_Integer)ttl);
                        lua_setfield(L, -2, "desired_ttl_seconds");
                    }
                    if (call_method(L, client, "work_lease", 3, 1) != 0) return 2;
                    lua_replace(L, call);          /* the lease takes the call's slot */
                    lua_pop(L, 2);                 /* the item and the nil error */
                    lease = call;
                    call = 0;
                    phase = WORKING;
                    work_start = now_ms();
                } else if (done == 1 && lua_toboolean(L, -2) == 0 && lua_isnil(L, -1)) {
                    lua_pop(L, 3);                 /* no work: poll again */
                    call = 0;
                } else if (done == 1) {
                    fprintf(stderr, "host: %s\n", luaL_tolstring(L, -1, NULL));
                    break;
                }
            }
        } else {
            const char *now_state;
            if (call_method(L, lease, "poll", 0, 2) != 0) return 2;
            now_state = lua_tostring(L, -2);
            if (now_state && strcmp(now_state, state) != 0) {
                snprintf(state, sizeof state, "%s", now_state);
                printf("lease: %s\n", state);
            }
            if (strcmp(state, "lost") == 0) {
                fprintf(stderr, "host: the lease was lost: %s\n", luaL_tolstring(L, -1, NULL));
                break;
            }
            if (strcmp(state, "stopped") == 0) {
                lua_getfield(L, lease, "heartbeats");
                lua_getfield(L, lease, "work_id");
                printf("stopped %s after %d heartbeats\n", lua_tostring(L, -1), (int)lua_tointeger(L, -2));
                status = lua_isnil(L, -3) ? 0 : 1;   /* the stop's error, if any */
                break;
            }
            lua_pop(L, 2);
            if (phase == WORKING && (strcmp(state, "stopping") == 0 || now_ms() - work_start >= work_ms)) {
                if (call_method(L, lease, "finish", 0, 0) != 0) return 2;
                phase = FINISHING;
            }
        }
        if (f->frame_start - f->started > timeout_s * 1e3) {
            fprintf(stderr, "host: the work was not done after %.0f s\n", timeout_s);
            break;
        }
        frames_next(f);
    }
    frames_end(f);
    return status;
}

static int usage(void) {
    fprintf(stderr, "usage: host [--lua-dir DIR] [--timeout SECONDS] [--blocking] ENVIRONMENT_ID\n"
                    "       host [--lua-dir DIR] [--timeout SECONDS] --worker ENVIRONMENT_ID"
                    " [--work-ms MS] [--ttl SECONDS]\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *lua_dir = HOST_LUA_DIR, *id = NULL;
    double timeout_s = 30, work_ms = 3000, ttl = 0;
    frames_t f;
    int i, client, call = 0, state = 0, status = 1, blocking = 0, worker = 0;
    lua_State *L;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--lua-dir") == 0 && i + 1 < argc) lua_dir = argv[++i];
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) timeout_s = atof(argv[++i]);
        else if (strcmp(argv[i], "--blocking") == 0) blocking = 1;
        else if (strcmp(argv[i], "--worker") == 0) worker = 1;
        else if (strcmp(argv[i], "--work-ms") == 0 && i + 1 < argc) work_ms = atof(argv[++i]);
        else if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) ttl = atof(argv[++i]);
        else if (argv[i][0] == '-' || id != NULL) return usage();
        else id = argv[i];
    }
    if (id == NULL || !(timeout_s > 0) || (worker && blocking) || !(work_ms >= 0) || !(ttl >= 0)) return usage();

    L = luaL_newstate();
    if (L == NULL) return 2;
    luaL_openlibs(L);
    if (register_library(L, lua_dir) != 0 || new_client(L) != 0) {
        lua_close(L);
        return 2;
    }
    client = lua_gettop(L);

    if (worker) {
        status = run_worker(L, client, id, timeout_s, work_ms, ttl, &f);
        printf("longest frame: %.1f ms (%ld frames, %.0f ms in all)\n", f.longest, f.frames,
               now_ms() - f.started);
        lua_close(L);
        return status;
    }

    /* The frame loop. Each frame: start the archive (first frame) or poll
     * it, then (a real host would update and draw here) sleep to the next
     * 1/60 s boundary. A frame lasts from its start to the next one's. */
    frames_begin(&f);
    for (;;) {
        f.frames++;
        if (f.frames == 1 && blocking) {
            state = archive_blocking(L, client, id);
            break;
        } else if (f.frames == 1) {
            if (start_archive(L, client, id) != 0) {
                lua_close(L);
                return 2;
            }
            call = lua_gettop(L);
        } else {
            state = poll_call(L, call);
            if (state != 0) break;
        }
        if (f.frame_start - f.started > timeout_s * 1e3) {
            fprintf(stderr, "host: the archive was not done after %.0f s\n", timeout_s);
            break;
        }
        frames_next(&f);
    }
    frames_end(&f);   /* the last frame, which saw the call done */

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
    printf("longest frame: %.1f ms (%ld frames, %.0f ms in all)\n", f.longest, f.frames, now_ms() - f.started);
    lua_close(L);
    return status;
}
