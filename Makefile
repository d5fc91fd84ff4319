# anthropic-environments: build, demo and tests. `make help` lists targets.

LUA_VERSIONS ?= 5.1 5.2 5.3 5.4 jit
DEMO_LUA     ?= lua5.4
FAKE_LUA     ?= lua5.3

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra
SRC     := src/core.c src/transport.c src/json_bridge.c
HDR     := src/compat.h src/transport.h src/json_bridge.h
CURL_CFLAGS = $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   = $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

lua_pc  = $(if $(filter jit,$(1)),luajit,lua$(1))
CORE    = build/$(1)/anthropic/environments/core.so
CORES  := $(foreach v,$(LUA_VERSIONS),$(call CORE,$(v)))

export FAKE_LUA

.PHONY: all deps demo test help clean

all: $(CORES)

# The module never links liblua: the host program provides the Lua API.
build/%/anthropic/environments/core.so: $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC -shared -fvisibility=hidden \
	  $(shell pkg-config --cflags $(call lua_pc,$*)) $(CURL_CFLAGS) \
	  -o $@ $(SRC) $(CURL_LIBS) -pthread

deps:
	@scripts/install-deps

# Archive an environment: on the real API when a key is set (ENV_ID names
# the environment; ANTHROPIC_BASE_URL may point elsewhere), otherwise on the
# bundled fake API.
demo: deps
	@$(MAKE) --no-print-directory $(call CORE,$(patsubst lua%,%,$(DEMO_LUA:luajit=jit)))
	@scripts/demo $(DEMO_LUA)

test: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-tests $(LUA_VERSIONS)

help:
	@echo "make demo   archive an environment (fake API unless ANTHROPIC_API_KEY is set)"
	@echo "make test   busted on Lua $(LUA_VERSIONS), plus a valgrind leak check"
	@echo "make all    build the C core for each Lua version into build/"
	@echo "make clean  remove build/"

clean:
	rm -rf build
