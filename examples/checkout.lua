-- Lets the examples run from a checkout before the library is installed
-- (`lua5.4 examples/archive.lua ID`, after `make all`): when
-- `require "anthropic.environments"` fails, the checkout's lua/ and the
-- core built for this interpreter (build/<5.x or jit>/) go on package.path
-- and package.cpath, found from this file's own location. An installed
-- library (LuaRocks) is used as it is. Each example loads this file with
--   dofile((arg[0]:match("^(.*/)") or "./") .. "checkout.lua")
if pcall(require, "anthropic.environments") then return end
for name in pairs(package.loaded) do
  if name:find("^anthropic%.environments") then package.loaded[name] = nil end
end
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local root = dir .. "../"
local version = type(jit) == "table" and "jit" or _VERSION:match("%d+%.%d+")
package.path = root .. "lua/?.lua;" .. package.path
package.cpath = root .. "build/" .. version .. "/?.so;" .. package.cpath
