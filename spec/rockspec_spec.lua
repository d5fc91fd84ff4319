-- The rockspec installs a working rock, the way README.md's Install section
-- says, offline with Debian's packages (deps/luarocks-debian.lua): as a
-- normal user (--local, with a fresh HOME), as root into a tree, two Lua
-- versions into one tree, `luarocks test` against what was installed, and
-- what `luarocks make` and `make clean` leave in the checkout. Everything
-- happens in a copy of the sources, with fresh trees and HOME. These drive
-- luarocks and lua5.1/lua5.4 processes, whatever Lua busted runs on, so
-- they run once per `make test` (hosts.ONCE); the module list is checked
-- on every Lua.
local fake = require "spec.support.fake"
local hosts = require "spec.support.hosts"

local ROCKSPEC = io.popen("cd " .. fake.shell_quote(hosts.ROOT) .. " && ls anthropic-environments-*.rockspec"):read("*l")
local ENV_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"   -- in the fake's seed

local function load_rockspec()
  local env = {}
  local chunk
  if setfenv then
    chunk = assert(loadfile(hosts.ROOT .. "/" .. ROCKSPEC))
    setfenv(chunk, env)
  else
    chunk = assert(loadfile(hosts.ROOT .. "/" .. ROCKSPEC, "t", env))
  end
  chunk()
  return env
end

