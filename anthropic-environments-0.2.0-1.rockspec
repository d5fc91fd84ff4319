rockspec_format = "3.0"
package = "anthropic-environments"
version = "0.2.0-1"
source = {
  url = "git+https://github.com/anthropic-environments-lua/anthropic-environments.git",
  tag = "v0.2.0",
}
description = {
  summary = "Client for Anthropic's Environments API: a libcurl C core under a layered Lua API",
  detailed = [[
    Create, list, inspect, update, archive and delete Anthropic Environments
    from plain Lua, OpenResty and programs that embed Lua, or from the shell
    with the anthropic-environments command. A C core over libcurl moves the
    bytes and does the JSON; Lua modules, one concern each, check parameters,
    build requests, retry and schedule calls. The API is a beta.
  ]],
  homepage = "https://github.com/anthropic-environments-lua/anthropic-environments",
  issues_url = "https://github.com/anthropic-environments-lua/anthropic-environments/issues",
  license = "MIT",
  labels = { "anthropic", "api", "http", "curl" },
}
-- Lua 5.1 to 5.4 and LuaJIT are tested; nothing in the code refuses a
-- newer Lua, so no upper bound is set.
dependencies = {
  "lua >= 5.1",
  "lua-cjson >= 2.1.0",
}
external_dependencies = {
  -- Only the library is looked up: Debian keeps curl/curl.h in a multiarch
  -- include directory that the compiler searches but LuaRocks does not.
  CURL = { library = "curl" },
  -- libcrypto (OpenSSL): HMAC-SHA256 for webhook verification (src/webhook.c).
  CRYPTO = { header = "openssl/hmac.h", library = "crypto" },
}
build = {
  type = "builtin",
  modules = {
    ["anthropic.environments"] = "lua/anthropic/environments.lua",
    ["anthropic.environments.basics"] = "lua/anthropic/environments/basics.lua",
    ["anthropic.environments.batch"] = "lua/anthropic/environments/batch.lua",
    ["anthropic.environments.answer"] = "lua/anthropic/environments/answer.lua",
    ["anthropic.environments.call"] = "lua/anthropic/environments/call.lua",
    ["anthropic.environments.check"] = "lua/anthropic/environments/check.lua",
    ["anthropic.environments.cli"] = "lua/anthropic/environments/cli.lua",
    ["anthropic.environments.cli.args"] = "lua/anthropic/environments/cli/args.lua",
    ["anthropic.environments.cli.environment_commands"] = "lua/anthropic/environments/cli/environment_commands.lua",
    ["anthropic.environments.cli.help"] = "lua/anthropic/environments/cli/help.lua",
    ["anthropic.environments.cli.output"] = "lua/anthropic/environments/cli/output.lua",
    ["anthropic.environments.cli.webhook_commands"] = "lua/anthropic/environments/cli/webhook_commands.lua",
    ["anthropic.environments.cli.work_commands"] = "lua/anthropic/environments/cli/work_commands.lua",
    ["anthropic.environments.client"] = "lua/anthropic/environments/client.lua",
    ["anthropic.environments.errors"] = "lua/anthropic/environments/errors.lua",
    ["anthropic.environments.extra"] = "lua/anthropic/environments/extra.lua",
    ["anthropic.environments.headers"] = "lua/anthropic/environments/headers.lua",
    ["anthropic.environments.scheduler"] = "lua/anthropic/environments/scheduler.lua",
    ["anthropic.environments.wait"] = "lua/anthropic/environments/wait.lua",
    ["anthropic.environments.listing"] = "lua/anthropic/environments/listing.lua",
    ["anthropic.environments.methods"] = "lua/anthropic/environments/methods.lua",
    ["anthropic.environments.options"] = "lua/anthropic/environments/options.lua",
    ["anthropic.environments.pages"] = "lua/anthropic/environments/pages.lua",
    ["anthropic.environments.environment_calls"] = "lua/anthropic/environments/environment_calls.lua",
    ["anthropic.environments.retry"] = "lua/anthropic/environments/retry.lua",
    ["anthropic.environments.runtime"] = "lua/anthropic/environments/runtime.lua",
    ["anthropic.environments.schema"] = "lua/anthropic/environments/schema.lua",
    ["anthropic.environments.time"] = "lua/anthropic/environments/time.lua",
    ["anthropic.environments.transport"] = "lua/anthropic/environments/transport.lua",
    ["anthropic.environments.transport.curl"] = "lua/anthropic/environments/transport/curl.lua",
    ["anthropic.environments.transport.ngx"] = "lua/anthropic/environments/transport/ngx.lua",
    ["anthropic.environments.transport.ngx_wire"] = "lua/anthropic/environments/transport/ngx_wire.lua",

    ["anthropic.environments.transport.common"] = "lua/anthropic/environments/transport/common.lua",
    ["anthropic.environments.webhook"] = "lua/anthropic/environments/webhook.lua",
    ["anthropic.environments.work_calls"] = "lua/anthropic/environments/work_calls.lua",
    ["anthropic.environments.lease"] = "lua/anthropic/environments/lease.lua",
    ["anthropic.environments.version"] = "lua/anthropic/environments/version.lua",
    ["anthropic.environments.core"] = {
      sources = { "src/core.c", "src/binding.c", "src/client_lua.c", "src/headers_lua.c", "src/json_lua.c",
                  "src/json_bridge.c", "src/webhook_lua.c", "src/http_response_lua.c", "src/clock_lua.c",
                  "src/buffer.c", "src/transport.c", "src/webhook.c", "src/http_response.c" },
      -- The version of lua/anthropic/environments/version.lua, as the
      -- Makefile passes it (spec/rockspec_spec.lua checks they agree).
      defines = { 'AE_VERSION="0.2.0"' },
      libraries = { "curl", "crypto", "pthread" },
      incdirs = { "$(CURL_INCDIR)", "$(CRYPTO_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(CRYPTO_LIBDIR)" },
    },
  },
  -- Two Lua versions in one tree share its bin/: LuaRocks writes
  -- anthropic-environments for the version installed last (and keeps the
  -- one it replaces as anthropic-environments~). anthropic-environments-lua
  -- (a shell script, the same from every version) runs the command on any
  -- version installed in the tree: anthropic-environments-lua 5.1 list.
  install = {
    bin = {
      ["anthropic-environments"] = "bin/anthropic-environments",
      ["anthropic-environments-lua"] = "bin/anthropic-environments-lua",
    },
  },
  -- LuaCATS annotations of the public API, for lua-language-server.
  copy_directories = { "types" },
}
-- The builtin backend compiles in the directory `luarocks make` runs in:
-- src/*.o and anthropic/environments/core.so. Lua 5.1 and LuaJIT (and any
-- Lua after `luarocks path`) search ./?.so before the installed modules,
-- so that copy would shadow the installed core whenever Lua runs from the
-- checkout, even a core built for another Lua version. Once the rock is
-- installed, the hook removes them (only from a checkout of this
-- repository: src/core.c and this rockspec beside it). `make clean` removes
-- them too (after `luarocks make --no-install`, or a failed build).
hooks = {
  post_install = "if [ -f src/core.c ] && ls anthropic-environments-*.rockspec >/dev/null 2>&1; then"
    .. " find src -name '*.o' -exec rm -f {} +; rm -f anthropic/environments/core.so;"
    .. " rmdir anthropic/environments anthropic 2>/dev/null; fi; true",
}
-- `luarocks test` runs the busted suite (spec/, configured by .busted)
-- through spec/run.lua, under the Lua LuaRocks is configured for, after
-- `luarocks make`. The specs start the bundled fake API under lua5.3 with
-- lua-http (FAKE_LUA names another interpreter). Where busted and
-- luasocket come from the system rather than from rocks (Debian), tell
-- LuaRocks so: see CONTRIBUTING.md.
test_dependencies = {
  "busted >= 2.0",
  "luasocket",
}
test = {
  type = "command",
  script = "spec/run.lua",
}
