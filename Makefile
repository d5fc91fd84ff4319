# anthropic-environments: build, demo and tests. `make help` lists targets.

LUA_VERSIONS ?= 5.1 5.2 5.3 5.4 jit
DEMO_LUA     ?= lua5.4
FAKE_LUA     ?= lua5.3

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra
# The core: pure C (no Lua header: transport, answer parser, webhook HMAC,
# buffer), the JSON bridge, and one Lua binding file per concern (*_lua.c,
# each with its *_open), gathered by core.c.
SRC_PURE := src/buffer.c src/transport.c src/webhook.c src/http_response.c
SRC     := src/core.c src/binding.c src/client_lua.c src/headers_lua.c src/json_lua.c src/json_bridge.c \
           src/webhook_lua.c src/http_response_lua.c src/clock_lua.c $(SRC_PURE)
HDR     := src/compat.h src/binding.h src/headers_lua.h src/buffer.h src/answer_limits.h src/transport.h src/json_bridge.h \
           src/webhook.h src/http_response.h lua/anthropic/environments/version.lua
# One version for the Lua layer and the core: version.lua's.
VERSION := $(shell sed -n 's/^return "\(.*\)"$$/\1/p' lua/anthropic/environments/version.lua)
VERSION_DEF = -DAE_VERSION='"$(VERSION)"'

CURL_CFLAGS = $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   = $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
CRYPTO_CFLAGS = $(shell pkg-config --cflags libcrypto 2>/dev/null)
CRYPTO_LIBS   = $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)

lua_pc  = $(if $(filter jit,$(1)),luajit,lua$(1))
CORE    = build/$(1)/anthropic/environments/core.so
CORES  := $(foreach v,$(LUA_VERSIONS),$(call CORE,$(v)))
# spec/support/forker.c: fork(), waitpid(), _exit() for the fork-safety specs.
FORKER  = build/$(1)/spec_forker.so
FORKERS := $(foreach v,$(LUA_VERSIONS),$(call FORKER,$(v)))

export FAKE_LUA

FUZZ_SECONDS ?= 60
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
BUSTED_54  := lua5.4 /usr/bin/busted --output=utfTerminal

.PHONY: all host deps demo test lint sanitize valgrind fuzz bench bench-deps help clean

all: $(CORES) $(FORKERS)

# The module never links liblua: the host program provides the Lua API.
build/%/anthropic/environments/core.so: $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(VERSION_DEF) -fPIC -shared -fvisibility=hidden \
	  $(shell pkg-config --cflags $(call lua_pc,$*)) $(CURL_CFLAGS) $(CRYPTO_CFLAGS) \
	  -o $@ $(SRC) $(CURL_LIBS) $(CRYPTO_LIBS) -pthread

# For the specs only, never installed.
build/%/spec_forker.so: spec/support/forker.c src/compat.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC -shared -fvisibility=hidden \
	  $(shell pkg-config --cflags $(call lua_pc,$*)) -o $@ $<

build/asan/spec_forker.so: build/5.4/spec_forker.so
	@mkdir -p $(dir $@)
	cp $< $@

# The core built with AddressSanitizer and UBSan, for `make sanitize`.
build/asan/anthropic/environments/core.so: $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) -O1 -g $(SAN_FLAGS) $(WARN) $(VERSION_DEF) -fPIC -shared $(shell pkg-config --cflags lua5.4) \
	  $(CURL_CFLAGS) $(CRYPTO_CFLAGS) -o $@ $(SRC) $(CURL_LIBS) $(CRYPTO_LIBS) -pthread

build/fuzz/fuzz_response: fuzz/fuzz_response.c $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	clang -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(WARN) $(VERSION_DEF) \
	  $(shell pkg-config --cflags lua5.4) $(CURL_CFLAGS) $(CRYPTO_CFLAGS) -o $@ fuzz/fuzz_response.c $(SRC) \
	  -llua5.4 $(CURL_LIBS) $(CRYPTO_LIBS) -pthread

# libFuzzer over webhook verification: the secret, base64, the signature
# header. Pure C: no Lua.
build/fuzz/fuzz_webhook: fuzz/fuzz_webhook.c src/webhook.c src/webhook.h
	@mkdir -p $(dir $@)
	clang -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(WARN) \
	  $(CRYPTO_CFLAGS) -o $@ fuzz/fuzz_webhook.c src/webhook.c $(CRYPTO_LIBS)

# The bounded HTTP/1.x answer parser of the cosocket transport on its own:
# pure C, no Lua, no libcurl.
build/fuzz/fuzz_http_response: fuzz/fuzz_http_response.c src/http_response.c src/http_response.h src/answer_limits.h src/buffer.c src/buffer.h
	@mkdir -p $(dir $@)
	clang -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(WARN) \
	  -o $@ fuzz/fuzz_http_response.c src/http_response.c src/buffer.c

# examples/host: a C program embedding Lua 5.4 with the core compiled in
# (not loaded from build/), which polls an archive from a 60 Hz frame loop.
HOST_LUA := lua5.4
host: build/host/host
build/host/host: examples/host/host.c $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(VERSION_DEF) -Isrc $(shell pkg-config --cflags $(HOST_LUA)) $(CURL_CFLAGS) $(CRYPTO_CFLAGS) \
	  -DHOST_LUA_DIR='"$(CURDIR)/lua"' -o $@ examples/host/host.c $(SRC) \
	  $(shell pkg-config --libs $(HOST_LUA)) $(CURL_LIBS) $(CRYPTO_LIBS) -pthread -lm

