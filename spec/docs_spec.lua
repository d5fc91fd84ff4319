-- The docs run: every fenced block of README.md, CONTRIBUTING.md, docs/*.md
-- and fake/README.md that shows code is run as CONTRIBUTING.md ("Docs that
-- run") says, against the fake API, so a doc that goes stale fails the
-- suite.
--
--   ```lua       run by lua5.4 as a child process, from the checkout, after a
--                prelude that defines `environments` and `client` (globals);
--                ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY name the fake;
--                it must exit 0. A block with a top-level describe( is a
--                busted spec, run by busted on lua5.4 instead
--   ```c         a fragment of examples/host/host.c (which spec/host_spec.lua
--                builds and runs): compiled (cc -fsyntax-only, Lua 5.4's
--                headers) as a function's body, with L, call,
--                path_of_its_file and module_name in scope
--   ```sh run    run by sh -e from the checkout, HOME a fresh directory,
--                the same environment; /tmp/envs becomes a fresh directory
--                and the port 8080 a free one (in the example nginx config
--                it reads too); it must exit 0
--   ```output    right after one of those: its standard output, compared
--                with every number (digits, with a fraction) made "#"
--   ```nginx     a `location` block runs inside examples/openresty/nginx.conf
--                (the same as the example's location of that name, or added
--                to it) and is driven with a GET; any other nginx block is a
--                fragment, each of whose lines the example has
--   <!-- docs: norun REASON -->   on the line before a block: not run
--
-- Also: the version the docs show is environments.VERSION, and relative
-- links point at files and headings that exist.
--
-- The fake is reset before each block, with one work item queued in the
-- self-hosted environment env_selfhosted01. Runs once per `make test` (the
-- LuaJIT run, spec/support/hosts.lua ONCE): the Lua blocks on lua5.4, the
-- docs' Lua.
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"
local nginx = require "spec.support.nginx"
local docs = require "spec.support.docs"
local socket = require "socket"

if not hosts.ONCE then return end

local ROOT = hosts.ROOT
local KEY = "sk-ant-docs-test"
local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local PRELUDE = 'environments = require "anthropic.environments"; client = environments.new(); '

local shell_quote = hosts.shell_quote

local documents, blocks_of, normal, free_port, temp_dir =
  docs.documents, docs.blocks_of, docs.normal, docs.free_port, docs.temp_dir

local all = {}
for _, file in ipairs(documents()) do
  for _, b in ipairs(blocks_of(assert(hosts.read_file(ROOT .. "/" .. file)))) do
    b.file = file
    all[#all + 1] = b
  end
end

local function where(b) return b.file .. ":" .. b.line end

describe("the docs", function()
  local server, home

  setup(function()
    hosts.build("build/5.4/anthropic/environments/core.so")
    server = fake.start()
    home = temp_dir()
  end)
  teardown(function()
    server:stop()
    os.execute("rm -rf " .. shell_quote(home))
  end)
  before_each(function()
    server:reset()
    server:enqueue_work("env_selfhosted01")
  end)

  -- The environment a block runs in: a Lua block finds the library through
  -- LUA_PATH and LUA_CPATH; a shell block runs as a user's shell in the
  -- checkout would, without them (the examples find the checkout's
  -- themselves, through examples/checkout.lua).
  local function environment(with_paths)
    return string.format("env -u ANTHROPIC_AUTH_TOKEN -u ANTHROPIC_LOG -u ANTHROPIC_WEBHOOK_SIGNING_KEY "
      .. "-u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_INIT -u LUA_INIT_5_4 "
      .. "HOME=%s ANTHROPIC_BASE_URL=%s ANTHROPIC_API_KEY=%s%s",
      shell_quote(home), shell_quote(server.url), KEY, with_paths and string.format(" LUA_PATH=%s LUA_CPATH=%s",
        shell_quote(ROOT .. "/lua/?.lua;;"), shell_quote(ROOT .. "/build/5.4/?.so;;")) or "")
  end

  local function check_output(b, out, err)
    if b.output then
      assert.are.equal(normal(b.output), normal(out), where(b) .. ": the output differs\n" .. tostring(err))
    end
  end

  it("mark a block not to run only with a reason", function()
    for _, b in ipairs(all) do
      if b.norun then
        assert.is_true(#b.norun >= 20, where(b) .. ": say why the block does not run")
      end
    end
  end)

  -- C blocks are fragments of examples/host/host.c (which
  -- spec/host_spec.lua builds and runs): each must compile, with Lua 5.4's
  -- headers, as the body of a function that has these names in scope.
  for _, b in ipairs(all) do
    if b.lang == "c" and not b.norun then
      it("compile " .. where(b) .. " (c)", function()
        local dir = temp_dir()
        hosts.write_file(dir .. "/fragment.c", table.concat({
          "#include <lua.h>", "#include <lauxlib.h>", "#include <lualib.h>",
          "static lua_State *L;",
          "void fragment(const char *path_of_its_file, const char *module_name, int call);",
          "void fragment(const char *path_of_its_file, const char *module_name, int call) {",
          "#line " .. (b.line + 1) .. ' "' .. b.file .. '"',
          b.text, "}", "",
        }, "\n"))
        local out, err, code = hosts.run(string.format("cc -fsyntax-only -Werror=implicit-function-declaration -Werror=int-conversion "
          .. "-Werror=incompatible-pointer-types $(pkg-config --cflags lua5.4) %s",
          shell_quote(dir .. "/fragment.c")))
        os.execute("rm -rf " .. shell_quote(dir))
        assert.are.equal(0, code, where(b) .. " does not compile:\n" .. out .. err)
      end)
    end
  end

  -- GitHub's anchor of a heading: lower case, punctuation but - and _
  -- dropped, spaces made -.
  local function anchors(text)
    local out = {}
    for heading in text:gmatch("\n#+ ([^\n]+)") do
      out[(heading:lower():gsub("[^%w%s_%-]", ""):gsub("%s", "-"))] = true
    end
    return out
  end

  it("link to files and headings that exist", function()
    for _, file in ipairs(documents()) do
      local text = hosts.read_file(ROOT .. "/" .. file)
      local dir = file:match("^(.*/)") or ""
      for target in text:gmatch("%]%(([^)%s]+)%)") do
        if not target:match("^%a+:") then
          local path, anchor = target:match("^([^#]*)#?(.*)$")
          local linked = path == "" and text or hosts.read_file(ROOT .. "/" .. dir .. path)
          if not linked then   -- a directory
            local _, _, code = hosts.run("test -d " .. shell_quote(ROOT .. "/" .. dir .. path))
            if code == 0 then linked = "" end
          end
          assert.is_truthy(linked, file .. ": the link " .. target .. " points at nothing")
          if anchor ~= "" then
            assert.is_true(anchors("\n" .. linked)[anchor] == true,
              file .. ": the link " .. target .. " names no heading there")
          end
        end
      end
    end
  end)

  it("show an output only after a block that runs", function()
    for _, b in ipairs(all) do
      assert.are_not.equal("output", b.lang, where(b) .. ": an output block after no runnable block")
    end
  end)

  it("show this library's version (environments.VERSION, as the rockspec and the core) wherever they show one", function()
    local version = assert(hosts.read_file(ROOT .. "/lua/anthropic/environments/version.lua")):match('"([%d.]+)"')
    assert.is_string(version)
    -- the rockspec and the C core say the same
    local rockspec = hosts.run("cd " .. shell_quote(ROOT) .. " && ls *.rockspec"):gsub("%s+$", "")
    assert.are.equal("anthropic-environments-" .. version .. "-1.rockspec", rockspec)
    assert.truthy(hosts.read_file(ROOT .. "/" .. rockspec):find('\nversion = "' .. version:gsub("%.", "%%.") .. '%-1"'))
    assert.truthy(hosts.read_file(ROOT .. "/" .. rockspec):find([[defines = { 'AE_VERSION="]] .. version .. [["' }]], 1, true))
    for _, file in ipairs(documents()) do
      local text = hosts.read_file(ROOT .. "/" .. file)
      for before, v in text:gmatch("([^\n]?[^\n]?[^\n]?[^\n]?[^\n]?[^\n]?[^\n]?[^\n]?)(%f[%d.]%d+%.%d+%.%d+)%f[^%d.]") do
        if not (before:match("libcurl[ /]$") or before:match("sdk` $") or before:match(">= $")) then
          assert.are.equal(version, v, file .. ": a version that is not environments.VERSION, after '" .. before .. "'")
        end
      end
    end
  end)

  -- The examples run from the checkout as the docs say, `lua5.4
  -- examples/x.lua`, without LUA_PATH or LUA_CPATH, from any directory,
  -- on the public module only.
  describe("examples/*.lua", function()
    local function example(dir, script, args)
      return hosts.run(string.format("cd %s && %s timeout 30 lua5.4 %s %s",
        shell_quote(dir), environment(false), script, args))
    end

    it("archive.lua runs from the checkout and from elsewhere", function()
      local out, err, code = example(ROOT, "examples/archive.lua", EXAMPLE_ID)
      assert.are.equal(0, code, out .. err)
      assert.matches("^archived   " .. EXAMPLE_ID .. " %(python%-data%-analysis%)\n", out)
      out, err, code = example(home, shell_quote(ROOT .. "/examples/archive.lua"), "env_selfhosted01")
      assert.are.equal(0, code, out .. err)
      assert.matches("^archived   env_selfhosted01 ", out)
      out, err, code = example(ROOT .. "/examples", "archive.lua", "env_unrestricted01")
      assert.are.equal(0, code, out .. err)
    end)

    it("worker.lua runs one item from the checkout", function()
      local out, err, code = example(ROOT, "examples/worker.lua",
        "env_selfhosted01 --once --steps 2 --step-seconds 0.05")
      assert.are.equal(0, code, out .. err)
      assert.matches("\nstopped work_[%w_]+ after %d+ heartbeats\n$", out)
    end)

    it("use only the public module", function()
      local out = hosts.run("cd " .. shell_quote(ROOT) .. " && ls examples/*.lua")
      for file in out:gmatch("[^\n]+") do
        local text = assert(hosts.read_file(ROOT .. "/" .. file))
        for name in text:gmatch("require%s*%(?%s*[\"']([^\"']+)") do
          assert.is_true(name == "anthropic.environments" or not name:find("^anthropic"),
            file .. " requires the internal module " .. name)
        end
      end
    end)
  end)

  local sh_runs = {}   -- document -> its sh run blocks, in order
  for _, b in ipairs(all) do
    if b.lang == "lua" and not b.norun then
      it("run " .. where(b) .. " (lua)", function()
        local file = os.tmpname()
        os.remove(file)
        file = file .. "_spec.lua"
        local busted = b.text:find("\ndescribe%(") ~= nil
        hosts.write_file(file, busted and b.text or PRELUDE .. b.text)
        local out, err, code = hosts.run(string.format("cd %s && %s timeout 30 lua5.4 %s %s",
          shell_quote(ROOT), environment(true), busted and "/usr/bin/busted --cpath='build/5.4/?.so'" or "",
          shell_quote(file)))
        os.remove(file)
        assert.are.equal(0, code, where(b) .. " failed:\n" .. out .. err)
        check_output(b, out, err)
      end)
    elseif b.lang == "sh" and b.info:match("^run") and not b.norun and b.text:find("nginx -p") and nginx.missing() then
      pending(where(b) .. ": nginx with its Lua module is not installed: " .. nginx.missing())
    elseif b.lang == "sh" and b.info:match("^run") and not b.norun then
      -- The runnable shell blocks of one document run in order in one
      -- shell (a later block may use what an earlier one exported), in
      -- one temporary HOME: one spec per document, at its first block.
      local doc = sh_runs[b.file]
      if not doc then
        doc = {}
        sh_runs[b.file] = doc
        it("run " .. where(b) .. " (sh" .. ", and the document's later sh run blocks in the same shell)", function()
          local dir = temp_dir()
          local port = tostring(free_port())
          -- the example nginx config it reads listens on that port too
          local example = assert(hosts.read_file(ROOT .. "/examples/openresty/nginx.conf"))
          hosts.write_file(dir .. "/example.conf", (example:gsub("8080", port)))
          local parts = {}
          for i, block in ipairs(doc) do
            local text = block.text:gsub("/tmp/envs", dir):gsub("8080", port)
              :gsub("examples/openresty/nginx%.conf", dir .. "/example.conf")
            parts[#parts + 1] = string.format("echo '@@docs block %d@@'; echo '@@docs block %d@@' >&2\n%s", i, i, text)
          end
          local file = dir .. "/block.sh"
          hosts.write_file(file, table.concat(parts, "\n"))
          local out, err, code = hosts.run(string.format("cd %s && %s timeout 240 sh -e %s",
            shell_quote(ROOT), environment(), shell_quote(file)))
          -- an nginx a block started and did not stop
          local pid = hosts.read_file(dir .. "/logs/nginx.pid")
          if pid then os.execute("kill " .. pid:match("%d+") .. " 2>/dev/null") end
          os.execute("rm -rf " .. shell_quote(dir))
          local last = 0
          for n in (out .. err):gmatch("@@docs block (%d+)@@") do last = math.max(last, tonumber(n)) end
          assert.are.equal(0, code, where(doc[math.max(last, 1)]) .. " failed:\n" .. out .. err)
          local function part(text, i)
            return text:match("@@docs block " .. i .. "@@\n(.-)@@docs block ") or
                   text:match("@@docs block " .. i .. "@@\n(.*)$") or ""
          end
          for i, block in ipairs(doc) do check_output(block, part(out, i), part(err, i)) end
        end)
      end
      doc[#doc + 1] = b
    end
  end
end)

-- nginx blocks: the locations run inside the example's configuration.
describe("the docs' nginx blocks", function()
  local missing = nginx.missing()
  if missing then
    pending("nginx with its Lua module is not installed: " .. missing)
    return
  end

  local example = assert(hosts.read_file(ROOT .. "/examples/openresty/nginx.conf"))
  local function squash(s) return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")) end

  local locations, fragments = {}, {}
  for _, b in ipairs(all) do
    if b.lang == "nginx" and not b.norun then
      local path = b.text:match("^%s*location%s*=?%s*(%S+)%s*{")
      if path then
        locations[#locations + 1] = { block = b, path = path }
      else
        fragments[#fragments + 1] = b
      end
    end
  end

  it("show fragments of examples/openresty/nginx.conf", function()
    local lines = {}
    for l in example:gmatch("[^\n]+") do lines[squash(l:gsub("#.*", ""))] = true end
    for _, b in ipairs(fragments) do
      for l in b.text:gmatch("[^\n]+") do
        local directive = squash(l:gsub("#.*", ""))
        if directive ~= "" and directive ~= "}" then
          assert.is_true(lines[directive] == true,
            where(b) .. ": examples/openresty/nginx.conf has no line '" .. directive .. "'")
        end
      end
    end
  end)

  local api, server
  setup(function()
    api = fake.start()
    local conf = example:gsub("/path/to/anthropic%-environments", ROOT)
      :gsub("listen 127%.0%.0%.1:8080;", "listen 127.0.0.1:@PORT@;")
      :gsub("\npid logs/nginx%.pid;\n", "\n")   -- spec/support/nginx.lua gives it with -g
    local added = {}
    for _, l in ipairs(locations) do
      local at = conf:find("location = " .. l.path .. " {", 1, true)
      if at then
        -- the example's location of that name: the doc shows it as it is
        local depth, stop = 0, nil
        for i = at, #conf do
          local c = conf:sub(i, i)
          if c == "{" then depth = depth + 1 elseif c == "}" then
            depth = depth - 1
            if depth == 0 then stop = i break end
          end
        end
        l.same = squash(conf:sub(at, stop)) == squash(l.block.text)
      else
        added[#added + 1] = l.block.text
        l.same = true
      end
    end
    conf = conf:gsub("\n        location = /ping {", function(s)
      return "\n" .. table.concat(added, "\n") .. s
    end, 1)
    server = nginx.start { conf = conf, env = { ANTHROPIC_API_KEY = KEY, ANTHROPIC_BASE_URL = api.url } }
  end)
  teardown(function()
    if server then server:stop() end
    api:stop()
  end)
  before_each(function() api:reset() end)

  for _, l in ipairs(locations) do
    it("run " .. where(l.block) .. " (location " .. l.path .. ")", function()
      assert.is_true(l.same, where(l.block) .. ": differs from the example's location " .. l.path)
      local status, body = server:get(l.path .. "?id=" .. EXAMPLE_ID)
      if l.block.text:find("ngx.req.read_body", 1, true) then
        assert.is_true(status and status < 500, where(l.block) .. ": " .. tostring(status) .. "\n" .. server:error_log())
        return
      end
      assert.are.equal(200, status, where(l.block) .. ": " .. tostring(body) .. "\n" .. server:error_log())
      -- the archive it makes (in the handler, or in a timer after it)
      local deadline = socket.gettime() + 5
      while #api:requests() == 0 and socket.gettime() < deadline do socket.sleep(0.02) end
      local reqs = api:requests()
      assert.are.equal(1, #reqs, where(l.block))
      assert.are.equal("/v1/environments/" .. EXAMPLE_ID .. "/archive", reqs[1].path)
    end)
  end
end)
