/* libFuzzer target over the whole response path: the fuzz input is served
 * verbatim as the raw HTTP answer (status line, headers, body) by a loopback
 * server thread, and client:archive() in Lua 5.4 must turn it into either an
 * environment table or nil plus an error table -- never a crash, a hang, a
 * raised error or a sanitizer report.
 *
 *   make fuzz FUZZ_SECONDS=60
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_anthropic_environments_core(lua_State *L);

/* The answer is a copy owned by the harness: libcurl may finish (and the
 * fuzzer free its input) while the server thread is still writing. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *answer;
static size_t answer_len;
static int listen_fd = -1;
static lua_State *L;

/* Serves each connection the current input, then closes it. */
static void *serve(void *unused) {
    (void)unused;
    for (;;) {
        char request[8192];
        size_t got = 0;
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) continue;
        /* Read the request head; archive sends no body. */
        while (got < sizeof request - 1) {
            ssize_t n = read(fd, request + got, sizeof request - 1 - got);
            if (n <= 0) break;
            got += (size_t)n;
            request[got] = '\0';
            if (strstr(request, "\r\n\r\n")) break;
        }
        pthread_mutex_lock(&lock);
        {
            size_t off = 0;
            while (off < answer_len) {
                ssize_t n = write(fd, answer + off, answer_len - off);
                if (n <= 0) break;
                off += (size_t)n;
            }
        }
        pthread_mutex_unlock(&lock);
        shutdown(fd, SHUT_RDWR);
        close(fd);
    }
    return NULL;
}

static const char *SCRIPT =
    "local environments = require 'anthropic.environments'\n"
    "local client = environments.new { base_url = ..., api_key = 'sk-fuzz',\n"
    "  max_retries = 0, timeout = 5, max_body = 1024 * 1024 }\n"
    "return function()\n"
    "  local env, err = client:archive('env_fuzz')\n"
    "  if env ~= nil then\n"
    "    assert(type(env) == 'table' and err == nil, 'a result must be a table')\n"
    "  else\n"
    "    assert(environments.is_error(err), 'an error must be an error table')\n"
    "    assert(type(err.kind) == 'string' and type(tostring(err)) == 'string')\n"
    "    assert(not tostring(err):find('sk-fuzz', 1, true), 'the key leaked into an error')\n"
    "  end\n"
    "end\n";

static void setup(void) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    pthread_t thread;
    char url[64];

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listen_fd, 16) != 0 || getsockname(listen_fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("fuzz: loopback server");
        abort();
    }
    pthread_create(&thread, NULL, serve, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(addr.sin_port));

    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_dostring(L, "package.path = 'lua/?.lua;' .. package.path");
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_anthropic_environments_core);
    lua_setfield(L, -2, "anthropic.environments.core");
    lua_pop(L, 2);
    if (luaL_loadstring(L, SCRIPT) != 0) abort();
    lua_pushstring(L, url);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        fprintf(stderr, "fuzz: setup failed: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_once");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (L == NULL) setup();
    if (size > 2 * 1024 * 1024) return 0;
    pthread_mutex_lock(&lock);
    free(answer);
    answer = malloc(size ? size : 1);
    if (answer == NULL) abort();
    memcpy(answer, data, size);
    answer_len = size;
    pthread_mutex_unlock(&lock);

    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_once");
    if (lua_pcall(L, 0, 0, 0) != 0) {
        fprintf(stderr, "fuzz: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