deps:
	@scripts/install-deps

# Archive an environment: on the real API when a key is set (ENV_ID names
# the environment; ANTHROPIC_BASE_URL may point elsewhere), otherwise on the
# bundled fake API.
demo: deps
	@$(MAKE) -s --no-print-directory $(call CORE,$(patsubst lua%,%,$(DEMO_LUA:luajit=jit)))
	@scripts/demo $(DEMO_LUA)

# Warnings fail the test build.
test: deps
	@$(MAKE) -s --no-print-directory WARN="$(WARN) -Werror" \
	  all build/host/host build/asan/anthropic/environments/core.so build/asan/spec_forker.so \
	  build/fuzz/fuzz_response build/fuzz/fuzz_webhook build/fuzz/fuzz_http_response
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-tests $(LUA_VERSIONS)

# The whole busted suite on Lua 5.4 with the core under ASan + UBSan: any
# report aborts the run. The interpreter is not instrumented, so the ASan
# runtime is preloaded; leaks are checked by valgrind instead, as the
# interpreter's own allocations would drown LeakSanitizer's report.
sanitize: deps build/asan/anthropic/environments/core.so build/asan/spec_forker.so
	LD_PRELOAD=$$($(CC) -print-file-name=libasan.so) \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(BUSTED_54) --cpath="build/asan/?.so"

# The whole busted suite on Lua 5.4 under memcheck: no errors, nothing
# definitely lost.
valgrind: deps $(call CORE,5.4)
	valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --child-silent-after-fork=yes \
	  --trace-children=no $(BUSTED_54) --cpath="build/5.4/?.so"

# Coverage-guided fuzzing for FUZZ_SECONDS in all, shared as make test
# shares it: the response path through libcurl (half), the cosocket
# transport's answer parser and webhook verification (a quarter each).
# Each starts from its seed corpus (fuzz/corpus, fuzz/corpus_http_response,
# fuzz/corpus-webhook), where crashes found become regression inputs.
FUZZ_QUARTER = $(shell expr $(FUZZ_SECONDS) / 4 \| 1)
fuzz: deps build/fuzz/fuzz_response build/fuzz/fuzz_http_response build/fuzz/fuzz_webhook
	@mkdir -p build/fuzz/corpus build/fuzz/corpus_http_response build/fuzz/corpus-webhook
	build/fuzz/fuzz_response -max_total_time=$$(expr $(FUZZ_SECONDS) - 2 \* $(FUZZ_QUARTER)) -timeout=20 \
	  -rss_limit_mb=4096 -print_final_stats=1 build/fuzz/corpus fuzz/corpus
	build/fuzz/fuzz_http_response -max_total_time=$(FUZZ_QUARTER) -timeout=20 \
	  -rss_limit_mb=4096 -print_final_stats=1 build/fuzz/corpus_http_response fuzz/corpus_http_response
	build/fuzz/fuzz_webhook -max_total_time=$(FUZZ_QUARTER) -timeout=20 \
	  -rss_limit_mb=4096 -print_final_stats=1 build/fuzz/corpus-webhook fuzz/corpus-webhook

LUA_SOURCES := lua bin/anthropic-environments examples spec fake

lint: deps
	luacheck -q $(LUA_SOURCES)

# Side-by-side benchmarks (never part of `make test`): installs what they
# need (deps/bench-packages.txt, the official TypeScript SDK into
# bench/node_modules), starts its own servers on loopback, prints one table
# and writes it to bench/results.md. Takes about three minutes.
bench: deps bench-deps $(call CORE,jit) $(call CORE,5.4) build/bench/delay-server
	@bench/run

# The server answering after a delay, for the concurrency measurements.
build/bench/delay-server: bench/delay-server.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g $(WARN) -o $@ $<

bench-deps: bench/node_modules/@anthropic-ai/sdk/package.json
	@scripts/install-deps deps/bench-packages.txt

# The SDK at the version bench/package-lock.json records.
bench/node_modules/@anthropic-ai/sdk/package.json: bench/package.json bench/package-lock.json
	@scripts/install-deps deps/bench-packages.txt
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

help:
	@echo "make demo   archive an environment (fake API unless ANTHROPIC_API_KEY is set)"
	@echo "make test   busted on Lua $(LUA_VERSIONS), then under ASan+UBSan and valgrind, then fuzzing"
	@echo "make lint       luacheck over every Lua file"
	@echo "make sanitize   busted (Lua 5.4) with the core under ASan + UBSan"
	@echo "make valgrind   busted (Lua 5.4) under valgrind memcheck"
	@echo "make fuzz       libFuzzer over the response path and the answer parser, FUZZ_SECONDS (60) in all"
	@echo "make bench      side-by-side benchmarks; writes bench/results.md (about 3 minutes)"
	@echo "make all    build the C core for each Lua version into build/"
	@echo "make host   build examples/host (build/host/host), the frame-loop host program"
	@echo "make clean  remove build/ and what luarocks make compiles in the checkout"

# Also what `luarocks make` compiles in the checkout (src/*.o and
# anthropic/environments/core.so, which Lua 5.1 would find through ./?.so).
clean:
	rm -rf build
	find src -name '*.o' -exec rm -f {} +
	rm -f anthropic/environments/core.so
	@rmdir anthropic/environments anthropic 2>/dev/null || true
