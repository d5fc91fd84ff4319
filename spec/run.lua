-- `luarocks test` runs this script (the rockspec's test section) with the
-- Lua it was configured for. Arguments after `--` reach busted:
-- `luarocks test -- spec/archive_spec.lua`.
--
-- What it tests:
-- * with `luarocks test --tree=DIR` (or `--local`, the tree ~/.luarocks):
--   the rock installed in that tree for this Lua version, its Lua files
--   and its C core. LuaRocks does not pass the tree on, so it is read from
--   the command line of the luarocks process that started this script
--   (/proc). When the rock is not installed there, it says so and fails;
-- * otherwise, after `make all`, the modules under lua/ with the C core
--   built for this Lua (build/<version>/);
-- * or else the rock as Lua finds it on its paths (installed by `luarocks
--   make` as root, or in ~/.luarocks after `eval "$(luarocks path)"`).
-- The whole suite also needs `make all` (the CLI specs run bin/ from the
-- checkout, the fork specs a helper module); with only the rock installed,
-- name the spec files that test the library itself, e.g.
-- `luarocks test --tree=DIR -- spec/archive_spec.lua`.
pcall(require, "luarocks.loader")   -- rocks installed as test_dependencies

local version = type(jit) == "table" and "jit" or _VERSION:match("%d+%.%d+")
local lua_version = _VERSION:match("%d+%.%d+")

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- The tree named on the command line of the `luarocks ... test` process
-- among this process's ancestors: --tree=DIR, --tree DIR, or --local.
local function luarocks_tree()
  local pid = "self"
  for _ = 1, 6 do
    local stat = read("/proc/" .. pid .. "/stat")
    pid = stat and stat:match(".*%)%s+%S+%s+(%d+)")   -- after the last ")" of (comm)
    if not pid or pid == "0" or pid == "1" then return nil end
    local cmdline = read("/proc/" .. pid .. "/cmdline")
    if not cmdline then return nil end
    local argv = {}
    for word in cmdline:gmatch("([^%z]*)%z") do argv[#argv + 1] = word end
    local is_luarocks, is_test = false, false
    for _, word in ipairs(argv) do
      if word:match("luarocks[^/]*$") and not word:match("^%-") then is_luarocks = true
      elseif is_luarocks and word == "test" then is_test = true break end
    end
    if is_test then
      for i, word in ipairs(argv) do
        if word == "--" then break end
        local tree = word:match("^%-%-tree=(.+)$") or (word == "--tree" and argv[i + 1])
        if tree then return tree end
        if word == "--local" then return (os.getenv("HOME") or "") .. "/.luarocks" end
      end
      return nil
    end
  end
  return nil
end

local tree = luarocks_tree()
if tree then
  local lpath = tree .. "/share/lua/" .. lua_version .. "/?.lua;"
    .. tree .. "/share/lua/" .. lua_version .. "/?/init.lua"
  local cpath = tree .. "/lib/lua/" .. lua_version .. "/?.so"
  if not read(tree .. "/lib/lua/" .. lua_version .. "/anthropic/environments/core.so")
      or not read(tree .. "/share/lua/" .. lua_version .. "/anthropic/environments.lua") then
    io.stderr:write("spec/run.lua: anthropic-environments is not installed for Lua ", lua_version,
      " in ", tree, " (luarocks make --tree=", tree, " first)\n")
    os.exit(1)
  end
  package.path = lpath .. ";./?.lua;" .. package.path
  package.cpath = cpath .. ";" .. package.cpath
  -- busted puts its lpath (.busted: lua/ first) before package.path: name
  -- the tree's instead, so the installed Lua files are the ones tested.
  table.insert(arg, 1, "--lpath=" .. lpath .. ";./?.lua")
  table.insert(arg, 2, "--cpath=" .. cpath)
elseif read("build/" .. version .. "/anthropic/environments/core.so") then
  package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
  package.cpath = "build/" .. version .. "/?.so;" .. package.cpath
else
  -- The rock as Lua finds it (Lua files and core), not lua/ (.busted's lpath).
  package.path = "./?.lua;" .. package.path
  table.insert(arg, 1, "--lpath=./?.lua")
end

if not read("build/" .. version .. "/anthropic/environments/core.so") then
  local files = false
  for _, a in ipairs(arg) do
    if a:match("%.lua$") or a:match("^spec/?$") then files = true end
  end
  if not files then
    io.stderr:write("spec/run.lua: the whole suite also needs `make all` (build/", version,
      "/ is missing): the CLI, core and fork specs fail without it\n")
  end
end

local runner = require "busted.runner"
runner { standalone = false }
