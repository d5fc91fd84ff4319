-- A LuaRocks configuration for Debian, where busted, luasocket and
-- lua-cjson come as Debian packages (deps/debian-packages.txt) rather than
-- as rocks: it tells LuaRocks they are provided, so `luarocks make` and
-- `luarocks test` do not try to download them.
--   LUAROCKS_CONFIG=deps/luarocks-debian.lua luarocks test
rocks_provided = {
  busted = "2.1.1-1",
  luasocket = "3.1.0-1",
  ["lua-cjson"] = "2.1.0-1",
}
