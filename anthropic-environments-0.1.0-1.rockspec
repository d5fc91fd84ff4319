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
    Archive (and manage) Anthropic Environments from plain Lua, OpenResty and
    programs that embed Lua. One C core over libcurl does the HTTP call and
    decodes the JSON through a private lua-cjson instance into nested tables.
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
      sources = { "src/core.c", "src/transport.c", "src/json_bridge.c" },
      libraries = { "curl", "pthread" },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
    },
  },
}
test = {
  type = "command",
  command = "make test",
}
