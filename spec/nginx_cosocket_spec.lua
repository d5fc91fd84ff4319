-- The cosocket transport inside a real nginx (Debian's nginx-light with
-- its Lua module), against the fake API: every call, the bytes on the wire,
-- the connections the fake saw, which transport runs where, and that a
-- waiting call costs the worker nothing (errors and TLS:
-- spec/nginx_cosocket_errors_spec.lua). Each test sends Lua to
-- nginx (spec/support/nginx_runner.lua runs it in a content handler, or in
-- set_by_lua for the phase that cannot yield) and reads its results back.
-- LuaJIT only, once per `make test`, like spec/nginx_spec.lua.
local hosts = require "spec.support.hosts"
local cosocket = require "spec.support.cosocket"
local cjson = require "cjson"
local socket = require "socket"

if not hosts.ONCE then return end

local EXAMPLE_ID = cosocket.EXAMPLE_ID
local urlencode = cosocket.urlencode
local missing = cosocket.missing()

describe("the cosocket transport inside nginx", function()
  if missing then
    pending("nginx with its Lua module is not installed: " .. missing)
    return
  end

  local h = cosocket.suite()
  local run, results, client = h.run, h.results, h.client

  describe("every call", function()
    it("archive: the environment, over a cosocket, with exactly the bytes libcurl sends", function()
      local r = results(client() .. [[
        local env, err = c:archive(ctx.id)
        local curl = environments.new { base_url = ctx.api, api_key = ctx.key, transport = "curl" }
        local env2 = curl:archive(ctx.id)
        return env, err, lines, env2 and env2.id
      ]])
      local env, lines = r[1], r[3]
      assert.are.equal(EXAMPLE_ID, env.id)
      assert.are.equal("python-data-analysis", env.name)
      assert.are.same({ "pandas", "numpy" }, env.config.packages.pip)
      assert.are.equal(EXAMPLE_ID, r[4])
      assert.matches("^anthropic.environments: POST " .. h.api.url:gsub("%p", "%%%0") .. "/v1/environments/"
        .. EXAMPLE_ID .. "/archive %-> 200 %(request%-id req_fake_%d+, attempt 1, [%d.]+ ms, ngx%)$", lines[1])
      local reqs = h.api:requests()
      assert.are.equal(2, #reqs)
      local ours, curls = reqs[1], reqs[2]
      assert.are.equal("POST", ours.method)
      assert.are.equal("/v1/environments/" .. EXAMPLE_ID .. "/archive", ours.path)
      assert.are.equal("", ours.query)
      assert.are.equal("", ours.body)
      local expected = {}
      for i, hd in ipairs(h.EXPECTED_ARCHIVE_HEADERS) do expected[i] = { hd[1], hd[2] } end
      expected[1][2] = h.api.url:match("//(.*)$")
      expected[4][2] = curls.header_map["user-agent"]
      assert.are.same(expected, ours.headers)
      -- libcurl's request, header for header, in the same order.
      assert.are.same(curls.headers, ours.headers)
      assert.are.same({ curls.method, curls.path, curls.query, curls.body },
                      { ours.method, ours.path, ours.query, ours.body })
    end)

    it("create, retrieve, update, list, each and delete, all on one kept-alive connection", function()
      local r = results(client() .. [[
        local created = assert(c:create { name = "cosocket-env", description = "made in nginx",
          metadata = { team = "edge" } })
        local got = assert(c:retrieve(created.id))
        local updated = assert(c:update(created.id, { description = "changed" }))
        local page = assert(c:list { limit = 2 })
        local seen = 0
        for env, err in c:each { limit = 1 } do
          assert(env, tostring(err))
          seen = seen + 1
        end
        local deleted = assert(c:delete(created.id))
        return created, got, updated, page, seen, deleted
      ]])
      local created, got, updated, page, seen, deleted = r[1], r[2], r[3], r[4], r[5], r[6]
      assert.are.equal("cosocket-env", created.name)
      assert.are.equal(created.id, got.id)
      assert.are.equal("changed", updated.description)
      assert.are.equal(2, #page.data)
      assert.is_string(page.next_page)
      assert.are.equal(4, seen)   -- the three seeded ones and ours
      assert.are.same({ id = created.id, type = "environment_deleted" }, deleted)
      local reqs = h.api:requests()
      local lines = {}
      for i, q in ipairs(reqs) do
        lines[i] = q.method .. " " .. q.path .. (q.query ~= "" and "?" .. q.query or "")
        assert.are.equal(reqs[1].connection, q.connection, "request " .. i .. " on another connection")
      end
      assert.are.equal("POST /v1/environments", lines[1])
      assert.are.equal('{"description":"made in nginx","metadata":{"team":"edge"},"name":"cosocket-env"}',
        reqs[1].body)
      assert.are.equal("application/json", reqs[1].header_map["content-type"])
      assert.are.equal(tostring(#reqs[1].body), reqs[1].header_map["content-length"])
      assert.are.equal("GET /v1/environments/" .. created.id, lines[2])
      assert.is_nil(reqs[2].header_map["content-length"])
      assert.are.equal("POST /v1/environments/" .. created.id, lines[3])
      assert.are.equal('{"description":"changed"}', reqs[3].body)
      assert.are.equal("GET /v1/environments?limit=2", lines[4])
      assert.are.equal("GET /v1/environments?limit=1", lines[5])
      assert.matches("^GET /v1/environments%?limit=1&page=page_%x+$", lines[6])
      assert.are.equal("DELETE /v1/environments/" .. created.id, lines[#lines])
      assert.are.equal(5 + 4, #lines)   -- each: 4 pages of 1, the last without a next page
    end)

    it("reuses the worker's connection from one nginx request to the next", function()
      results(client() .. "return c:retrieve(ctx.id)")
      results(client() .. "return c:retrieve(ctx.id)")
      local reqs = h.api:requests()
      assert.are.equal(2, #reqs)
      assert.are.equal(reqs[1].connection, reqs[2].connection)
    end)

    it("archive_many: light threads, at most `concurrency` at once, results per id", function()
      h.api:config { delay_ms = 300 }
      local started = socket.gettime()
      local r = results(client() .. [[
        local ids = { ctx.id, "env_selfhosted01", "env_nope", "env_unrestricted01", ctx.id }
        local order = {}
        local res, errs = c:archive_many(ids, { concurrency = 2,
          on_result = function(id) order[#order + 1] = id end })
        return res, errs, order
      ]])
      local took = socket.gettime() - started
      local res, errs, order = r[1], r[2], r[3]
      assert.are.equal(EXAMPLE_ID, res[EXAMPLE_ID].id)
      assert.are.equal("env_selfhosted01", res.env_selfhosted01.id)
      assert.are.equal("env_unrestricted01", res.env_unrestricted01.id)
      assert.is_nil(res.env_nope)
      assert.are.equal(404, errs.env_nope.status)
      assert.are.equal("ngx", errs.env_nope.transport)
      assert.are.equal(4, #order)
      local reqs = h.api:requests()
      assert.are.equal(4, #reqs)
      local conns = {}
      for _, q in ipairs(reqs) do conns[q.connection] = true end
      local n = 0
      for _ in pairs(conns) do n = n + 1 end
      assert.are.equal(2, n, "two light threads, two connections")
      -- 4 archives of 0.3 s, two at a time: 0.6 s, not 1.2 s.
      assert.is_true(took >= 0.55 and took < 1.1, string.format("took %.3f s", took))
    end)

    it("archive_async: calls started together run together and are waited on", function()
      h.api:config { delay_ms = 300 }
      local started = socket.gettime()
      local r = results(client() .. [[
        local a = c:archive_async(ctx.id)
        local b = c:archive_async("env_selfhosted01")
        local polled = a:poll()
        local _, ea = a:wait()
        local _, eb = b:wait()
        return ea, eb, polled
      ]])
      local took = socket.gettime() - started
      assert.are.equal(EXAMPLE_ID, r[1].id)
      assert.are.equal("env_selfhosted01", r[2].id)
      assert.is_false(r[3])
      assert.is_true(took < 0.55, string.format("two archives of 0.3 s took %.3f s", took))
    end)

    it("archive_async: a wait with a timeout gives false, and the call goes on", function()
      h.api:config { delay_ms = 400 }
      local r = results(client() .. [[
        local a = c:archive_async(ctx.id)
        local t0 = ngx.now()
        local done = a:wait(0.1)
        ngx.update_time()
        local waited = ngx.now() - t0
        local _, env = a:wait()
        return done, waited, env
      ]])
      assert.is_false(r[1])
      assert.is_true(r[2] >= 0.09 and r[2] < 0.3, "waited " .. r[2])
      assert.are.equal(EXAMPLE_ID, r[3].id)
    end)
  end)

  -- Runs the same failing call over cosockets and over libcurl (forced, in
  -- the same handler) after scripting the fake the same way for each, and
  -- gives both errors.
  describe("which transport runs", function()
    it("a client made in init_by_lua runs its calls over cosockets in a handler", function()
      local r = results("local v, e = ctx.init_client:archive('env_nope'); return e")
      assert.are.equal("ngx", r[1].transport)
      assert.are.equal(404, r[1].status)
    end)

    it("in set_by_lua, where nothing yields, libcurl", function()
      local r = results(client() .. "local v, e = c:archive('env_nope'); return e, lines", "/run-set")
      assert.are.equal("curl", r[1].transport)
      assert.matches("%-> 404 .*, curl%)$", r[2][1])
    end)

    it("transport = 'ngx' where cosockets are not allowed raises at the call", function()
      local out = run(client("transport = 'ngx'") .. "return c:archive(ctx.id)", "/run-set")
      assert.is_false(out.ok)
      assert.matches("anthropic.environments.archive: transport 'ngx' cannot run in nginx's 'set' phase",
        out.error, 1, true)
      assert.matches("ngx.timer.at(0, ...)", out.error, 1, true)
    end)

    it("in an ngx.timer callback, cosockets", function()
      local r = results(client() .. [[
        local sema = require("ngx.semaphore").new(0)
        local got
        ngx.timer.at(0, function()
          local _, e = c:archive("env_nope")
          got = e
          sema:post(1)
        end)
        sema:wait(5)
        return got
      ]])
      assert.are.equal("ngx", r[1].transport)
    end)

    it("a proxy keeps the client on libcurl; forcing cosockets with one raises at new", function()
      local r = results(client("proxy = ctx.api, max_retries = 0") .. "local v, e = c:archive('env_nope'); return e")
      assert.are.equal("curl", r[1].transport)
      local out = run(client("proxy = ctx.api, transport = 'ngx'") .. "return 1")
      assert.is_false(out.ok)
      assert.matches("anthropic.environments.new: transport 'ngx' cannot honour option 'proxy'", out.error, 1, true)
    end)
  end)

  describe("nothing polls", function()
    local function cpu_seconds(pid)
      local stat = assert(hosts.read_file("/proc/" .. pid .. "/stat"))
      local fields = {}
      for f in stat:match("^%d+ %(.*%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = f end
      -- utime and stime are fields 14 and 15 of the line, 12 and 13 after the name
      return (tonumber(fields[12]) + tonumber(fields[13])) / 100
    end

    local function wakeups(pid)
      local status = assert(hosts.read_file("/proc/" .. pid .. "/status"))
      return tonumber(status:match("voluntary_ctxt_switches:%s*(%d+)"))
    end

    -- Starts an archive the fake holds for 2 s; while it waits, measures
    -- the worker for 1.2 s and pings it. Returns the CPU seconds and the
    -- wake-ups (voluntary context switches: each return from epoll_wait)
    -- of the worker meanwhile, and the pings' times.
    local function measure(opts)
      h.api:config { delay_ms = 2000 }
      local code = client(opts) .. "return c:archive(ctx.id)"
      local mime = require "mime"
      local slow = h.server:send("/run?code=" .. urlencode((mime.b64(code))) .. "&ctx="
        .. urlencode((mime.b64(cjson.encode(h.ctx)))))
      local deadline = socket.gettime() + 1
      while #h.api:requests() == 0 and socket.gettime() < deadline do socket.sleep(0.02) end
      assert.are.equal(1, #h.api:requests(), "the archive never reached the fake API")
      local cpu_before, woke_before = cpu_seconds(h.server.pid), wakeups(h.server.pid)
      socket.sleep(1.2)
      local cpu, woke = cpu_seconds(h.server.pid) - cpu_before, wakeups(h.server.pid) - woke_before
      local pings = {}
      for i = 1, 3 do
        local status, body, took = h.server:get("/ping", 1)
        assert(status == 200 and body == "pong\n", tostring(body))
        pings[i] = took
      end
      local status, body, took = slow.finish()
      assert.are.equal(200, status)
      local out = cjson.decode(body)
      assert.are.equal(EXAMPLE_ID, out.results["1"].id, body)
      assert.is_true(took >= 1.9, string.format("the archive took only %.3f s", took))
      return cpu, woke, pings
    end

    it("while an archive waits 2 s, /ping answers within 50 ms and the worker's CPU time stays flat", function()
      local cpu, woke, pings = measure()
      for i, t in ipairs(pings) do
        assert.is_true(t < 0.05, string.format("ping %d took %.3f s", i, t))
      end
      -- Clock ticks of 10 ms: generous.
      assert.is_true(cpu <= 0.02, string.format("the worker used %.2f s of CPU while the call waited", cpu))
      -- The worker slept in epoll the whole time: nginx woke it for nothing.
      assert.is_true(woke <= 3, string.format("the worker woke %d times in 1.2 s", woke))
    end)

    it("shows what the measure sees: libcurl inside nginx (forced) polls, waking the worker", function()
      local _, woke = measure("transport = 'curl'")
      assert.is_true(woke >= 30, string.format("the worker woke only %d times in 1.2 s", woke))
    end)
  end)
end)
