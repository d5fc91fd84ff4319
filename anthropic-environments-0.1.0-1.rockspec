rockspec_format = "3.0"
package = "anthropic-environments"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/anthropic-environments-lua/anthropic-environments.git",
  tag = "v0.1.0",
}
description = {
  summary = "Client for Anthropic's Environments API: a libcurl C core with a thin Lua layer",
  detailed = [[
    Create, list, inspect, update, archive and delete Anthropic Environments
    from plain Lua, OpenResty and programs that embed Lua, or from the shell
    with the anthropic-environments command. One C core over libcurl does the
    HTTP call and the JSON; a thin Lua layer checks parameters and retries.
  ]],
  license = "MIT",
  labels = { "anthropic", "api", "http", "curl" },
}
dependencies = {
  "lua >= 5.1, < 5.5",
  "lua-cjson >= 2.1.0",
}
external_dependencies = {
  -- Only the library is looked up: Debian keeps curl/curl.h in a multiarch
  -- include directory that the compiler searches but LuaRocks does not.
  CURL = { library = "curl" },
}
build = {
  type = "builtin",
  modules = {
    ["anthropic.environments"] = "lua/anthropic/environments.lua",
    ["anthropic.environments.core"] = {
      sources = { "src/core.c", "src/transport.c", "src/json_bridge.c", "src/webhook.c" },
      libraries = { "curl", "crypto", "pthread" },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
    },
  },
  install = {
    bin = { ["anthropic-environments"] = "bin/anthropic-environments" },
  },
}
test = {
  type = "command",
  command = "make test",
}