describe("the rockspec", function()
  it("lists every Lua module of the package", function()
    local rockspec = assert(io.open(hosts.ROOT .. "/" .. ROCKSPEC)):read("*a")
    local p = io.popen("cd " .. fake.shell_quote(hosts.ROOT) .. " && find lua -name '*.lua' | sort")
    local n = 0
    for path in p:lines() do
      local name = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/", ".")
      assert.truthy(rockspec:find(string.format('["%s"] = "%s"', name, path), 1, true), path)
      n = n + 1
    end
    p:close()
    assert.is_true(n > 20)
  end)

  it("declares libcrypto as an external dependency of the core, as it does libcurl", function()
    local spec = load_rockspec()
    assert.same({ header = "openssl/hmac.h", library = "crypto" }, spec.external_dependencies.CRYPTO)
    assert.same({ library = "curl" }, spec.external_dependencies.CURL)
    local core = spec.build.modules["anthropic.environments.core"]
    local function has(list, item)
      for _, v in ipairs(list) do if v == item then return true end end
      return false
    end
    for _, lib in ipairs { "CURL", "CRYPTO" } do
      assert.is_true(has(core.libraries, spec.external_dependencies[lib].library), lib)
      assert.is_true(has(core.incdirs, "$(" .. lib .. "_INCDIR)"), lib)
      assert.is_true(has(core.libdirs, "$(" .. lib .. "_LIBDIR)"), lib)
    end
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

  if not hosts.ONCE then
    pending("is installed with LuaRocks once per make test, under LuaJIT")
    return
  end

  local q = fake.shell_quote
  local work, trees, home, tree

  -- Output and success of a shell command (the exit status printed last:
  -- LuaJIT's close of a pipe does not give it).
  local function sh(cmd)
    local p = io.popen("{ " .. cmd .. "\n} 2>&1; echo \"exit $?\"")
    local out = p:read("*a")
    p:close()
    local code = tonumber(out:match("exit (%d+)\n$"))
    return out:gsub("exit %d+\n$", ""), code == 0
  end

  -- Runs a shell script in the copy, with the Debian configuration, the
  -- fresh HOME and none of Lua's variables from outside; with `path`, after
  -- `eval "$(luarocks --lua-version=<path> path [--tree=tree])"`.
  local function run(script, opts)
    opts = opts or {}
    local clean = "env -u LD_PRELOAD -u LUA_INIT -u LUAROCKS_CONFIG -u LUA_PATH -u LUA_CPATH"
    for _, v in ipairs { "5_1", "5_2", "5_3", "5_4" } do
      clean = clean .. " -u LUA_PATH_" .. v .. " -u LUA_CPATH_" .. v .. " -u LUA_INIT_" .. v
    end
    if opts.path then
      script = string.format('eval "$(luarocks --lua-version=%s %s path)"\n%s',
        opts.path, opts.tree and "--tree=" .. q(opts.tree) or "", script)
    end
    return sh(string.format("cd %s && %s HOME=%s LUAROCKS_CONFIG=%s %s sh -ec %s",
      q(work), clean, q(home), q(work .. "/deps/luarocks-debian.lua"), opts.env or "", q(script)))
  end

  -- What the builds left in the copy.
  local function compiled()
    local out = sh("cd " .. q(work) .. " && find . -name '*.o' -o -name '*.so' | sort")
    return out
  end

  setup(function()
    local base = os.tmpname()
    os.remove(base)
    work, trees, home = base .. "/checkout", base .. "/trees", base .. "/home"
    tree = trees .. "/root"
    local out, ok = sh(string.format("mkdir -p %s %s %s && cd %s && "
      .. "cp -r lua src bin spec fake deps scripts examples types .busted Makefile %s %s && "
      .. "find %s -name '*.o' -delete -o -name '*.so' -delete",
      q(work), q(trees), q(home), q(hosts.ROOT), ROCKSPEC, q(work), q(work)))
    assert(ok, out)
    -- A spec for `luarocks test`: the library it runs is the installed one.
    hosts.write_file(work .. "/spec/where_spec.lua", [[
      local function search(name, path)   -- Lua 5.1 has no package.searchpath
        for template in path:gmatch("[^;]+") do
          local file = template:gsub("%?", (name:gsub("%.", "/")))
          local f = io.open(file)
          if f then f:close() return file end
        end
      end
      describe("luarocks test", function()
        it("runs the library installed in the tree", function()
          local tree = assert(os.getenv("EXPECT_TREE"))
          local lua_file = search("anthropic.environments", package.path)
          local core_file = search("anthropic.environments.core", package.cpath)
          assert.equals(tree .. "/share/lua/", lua_file:sub(1, #tree + 11))
          assert.equals(tree .. "/lib/lua/", core_file:sub(1, #tree + 9))
          assert.equals("function", type(require("anthropic.environments").new))
        end)
      end)]])
  end)

  teardown(function()
    if work then sh("rm -rf " .. q(work:gsub("/checkout$", ""))) end
  end)

  it("installs as a normal user: --local, luarocks path, an example, the command, luarocks test", function()
    local out, ok = run("luarocks --lua-version=5.4 --local make")
    assert(ok, out)
    -- The hook removed what the builtin backend compiled in the checkout.
    assert.equals("", compiled())

    out, ok = run("scripts/with-fake lua5.4 examples/archive.lua " .. ENV_ID, { path = "5.4" })
    assert(ok, out)
    assert.matches("archived   " .. ENV_ID .. " (python-data-analysis)", out, 1, true)

    out, ok = run("command -v anthropic-environments\nscripts/with-fake anthropic-environments list",
      { path = "5.4" })
    assert(ok, out)
    assert.matches(home .. "/.luarocks/bin/anthropic-environments\n", out, 1, true)
    assert.matches(ENV_ID .. "  python-data-analysis", out, 1, true)

    -- As README.md does it: in the shell that ran `eval "$(luarocks path)"`.
    out, ok = run("luarocks --lua-version=5.4 --local test -- spec/archive_spec.lua spec/where_spec.lua",
      { path = "5.4", env = "EXPECT_TREE=" .. q(home .. "/.luarocks") })
    assert(ok, out)
    assert.matches("%d+ successes / 0 failures / 0 errors", out)
  end)

  it("installs as root into a tree, and Lua 5.1 in the checkout runs it (no core left in ./)", function()
    local out, ok = run("luarocks --lua-version=5.1 make --tree=" .. q(tree))
    assert(ok, out)
    -- the LuaCATS annotations are copied into the rock's directory
    out, ok = sh("ls " .. q(tree) .. "/lib/luarocks/rocks-5.1/anthropic-environments/*/types/anthropic-environments.lua")
    assert(ok, out)
    assert.equals("", compiled())
    -- Lua 5.1 looks in ./?.so first: a core left there by the 5.4 build
    -- before would fail to load (undefined symbols).
    out, ok = run("scripts/with-fake lua5.1 examples/archive.lua " .. ENV_ID, { path = "5.1", tree = tree })
    assert(ok, out)
    assert.matches("archived   " .. ENV_ID, out, 1, true)

    out, ok = run("luarocks --lua-version=5.1 test --tree=" .. q(tree) .. " -- spec/archive_spec.lua spec/where_spec.lua",
      { env = "EXPECT_TREE=" .. q(tree) })
    assert(ok, out)
    assert.matches("%d+ successes / 0 failures / 0 errors", out)
  end)

  it("luarocks test --tree fails, saying so, for a tree without the rock", function()
    local empty = trees .. "/empty"
    local out, ok = run("luarocks --lua-version=5.4 test --tree=" .. q(empty) .. " -- spec/archive_spec.lua")
    assert.is_false(ok)
    assert.matches("not installed for Lua 5.4 in " .. empty, out, 1, true)
  end)

  it("installs Lua 5.1 and 5.4 into one tree, each with a working command", function()
    local out, ok = run("luarocks --lua-version=5.4 make --tree=" .. q(tree))
    assert(ok, out)
    -- Shims that record which interpreter ran, ahead of the real ones.
    local shims = trees .. "/shims"
    assert(sh("mkdir -p " .. q(shims)))
    for _, v in ipairs { "5.1", "5.4" } do
      hosts.write_file(shims .. "/lua" .. v, string.format(
        '#!/bin/sh\necho lua%s >>%s\nexec /usr/bin/lua%s "$@"\n', v, q(trees .. "/ran"), v))
    end
    assert(sh("chmod +x " .. q(shims) .. "/*"))
    local bin = tree .. "/bin/"

    -- The tree's anthropic-environments: the version installed last.
    out, ok = run(q(bin .. "anthropic-environments") .. " --version")
    assert(ok, out)
    assert.matches("anthropic%-environments %d", out)
    assert.matches("/lua5.4' ", hosts.read_file(bin .. "anthropic-environments"), 1, true)

    -- anthropic-environments-lua VERSION: each version installed there.
    for _, v in ipairs { "5.1", "5.4" } do
      os.remove(trees .. "/ran")
      out, ok = run(string.format("PATH=%s:$PATH %s %s --version", q(shims), q(bin .. "anthropic-environments-lua"), v))
      assert(ok, out)
      assert.matches("anthropic%-environments %d", out)
      assert.equals("lua" .. v .. "\n", hosts.read_file(trees .. "/ran"))
    end
    out, ok = run(q(bin .. "anthropic-environments-lua") .. " 5.3 --version")
    assert.is_false(ok)
    assert.matches("not installed for Lua 5.3", out, 1, true)
  end)

  it("leaves no compiled file in the checkout after luarocks make --no-install and make clean", function()
    local out, ok = run("luarocks --lua-version=5.4 make --no-install")
    assert(ok, out)
    assert.matches("./anthropic/environments/core.so\n", compiled(), 1, true)
    assert.matches("./src/core.o\n", compiled(), 1, true)
    out, ok = run("make -s clean")
    assert(ok, out)
    assert.equals("", compiled())
  end)

  it("fails to build, naming the header, when libcrypto is not where it is looked for", function()
    local out, ok = run("luarocks --lua-version=5.4 make --tree=" .. q(trees .. "/nocrypto")
      .. " CRYPTO_DIR=" .. q(trees .. "/no-openssl"))
    assert.is_false(ok)
    assert.matches("openssl/hmac.h", out, 1, true)
  end)
end)
