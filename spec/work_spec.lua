-- The work queue of a self-hosted environment against the fake API: every
-- call and its _async form, the exact requests they send, what they give
-- back, the one-liners, the argument checks, and the secret of a work item
-- kept out of tostring, encode, pairs, logs and errors.
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"

local KEY = "sk-ant-work-test"
local ENV = "env_selfhosted01"
local BASE = "/v1/environments/" .. ENV .. "/work"
local SECRET = "wsecret-DO-NOT-LOG-0123456789"
local null = environments.null

describe("the work queue", function()
  local server, _, new_client = fake.suite(KEY)

  -- The one work item of a fresh queue: { id = "work_1", secret = SECRET }.
  local function enqueue(spec)
    local s = spec or { id = "work_1", session_id = "session_1", secret = SECRET }
    return server:enqueue_work(ENV, { s })[1]
  end

  -- Runs the blocking call, then its _async form (waited), and checks that
  -- both sent `want` (method, path, query, body); returns both answers.
  local function both(client, name, args, want, between)
    local unpack = table.unpack or unpack   -- luacheck: ignore unpack
    local first, err1 = client[name](client, unpack(args, 1, args.n or #args))
    if between then between() end
    local done, second, err2 = client[name .. "_async"](client, unpack(args, 1, args.n or #args)):wait(10)
    assert.is_true(done)
    local reqs = server:requests()
    assert.are.equal(2, #reqs)
    for _, r in ipairs(reqs) do
      assert.are.equal(want.method, r.method)
      assert.are.equal(want.path, r.path)
      assert.are.equal(want.query or "", r.query)
      assert.are.equal(want.body or "", r.body)
      local h = r.header_map
      assert.are.equal(KEY, h["x-api-key"])
      assert.are.equal("managed-agents-2026-04-01", h["anthropic-beta"])
      assert.are.equal(want.body and "application/json" or nil, h["content-type"])
    end
    return first, second, err1, err2
  end

  local function raises(pattern, f, ...)
    local args = { n = select("#", ...), ... }
    local unpack = table.unpack or unpack   -- luacheck: ignore unpack
    local ok, msg = pcall(function() f(unpack(args, 1, args.n)) end)
    assert.is_false(ok, "expected an error matching " .. pattern)
    assert.matches(pattern, msg, 1, true)
    -- blamed on the caller: this file, not the library
    assert.matches("work_spec.lua:%d+:", msg)
  end

  describe("work_poll", function()
    it("sends block_ms, reclaim_older_than_ms and the Anthropic-Worker-ID header", function()
      enqueue()
      enqueue { id = "work_2", secret = SECRET .. "2" }
      local a, b = both(new_client { headers = { ["anthropic-worker-id"] = "ignored" } }, "work_poll",
        { ENV, { block_ms = 50, reclaim_older_than_ms = 60000, worker_id = "worker-7" } },
        { method = "GET", path = BASE .. "/poll", query = "block_ms=50&reclaim_older_than_ms=60000" })
      assert.are.same({ "work_1", "work_2" }, { a.id, b.id })
      for _, r in ipairs(server:requests()) do
        local names = {}
        for _, kv in ipairs(r.headers) do
          if kv[1]:lower() == "anthropic-worker-id" then names[#names + 1] = kv[1] .. ": " .. kv[2] end
        end
        assert.are.same({ "anthropic-worker-id: worker-7" }, names)   -- (the fake lower-cases names)
      end
      assert.are.equal("session", a.data.type)
      assert.are.equal(ENV, a.environment_id)
      assert.are.equal("queued", a.state)
    end)

    it("gives false when there is no work: a null body, an empty one or a 204", function()
      local client = new_client()
      for _, mode in ipairs { "null", "empty", "no_content" } do
        server:config { work_empty = mode ~= "null" and mode or nil }
        local v, err = client:work_poll(ENV)
        assert.is_false(v, mode)
        assert.is_nil(err)
        local done, av, aerr = client:work_poll_async(ENV, { block_ms = 1 }):wait(5)
        assert.are.same({ true, false }, { done, av })
        assert.is_nil(aerr)
      end
      assert.are.equal("", server:requests()[1].query)
      assert.are.equal("block_ms=1", server:requests()[2].query)
    end)

    it("returns API errors as nil, err", function()
      local v, err = new_client():work_poll("env_011CZkZ9X2dpNyB7HsEFoRfW")   -- a cloud environment
      assert.is_nil(v)
      assert.are.equal("api", err.kind)
      assert.are.equal(400, err.status)
      v, err = new_client():work_poll("env_nope")
      assert.is_nil(v)
      assert.are.equal(404, err.status)
    end)
  end)

  describe("the secret of a work item", function()
    it("is read as item.secret but never shown by tostring, encode or pairs", function()
      enqueue()
      local item = assert(new_client():work_poll(ENV))
      assert.are.equal(SECRET, item.secret)
      assert.is_true(environments.is_work_item(item))
      assert.are.equal("anthropic.environments work work_1 (queued)", tostring(item))
      local json = assert(environments.encode(item))
      assert.falsy(json:find(SECRET, 1, true))
      assert.matches('"id":"work_1"', json, 1, true)
      for k, v in pairs(item) do
        assert.are_not.equal("secret", k)
        assert.are_not.equal(SECRET, v)
      end
      -- the plain copy, for printing it on purpose
      local plain = require("anthropic.environments.work_calls").plain(item)
      assert.are.equal(SECRET, plain.secret)
      assert.is_nil(getmetatable(plain))
    end)

    it("is null on items other calls give", function()
      enqueue()
      local client = new_client()
      assert(client:work_poll(ENV))
      local item = assert(client:work_retrieve(ENV, "work_1"))
      assert.are.equal(null, item.secret)
      assert.are.equal(null, assert(client:work_ack(ENV, "work_1")).secret)
    end)

    it("never reaches the log or an error, even from an answer that cannot be read", function()
      local lines = {}
      local client = new_client { logger = function(l) lines[#lines + 1] = l end, max_retries = 0 }
      enqueue()
      assert(client:work_poll(ENV))
      server:script { { status = 200, body = '{"id":"work_9","secret":"' .. SECRET .. '",' },
                      { status = 200, body = '["' .. SECRET .. '"]' } }
      for _ = 1, 2 do
        local v, err = client:work_poll(ENV)
        assert.is_nil(v)
        assert.are.equal("decode", err.kind)
        assert.is_nil(err.body)
        assert.falsy(tostring(err):find(SECRET, 1, true))
        assert.falsy(environments.encode({ err.message, err.status }):find(SECRET, 1, true))
      end
      assert.are.equal(3, #lines)
      for _, l in ipairs(lines) do assert.falsy(l:find(SECRET, 1, true), l) end
    end)

    it("is dropped with the body of any work call's 2xx answer that cannot be read", function()
      local client = new_client { max_retries = 0 }
      local calls = {
        { "work_poll", ENV }, { "work_ack", ENV, "work_1" }, { "work_heartbeat", ENV, "work_1" },
        { "work_stop", ENV, "work_1" }, { "work_retrieve", ENV, "work_1" },
        { "work_update", ENV, "work_1", { metadata = {} } }, { "work_list", ENV }, { "work_stats", ENV },
      }
      local unpack = table.unpack or unpack   -- luacheck: ignore unpack
      local bodies = { '{"id":"work_1","secret":"' .. SECRET .. '",', '["' .. SECRET .. '"]',
                       '"' .. SECRET .. '"' }
      for _, body in ipairs(bodies) do
        for _, c in ipairs(calls) do
          server:script { { status = 200, body = body } }
          local v, err = client[c[1]](client, unpack(c, 2))
          assert.is_nil(v, c[1])
          assert.are.equal("decode", err.kind, c[1])
          assert.is_nil(err.body, c[1])
          assert.falsy(tostring(err):find(SECRET, 1, true), c[1])
          server:script { { status = 200, body = body } }
          local done, v2, err2 = client[c[1] .. "_async"](client, unpack(c, 2)):wait(10)
          assert.is_true(done)
          assert.is_nil(v2, c[1])
          assert.is_nil(err2.body, c[1] .. "_async")
        end
      end
      -- a list whose data is not an array of objects, too
      server:script { { status = 200, body = '{"data":"' .. SECRET .. '"}' } }
      local _, err = client:work_list(ENV)
      assert.are.equal("decode", err.kind)
      assert.is_nil(err.body)
      -- an error answer keeps its body, as every call's does
      server:script { { status = 500, body = "upstream broke" } }
      _, err = client:work_stats(ENV)
      assert.are.equal("upstream broke", err.body)
    end)
  end)

  describe("work_ack, work_retrieve, work_stop, work_update", function()
    it("ack: POST …/ack without a body, gives the item", function()
      enqueue()
      local a, b = both(new_client(), "work_ack", { ENV, "work_1" },
        { method = "POST", path = BASE .. "/work_1/ack" })
      assert.are.same({ "starting", "starting" }, { a.state, b.state })
      assert.is_string(a.acknowledged_at)
      assert.are.equal("anthropic.environments work work_1 (starting)", tostring(b))
    end)

    it("retrieve: GET …/{work}, ids escaped", function()
      enqueue { id = "work a/b", secret = SECRET }
      local a, b = both(new_client(), "work_retrieve", { ENV, "work a/b" },
        { method = "GET", path = BASE .. "/work%20a%2Fb" })
      assert.are.same({ "work a/b", "work a/b" }, { a.id, b.id })
    end)

    it("stop: the body is {force} as given, {} without it", function()
      enqueue()
      local a, b = both(new_client(), "work_stop", { ENV, "work_1", { force = true } },
        { method = "POST", path = BASE .. "/work_1/stop", body = '{"force":true}' })
      assert.are.same({ "stopped", "stopped" }, { a.state, b.state })
      server:reset()
      enqueue()
      both(new_client(), "work_stop", { ENV, "work_1" },
        { method = "POST", path = BASE .. "/work_1/stop", body = "{}" })
    end)

    it("update: metadata values are strings, environments.null deletes a key", function()
      enqueue { id = "work_1", metadata = { gone = "x", kept = "y" } }
      local a, b = both(new_client(), "work_update", { ENV, "work_1", { metadata = { gone = null, added = "1" } } },
        { method = "POST", path = BASE .. "/work_1", body = '{"metadata":{"added":"1","gone":null}}' })
      assert.are.same({ added = "1", kept = "y" }, a.metadata)
      assert.are.same(a.metadata, b.metadata)
    end)

    it("a 404 for an unknown item is an api error", function()
      local v, err = new_client():work_retrieve(ENV, "work_missing")
      assert.is_nil(v)
      assert.are.same({ "api", 404, "not_found_error" }, { err.kind, err.status, err.type })
    end)
  end)

  describe("work_heartbeat", function()
    it("claims with NO_HEARTBEAT, then echoes last_heartbeat (escaped); a stale one is a 412, not retried", function()
      enqueue()
      local client = new_client()
      local hb = assert(client:work_heartbeat(ENV, "work_1",
        { desired_ttl_seconds = 10, expected_last_heartbeat = "NO_HEARTBEAT" }))
      assert.are.same({ "work_heartbeat", true, "active", 10 },
        { hb.type, hb.lease_extended, hb.state, hb.ttl_seconds })
      local req = server:only_request()
      assert.are.same({ "POST", BASE .. "/work_1/heartbeat", "desired_ttl_seconds=10&expected_last_heartbeat=NO_HEARTBEAT", "" },
        { req.method, req.path, req.query, req.body })
      server:reset()
      enqueue()
      local first = assert(client:work_heartbeat(ENV, "work_1", { expected_last_heartbeat = "NO_HEARTBEAT" }))
      local done, second = client:work_heartbeat_async(ENV, "work_1",
        { expected_last_heartbeat = first.last_heartbeat }):wait(5)
      assert.is_true(done)
      assert.is_true(second.lease_extended)
      assert.are_not.equal(first.last_heartbeat, second.last_heartbeat)
      assert.are.equal("expected_last_heartbeat=" .. first.last_heartbeat:gsub(":", "%%3A"),
        server:requests()[2].query)
      -- the first answer's time is stale now
      local v, err = client:work_heartbeat(ENV, "work_1", { expected_last_heartbeat = first.last_heartbeat })
      assert.is_nil(v)
      assert.are.same({ "api", 412, 1 }, { err.kind, err.status, err.attempts })
      assert.are.equal(3, #server:requests())
    end)
  end)

  describe("work_list, each_work and work_stats", function()
    it("list: limit and page in the query, items as work items", function()
      for i = 1, 3 do enqueue { id = "work_" .. i, secret = SECRET } end
      local a, b = both(new_client(), "work_list", { ENV, { limit = 2 } },
        { method = "GET", path = BASE, query = "limit=2" })
      assert.are.same({ "work_3", "work_2" }, { a.data[1].id, a.data[2].id })
      assert.are.equal(a.next_page, b.next_page)
      assert.is_true(environments.is_work_item(a.data[1]))
      assert.are.equal(null, a.data[1].secret)
      local last = assert(new_client():work_list(ENV, { limit = 2, page = a.next_page }))
      assert.are.same({ "work_1" }, { last.data[1].id, last.data[2] and last.data[2].id })
      assert.is_nil(last.next_page)
      assert.are.equal("limit=2&page=" .. a.next_page, server:requests()[3].query)
    end)

    it("each_work goes through every page and stops on an error", function()
      for i = 1, 5 do enqueue { id = "work_" .. i } end
      local ids = {}
      for item, err in new_client():each_work(ENV, { limit = 2 }) do
        assert.is_nil(err)
        ids[#ids + 1] = item.id
      end
      assert.are.same({ "work_5", "work_4", "work_3", "work_2", "work_1" }, ids)
      assert.are.equal(3, #server:requests())
      local seen = {}
      for item, err in new_client():each_work("env_nope") do seen[#seen + 1] = { item, err and err.status } end
      assert.are.same({ { false, 404 } }, seen)
      raises("each_work: unknown parameter 'include_archived'", function()
        new_client():each_work(ENV, { include_archived = true })
      end)
    end)

    it("stats: GET …/stats", function()
      enqueue()
      local a, b = both(new_client(), "work_stats", { ENV }, { method = "GET", path = BASE .. "/stats" })
      assert.are.same({ "work_queue_stats", 1, 1 }, { a.type, a.depth, a.pending })
      assert.are.equal(a.oldest_queued_at, b.oldest_queued_at)
    end)
  end)

  describe("the per-call options every call takes", function()
    it("extra_body, extra_query, with_response, and client:many over work calls", function()
      enqueue()
      local client = new_client()
      -- extra_body goes out merged (the fake refuses fields it does not know)
      local v, err = client:work_stop(ENV, "work_1", { force = true }, { extra_body = { reason = "done" } })
      assert.is_nil(v)
      assert.are.same({ 400, "reason: unknown field" }, { err.status, err.message })
      assert.are.equal('{"force":true,"reason":"done"}', server:only_request().body)
      server:reset()
      enqueue()
      local item, response
      item, err, response = client:work_stop(ENV, "work_1", { force = true },
        { extra_query = { trace = "1" }, with_response = true })
      assert.is_nil(err)
      assert.are.equal("stopped", item.state)
      assert.are.same({ 200, 1 }, { response.status, response.attempts })
      local r = server:only_request()
      assert.are.same({ "trace=1", '{"force":true}' }, { r.query, r.body })
      server:reset()
      enqueue()
      local results, errors = client:many {
        { "work_retrieve", ENV, "work_1", key = "get" },
        { "work_stats", ENV, key = "stats" },
        { "work_retrieve", ENV, "work_missing", key = "missing" },
      }
      assert.is_true(environments.is_work_item(results.get))
      assert.are.equal("work_queue_stats", results.stats.type)
      assert.are.equal(404, errors.missing.status)
      raises("each_work: option 'with_response' is not for each_work", function()
        client:each_work(ENV, nil, { with_response = true })
      end)
    end)
  end)

  describe("programmer mistakes raise at the caller's line", function()
    it("ids, params, options", function()
      local c = new_client()
      raises("work_poll: env_id must not be empty", c.work_poll, c, "")
      raises("work_ack_async: work_id must be a string (got nil)", c.work_ack_async, c, ENV)
      raises("work_retrieve: work_id must not be 'stats'", c.work_retrieve, c, ENV, "stats")
      raises("work_stop: work_id must not be 'poll'", c.work_stop, c, ENV, "poll")
      raises("work_poll: unknown parameter 'block'", c.work_poll, c, ENV, { block = 1 })
      raises("work_poll: parameter 'block_ms' must be a whole number from 1 to 999 (got 1000)",
        c.work_poll, c, ENV, { block_ms = 1000 })
      raises("work_poll_async: parameter 'block_ms' must be a whole number", c.work_poll_async, c, ENV, { block_ms = 0.5 })
      raises("work_poll: parameter 'reclaim_older_than_ms' must be a whole number", c.work_poll, c, ENV,
        { reclaim_older_than_ms = -1 })
      raises("work_poll: parameter 'worker_id' must not contain control characters", c.work_poll, c, ENV,
        { worker_id = "w\r\nX-Evil: 1" })
      raises("work_poll: parameter 'worker_id' must not be empty", c.work_poll, c, ENV, { worker_id = "" })
      raises("work_heartbeat: parameter 'desired_ttl_seconds' must be a whole number", c.work_heartbeat, c, ENV,
        "work_1", { desired_ttl_seconds = 0 })
      raises("work_heartbeat: parameter 'expected_last_heartbeat' must be a string (got number)",
        c.work_heartbeat, c, ENV, "work_1", { expected_last_heartbeat = 1 })
      raises("work_heartbeat: unknown parameter 'ttl'", c.work_heartbeat, c, ENV, "work_1", { ttl = 1 })
      raises("work_stop: parameter 'force' must be a boolean (got string)", c.work_stop, c, ENV, "work_1",
        { force = "yes" })
      raises("work_update: params must be a table (got nil)", c.work_update, c, ENV, "work_1")
      raises("work_update: parameter 'metadata.k' must be a string or environments.null (got number)",
        c.work_update, c, ENV, "work_1", { metadata = { k = 1 } })
      raises("work_update_async: unknown parameter 'state'", c.work_update_async, c, ENV, "work_1", { state = "x" })
      raises("work_list: parameter 'limit' must be a whole number from 1 to 1000", c.work_list, c, ENV, { limit = 0 })
      raises("work_stats: unknown option 'speed'", c.work_stats, c, ENV, { speed = 1 })
      raises("work_stats: expected a client", c.work_stats, ENV)
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("module-level one-liners", function()
    it("exist for every call, use the environment variables, and check first", function()
      enqueue()
      local code = [[
        local e = require "anthropic.environments"
        print(select(2, pcall(e.work_stats, "")))
        print(select(2, pcall(e.work_stop, "env_selfhosted01", "work_1", { force = 1 })))
        local item = assert(e.work_poll("env_selfhosted01", { worker_id = "one" }))
        assert(e.work_ack("env_selfhosted01", item.id))
        local hb = assert(e.work_heartbeat("env_selfhosted01", item.id, { expected_last_heartbeat = "NO_HEARTBEAT" }))
        assert(e.work_update("env_selfhosted01", item.id, { metadata = { a = "b" } }))
        assert(e.work_retrieve("env_selfhosted01", item.id))
        local n = 0
        for _ in e.each_work("env_selfhosted01") do n = n + 1 end
        assert(e.work_list("env_selfhosted01", { limit = 1 }))
        local stats = assert(e.work_stats("env_selfhosted01"))
        local stopped = assert(e.work_stop("env_selfhosted01", item.id, { force = true }))
        print(item.id, hb.state, n, string.format("%d", stats.depth), stopped.state)
      ]]
      local cmd = "env -u ANTHROPIC_AUTH_TOKEN ANTHROPIC_API_KEY=sk-env ANTHROPIC_BASE_URL=" .. server.url .. " "
        .. fake.interpreter() .. " -e " .. fake.shell_quote("package.path = " .. string.format("%q", package.path)
        .. "; package.cpath = " .. string.format("%q", package.cpath) .. "; " .. code) .. " 2>&1"
      local p = io.popen(cmd)
      local out = p:read("*a")
      p:close()
      assert.matches("anthropic.environments.work_stats: env_id must not be empty", out, 1, true)
      assert.matches("anthropic.environments.work_stop: parameter 'force' must be a boolean", out, 1, true)
      assert.matches("work_1\tactive\t1\t1\tstopped\n", out, 1, true)
      local lines = {}
      for i, r in ipairs(server:requests()) do
        lines[i] = r.method .. " " .. r.path:sub(#BASE + 1) .. (r.query ~= "" and "?" .. r.query or "")
      end
      assert.are.same({ "GET /poll", "POST /work_1/ack", "POST /work_1/heartbeat?expected_last_heartbeat=NO_HEARTBEAT",
        "POST /work_1", "GET /work_1", "GET ", "GET ?limit=1", "GET /stats", "POST /work_1/stop" }, lines)
      assert.are.equal("one", server:requests()[1].header_map["anthropic-worker-id"])
    end)
  end)
end)
