-- A LuaRocks configuration for Debian, where busted, luasocket and
-- lua-cjson come as Debian packages (deps/debian-packages.txt) rather than
-- as rocks: it tells LuaRocks they are provided, so `luarocks make` and
-- `luarocks test` do not try to download them (without it, `luarocks make`
-- fails offline: "Could not satisfy dependency lua-cjson >= 2.1.0"). It
-- stands in for the user's configuration; Debian's system one
-- (/etc/luarocks/config-5.x.lua) is still read. README.md's Install section:
--   export LUAROCKS_CONFIG="$PWD/deps/luarocks-debian.lua"
--   luarocks --lua-version=5.4 make
rocks_provided = {
  busted = "2.1.1-1",
  luasocket = "3.1.0-1",
  ["lua-cjson"] = "2.1.0-1",
}
