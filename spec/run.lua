-- `luarocks test` runs this script (the rockspec's test section) with the
-- Lua it was configured for: the busted suite, with the modules under
-- lua/ and the C core built for this Lua (build/<version>/, from `make
-- all`) or else the one `luarocks make` installed. Arguments after `--`
-- reach busted: `luarocks test -- spec/archive_spec.lua`.
pcall(require, "luarocks.loader")   -- rocks installed as test_dependencies

local version = type(jit) == "table" and "jit" or _VERSION:match("%d+%.%d+")
package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
local built = "build/" .. version .. "/?.so"
local f = io.open("build/" .. version .. "/anthropic/environments/core.so", "rb")
if f then
  f:close()
  package.cpath = built .. ";" .. package.cpath
end

local runner = require "busted.runner"
runner { standalone = false }
