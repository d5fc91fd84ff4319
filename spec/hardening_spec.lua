-- Issue 10's review, as a hostile caller and a broken server would try it:
-- pagination that never ends, options smuggled through metatables, secrets
-- within reach of a returned table, lifecycle edges and inputs that must be
-- refused. Every case asserts what went over the wire.
local environments = require "anthropic.environments"
local core = require "anthropic.environments.core"
local fake = require "spec.support.fake"
local cjson = require "cjson"

local ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-ant-hardening-SECRET-42"
local ENV = '{"id":"env_cyc","type":"environment"}'

describe("hardening", function()
  local server, _, new_client = fake.suite(KEY)

  local function collect(iterator)
    local got, last_err, n = {}, nil, 0
    for item, err in iterator do
      n = n + 1
      assert(n < 100000, "the iteration does not end")
      if item then got[#got + 1] = item.id else last_err = err end
    end
    return got, last_err
  end

  describe("pagination", function()
    it("ends with a pagination error when cursors cycle A -> B -> A", function()
      server:script {
        { path = "/v1/environments", query = "", body = '{"data":[' .. ENV .. '],"next_page":"A"}' },
        { path = "/v1/environments", query = "page=A", times = true, body = '{"data":[' .. ENV .. '],"next_page":"B"}' },
        { path = "/v1/environments", query = "page=B", times = true, body = '{"data":[' .. ENV .. '],"next_page":"A"}' },
      }
      local got, err = collect(new_client():each())
      assert.are.equal(3, #got)
      assert.are.equal("pagination", err.kind)
      assert.matches('cursor "A" again after 3 pages', err.message, 1, true)
      assert.are.equal(3, #server:requests())
      assert.is_true(environments.is_error(err))
    end)

    it("ends endless empty pages with new cursors at max_pages, and the cap can be raised", function()
      server:script { { method = "GET", path = "/v1/environments", times = true, template = true,
        body = '{"data":[],"next_page":"page_endless_{{n}}"}' } }
      local got, err = collect(new_client():each(nil, { max_pages = 25 }))
      assert.are.same({}, got)
      assert.are.equal("pagination", err.kind)
      assert.matches("more than max_pages (25)", err.message, 1, true)
      assert.are.equal(25, #server:requests())
      server:reset()
      server:script { { method = "GET", path = "/v1/environments", times = true, template = true,
        body = '{"data":[],"next_page":"page_endless_{{n}}"}' } }
      collect(new_client():each(nil, { max_pages = 60 }))
      assert.are.equal(60, #server:requests())
      assert.are.equal(10000, require("anthropic.environments.pages").DEFAULT_MAX_PAGES)
    end)

    it("keeps its memory bounded over 60 pages of new 256 KiB cursors", function()
      local pad = ("x"):rep(256 * 1024)
      server:script { { method = "GET", path = "/v1/environments", times = true, template = true,
        body = '{"data":[' .. ENV .. '],"next_page":"c{{n}}' .. pad .. '"}' } }
      local n, at10, growth = 0, nil, nil
      collectgarbage()
      collectgarbage()
      for item, err in new_client():each(nil, { max_pages = 60 }) do
        if not item then
          assert.are.equal("pagination", err.kind)
          assert.matches("more than max_pages (60)", err.message, 1, true)
          break
        end
        n = n + 1
        if n == 10 or n == 60 then
          collectgarbage()
          collectgarbage()
          local kb = collectgarbage("count")
          if n == 10 then at10 = kb else growth = kb - at10 end
        end
      end
      assert.are.equal(60, n)
      assert.are.equal(60, #server:requests())
      -- Each cursor kept as it came would be 50 pages * 256 KiB = 12.5 MiB.
      assert.is_true(growth < 2048, string.format("grew by %.0f KiB over 50 pages", growth))
      local last = server:requests()[60]
      assert.are.equal(#("page=c59" .. pad), #last.query)
    end)

    it("still catches a cycle of long cursors A -> B -> A, and names the cursor shortly", function()
      local pad = ("y"):rep(100 * 1024)
      local a, b = "A" .. pad, "B" .. pad
      server:script {
        { path = "/v1/environments", query = "", body = '{"data":[' .. ENV .. '],"next_page":"' .. a .. '"}' },
        { path = "/v1/environments", query = "page=" .. a, times = true,
          body = '{"data":[' .. ENV .. '],"next_page":"' .. b .. '"}' },
        { path = "/v1/environments", query = "page=" .. b, times = true,
          body = '{"data":[' .. ENV .. '],"next_page":"' .. a .. '"}' },
      }
      local got, err = collect(new_client():each())
      assert.are.equal(3, #got)
      assert.are.equal("pagination", err.kind)
      assert.are.equal('the API gave page cursor "A' .. pad:sub(1, 63) .. '"... (102401 bytes) again after 3 pages: '
        .. "the listing would never end", err.message)
      assert.are.equal(3, #server:requests())
    end)

    it("tells long cursors apart that differ in one byte anywhere", function()
      local pages = require "anthropic.environments.pages"
      local base = ("z"):rep(4099)
      local seen = { [pages.digest(base)] = true }
      for _, at in ipairs { 1, 2, 3, 4, 5, 2048, 4096, 4097, 4098, 4099 } do
        for _, c in ipairs { "a", "{" } do
          local other = base:sub(1, at - 1) .. c .. base:sub(at + 1)
          local d = pages.digest(other)
          assert.is_nil(seen[d], at .. c)
          seen[d] = true
        end
      end
      assert.is_nil(seen[pages.digest(base .. "z")])
      assert.are.equal(pages.digest(base), pages.digest(("z"):rep(4099)))
    end)

    it("refuses a max_pages that is not a whole number of at least 1", function()
      local client = new_client()
      for _, bad in ipairs { 0, -1, 1.5, "10", math.huge } do
        assert.has_error(function() client:each(nil, { max_pages = bad }) end,
          "anthropic.environments.each: option 'max_pages' must be a whole number from 1 to 1000000000")
      end
      assert.has_error(function() client:list(nil, { max_pages = 3 }) end,
        "anthropic.environments.list: unknown option 'max_pages'")
    end)

    it("treats a false, null or non-object element of data as a decode error", function()
      for _, data in ipairs { "[false]", "[null]", "[" .. ENV .. ",3]", '["env"]' } do
        server:reset()
        server:script { { path = "/v1/environments", body = '{"data":' .. data .. ',"next_page":null}' } }
        local page, err = new_client():list()
        assert.is_nil(page)
        assert.are.equal("decode", err.kind)
        assert.matches("not an object", err.message, 1, true)
        server:script { { path = "/v1/environments", body = '{"data":' .. data .. ',"next_page":null}' } }
        local got, each_err = collect(new_client():each())
        assert.are.same({}, got)
        assert.are.equal("decode", each_err.kind)
      end
    end)
  end)

  describe("options and params are read raw, once", function()
    it("ignores what __index would supply: no injected header, no endless retries", function()
      local smuggled = setmetatable({}, { __index = {
        headers = { ["x-injected"] = "yes\r\nX-Injected: yes" },
        workspace_id = "w\r\nX-Injected: yes",
        betas = { "a\r\nX-Injected: yes" },
        max_retries = math.huge,
      } })
      server:script { { status = 500 }, { status = 500 }, { status = 500 }, { status = 500 } }
      local env, err = new_client():archive(ID, smuggled)
      assert.is_nil(env)
      assert.are.equal(3, err.attempts)   -- the default max_retries (2), not math.huge
      for _, r in ipairs(server:requests()) do
        assert.is_nil(r.header_map["x-injected"])
        assert.is_nil(r.header_map["anthropic-workspace-id"])
        assert.are.equal(environments.BETA, r.header_map["anthropic-beta"])
      end
    end)

    it("does not run __pairs, and reads params raw too", function()
      local opts = setmetatable({ timeout = 5 }, { __pairs = function() error("__pairs ran") end })
      assert(new_client():retrieve(ID, opts))
      local params = setmetatable({}, { __index = { name = "from __index" } })
      assert.has_error(function() new_client():create(params) end,
        "anthropic.environments.create: parameter 'name' is required")
      local config = setmetatable({ type = "cloud" }, { __index = { evil = true, networking = { type = "x" } } })
      local env = assert(new_client():create { name = "raw", config = config })
      assert.are.equal("raw", env.name)
      assert.are.equal('{"config":{"type":"cloud"},"name":"raw"}', server:requests()[2].body)
    end)

    it("refuses betas with holes rather than send only the first", function()
      assert.has_error(function() new_client():archive(ID, { betas = { "a", nil, "c" } }) end)
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("secrets", function()
    it("keeps the key off an async call: pairs and cjson.encode see none of it", function()
      server:config { delay_ms = 200 }
      local call = new_client():archive_async(ID)
      local seen = {}
      for k, v in pairs(call) do seen[#seen + 1] = tostring(k) .. "=" .. tostring(v) end
      assert.is_nil(table.concat(seen, " "):find(KEY, 1, true))
      local ok, text = pcall(cjson.encode, call)
      assert.is_true(not ok or not text:find(KEY, 1, true))
      assert.is_true((call:wait()))
    end)

    it("redacts the credentials from every field of an error page that echoes the request", function()
      local echo = "<html>you sent x-api-key: " .. KEY .. " and Bearer tok-" .. KEY .. "</html>"
      server:script { { status = 502, body = echo, headers = { ["x-echo"] = KEY } } }
      local _, err = new_client { max_retries = 0 }:archive(ID)
      assert.are.equal(502, err.status)
      assert.is_nil(err.body:find(KEY, 1, true))
      assert.matches("x-api-key: [redacted]", err.body, 1, true)
      assert.are.equal("[redacted]", err.headers["x-echo"])
      assert.is_nil(tostring(err):find(KEY, 1, true))
      -- a bearer token, and the API's error message
      local token = "tok-hardening-0123456789"
      server:script { { status = 400, json = { type = "error", error = { type = "invalid_request_error",
        message = "bad token Bearer " .. token } } } }
      local client = environments.new { base_url = server.url, auth_token = token, max_retries = 0 }
      _, err = client:archive(ID)
      assert.are.equal("bad token [redacted]", err.message)
    end)
  end)

  it("the command-line tool prints no control characters from a hostile server", function()
    server:script { { status = 400, json = { type = "error", error = { type = "invalid_request_error",
      message = "\27]0;owned\7\27[31mred\27[0m\r\n" } } } }
    local hosts = require "spec.support.hosts"
    local err_file = os.tmpname()
    local p = io.popen(string.format("cd %s && env -u LUA_PATH -u LUA_CPATH ANTHROPIC_API_KEY=%s ANTHROPIC_BASE_URL=%s %s bin/anthropic-environments get %s 2>%s; echo $?",
      fake.shell_quote(hosts.ROOT), KEY, server.url, fake.interpreter(), ID, err_file))
    local code = tonumber(p:read("*a"):match("(%d+)%s*$"))
    p:close()
    local stderr = hosts.read_file(err_file)
    os.remove(err_file)
    assert.are.equal(1, code)
    assert.is_nil(stderr:sub(1, -2):find("[%c\127]"), stderr)
    assert.matches(": ?]0;owned??[31mred?[0m?? [request-id", stderr, 1, true)
  end)

  describe("lifecycle", function()
    it("ends a call waiting to retry as cancelled when its client is closed", function()
      server:script { { status = 500, headers = { ["retry-after"] = "1" } } }
      local client = new_client()
      local call = client:archive_async(ID)
      local deadline = core.now() + 5
      while not call.retry_at and core.now() < deadline do call:poll() end
      assert.is_number(call.retry_at)
      client:close()
      local done, env, err = call:wait()
      assert.is_true(done)
      assert.is_nil(env)
      assert.are.equal("cancelled", err.kind)
      assert.are.equal("the client was closed", err.message)
      assert.are.equal(1, #server:requests())
    end)

    it("lets a raising logger's error through without wedging the call", function()
      local client = new_client { logger = function() error("logger broke", 0) end }
      assert.has_error(function() client:archive(ID) end, "logger broke")
      local call = client:archive_async(ID)
      local raised, done, env
      local deadline = core.now() + 5
      repeat
        local ok, d, e = pcall(call.poll, call)
        if not ok then raised = d else done, env = d, e end
      until done or core.now() > deadline
      assert.are.equal("logger broke", raised)
      assert.is_true(done)
      assert.are.equal(ID, env.id)
    end)

    it("runs archive_many with a sleep that yields to the caller's own scheduler", function()
      server:script { { status = 503 } }
      local yields = 0
      local co = coroutine.create(function()
        return new_client():archive_many({ ID, "env_selfhosted01" }, {
          concurrency = 1, sleep = function(s) coroutine.yield(s) end })
      end)
      local ok, a, b = coroutine.resume(co)
      while coroutine.status(co) ~= "dead" do
        assert(ok, a)
        yields = yields + 1
        ok, a, b = coroutine.resume(co)
      end
      assert(ok, a)
      assert.is_true(yields >= 1)
      assert.are.equal(ID, a[ID].id)
      assert.are.equal("env_selfhosted01", a.env_selfhosted01.id)
      assert.are.same({}, b)
    end)
  end)

  describe("limits", function()
    local function sockets()
      local p = io.popen("ls -l /proc/" .. fake.own_pid() .. "/fd 2>/dev/null")
      local n = 0
      for line in p:lines() do if line:find("socket:", 1, true) then n = n + 1 end end
      p:close()
      return n
    end

    it("keeps at most max_idle_connections open after a burst of archive_many", function()
      local ids = {}
      for i = 1, 12 do ids[i] = "env_burst_" .. i end
      for _, id in ipairs(ids) do server:put_environment { id = id, name = id, archived_at = environments.null } end
      server:config { delay_ms = 300 }
      collectgarbage()   -- the clients of earlier tests let go of theirs
      collectgarbage()
      local before = sockets()
      local client = new_client { max_idle_connections = 3 }
      local results = client:archive_many(ids, { concurrency = 12 })
      for _, id in ipairs(ids) do assert.are.equal(id, results[id].id) end
      local ports = {}
      for _, r in ipairs(server:requests()) do ports[r.connection] = true end
      local used = 0
      for _ in pairs(ports) do used = used + 1 end
      assert.is_true(used > 6, "the burst opened only " .. used .. " connections")
      -- the multi handle's own wake-up pair aside, at most 3 stay open
      assert.is_true(sockets() - before <= 3 + 2, (sockets() - before) .. " sockets stayed open")
      client:close()
      assert.are.equal(before, sockets())
      assert.has_error(function() environments.new { max_idle_connections = 0 } end,
        "anthropic.environments.new: option 'max_idle_connections' must be a whole number from 1 to 100000")
    end)

    it("ends a request libcurl cannot take (a 10 MB id) as invalid_request, not retried, nothing sent", function()
      local _, err = new_client():archive(string.rep("a", 10 * 1024 * 1024))
      assert.are.equal("invalid_request", err.kind)
      assert.are.equal(1, err.attempts)
      assert.matches("longer than libcurl accepts", err.message, 1, true)
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("inputs", function()
    it("refuses a base_url with a query, a fragment or user information, and keeps a path prefix", function()
      for _, url in ipairs { server.url .. "/?x=1", server.url .. "#", server.url .. "/v#frag",
                             "http://api.anthropic.com@127.0.0.1:1", "http://user:pw@127.0.0.1:1/" } do
        local ok, msg = pcall(environments.new, { base_url = url, api_key = KEY })
        assert.is_false(ok, url)
        assert.matches("base_url must not have", msg, 1, true)
      end
      local prefixed = environments.new { base_url = server.url .. "/prefix/", api_key = KEY }
      prefixed:archive(ID)
      assert.are.equal("/prefix/v1/environments/" .. ID .. "/archive", server:requests()[1].path)
    end)
  end)
end)
