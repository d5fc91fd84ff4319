-- The rockspec installs a working module: `luarocks make` into a temporary
-- tree (from a copy of the sources, so the checkout stays clean), then a
-- child Lua process loads the installed module and archives on the fake.
local fake = require "spec.support.fake"

local version = _VERSION:match("%d+%.%d+")
local ROCKSPEC = io.popen("ls anthropic-environments-*.rockspec"):read("*l")
local runs_here = type(jit) ~= "table" and (version == "5.1" or version == "5.4")

describe("the rockspec", function()
  it("lists every Lua module of the package", function()
    local rockspec = assert(io.open(ROCKSPEC)):read("*a")
    local p = io.popen("find lua -name '*.lua' | sort")
    local n = 0
    for path in p:lines() do
      local name = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/", ".")
      assert.truthy(rockspec:find(string.format('["%s"] = "%s"', name, path), 1, true), path)
      n = n + 1
    end
    p:close()
    assert.is_true(n > 20)
  end)

  it("has one version: version.lua's, in its name, its version and the core's define", function()
    local rockspec = assert(io.open(ROCKSPEC)):read("*a")
    local v = dofile("lua/anthropic/environments/version.lua")
    assert.matches("^%d+%.%d+%.%d+$", v)
    assert.are.equal("anthropic-environments-" .. v .. "-1.rockspec", ROCKSPEC)
    assert.are.equal(v, rockspec:match('\nversion = "([^"]+)%-%d+"'))
    assert.are.equal(v, rockspec:match("defines = { 'AE_VERSION=\"([^\"]+)\"' }"))
    assert.are.equal("v" .. v, rockspec:match('tag = "([^"]+)"'))
    -- and the Makefile compiles the core with the same
    assert.are.equal(v, require("anthropic.environments.core")._VERSION)
    assert.are.equal(v, require("anthropic.environments").VERSION)
  end)

  it("builds the core from every C source the Makefile does", function()
    local rockspec = assert(io.open(ROCKSPEC)):read("*a")
    local listed = {}
    for path in rockspec:match("sources = (%b{})"):gmatch('"(src/[^"]+%.c)"') do listed[path] = true end
    local p = io.popen("ls src/*.c")
    for path in p:lines() do assert.is_true(listed[path], path .. " is not in the rockspec's sources") end
    p:close()
  end)

  if not runs_here then
    pending("is checked under Lua 5.1 and 5.4 only")
    return
  end

  local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1")
    local out = p:read("*a")
    local ok, _, code = p:close()
    if type(ok) == "number" then code = ok end   -- Lua 5.1: close gives the status
    return out, (ok == true or code == 0)
  end

  it("installs with luarocks make into a tree, the module archives, and luarocks test runs the specs", function()
    local work = os.tmpname()
    os.remove(work)
    local tree = work .. "/tree"
    local q = fake.shell_quote
    -- A fresh tree: a copy of what the rockspec needs, without build/.
    local luarocks = string.format("env -u LD_PRELOAD LUAROCKS_CONFIG=deps/luarocks-debian.lua luarocks --lua-version=%s", version)
    local out, ok = sh(string.format(
      "mkdir -p %s && cp -r lua src bin spec fake deps .busted " .. ROCKSPEC .. " %s && cd %s && "
      .. "%s make --tree=%s " .. ROCKSPEC,
      q(work), q(work), q(work), luarocks, q(tree)))
    assert(ok, out)

    local server = fake.start()
    local code = [[
      local e = require "anthropic.environments"
      assert(package.searchpath == nil or package.searchpath("anthropic.environments", package.path):find("/tree/", 1, true))
      local client = e.new { api_key = "sk-rock", base_url = os.getenv("FAKE_URL") }
      local env = assert(client:archive("env_011CZkZ9X2dpNyB7HsEFoRfW"))
      print(env.name, e.is_archived(env))]]
    local lua = fake.interpreter()
    out, ok = sh(string.format("env -u LD_PRELOAD FAKE_URL=%s LUA_PATH=%s LUA_CPATH=%s %s -e %s",
      q(server.url), q(tree .. "/share/lua/" .. version .. "/?.lua;;"),
      q(tree .. "/lib/lua/" .. version .. "/?.so;;"), lua, q(code)))
    server:stop()
    assert(ok, out)
    assert.matches("python-data-analysis\ttrue", out, 1, true)

    -- luarocks test: the rockspec's test section runs busted on the
    -- installed core (one spec file here, not the whole suite again).
    out, ok = sh(string.format("cd %s && %s test --tree=%s %s -- spec/archive_spec.lua",
      q(work), luarocks, q(tree), ROCKSPEC))
    sh("rm -rf " .. q(work))
    assert(ok, out)
    assert.matches("%d+ successes / 0 failures / 0 errors", out)
  end)
end)
