-- The fake's work queue (fake/work.lua), over HTTP with luasocket: every
-- route, leases with a TTL, 412 on a stale heartbeat, long polls that do
-- not block other connections, stats, and the /_fake/work controls.
local cjson = require "cjson"
local socket = require "socket"
local fake = require "spec.support.fake"

local ENV = "env_selfhosted01"
local BASE = "/v1/environments/" .. ENV .. "/work"
local RFC3339 = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d"

-- Sends one request on a new connection and returns a function that reads
-- its answer (status, body), so a test can do other things meanwhile.
local function send_raw(server, method, path, headers)
  local host, port = server.url:match("^http://([^:]+):(%d+)$")
  local c = assert(socket.connect(host, tonumber(port)))
  local lines = { method .. " " .. path .. " HTTP/1.1", "host: " .. host, "content-length: 0",
    "connection: close" }
  for k, v in pairs(fake.API_HEADERS) do lines[#lines + 1] = k .. ": " .. v end
  for k, v in pairs(headers or {}) do lines[#lines + 1] = k .. ": " .. v end
  assert(c:send(table.concat(lines, "\r\n") .. "\r\n\r\n"))
  return function()
    c:settimeout(10)
    local status = tonumber(assert(c:receive("*l")):match("^HTTP/1%.1 (%d+)"))
    local length = 0
    while true do
      local line = assert(c:receive("*l"))
      if line == "" then break end
      local n = line:lower():match("^content%-length:%s*(%d+)")
      if n then length = tonumber(n) end
    end
    local body = length > 0 and assert(c:receive(length)) or ""
    c:close()
    return status, body
  end
end

describe("fake work queue", function()
  local server

  setup(function() server = fake.start() end)
  teardown(function() if server then server:stop() end end)
  before_each(function() server:reset() end)

  local function api(method, path, body, headers)
    local status, text, h = server:api(method, path, body, headers)
    local ok, value = pcall(cjson.decode, text)
    return status, ok and value or text, h
  end

  local function heartbeat(work_id, expected, ttl)
    return api("POST", BASE .. "/" .. work_id .. "/heartbeat?desired_ttl_seconds=" .. (ttl or 30)
      .. "&expected_last_heartbeat=" .. expected)
  end

  it("polls an item with its secret, then acks and heartbeats it", function()
    local queued = server:enqueue_work(ENV, { { id = "work_a", session_id = "session_a",
      metadata = { k = "v" }, secret = "s3cret" } })
    assert.are.equal("work_a", queued[1].id)
    local status, item = api("GET", BASE .. "/poll", nil, { ["anthropic-worker-id"] = "w1" })
    assert.are.equal(200, status)
    assert.are.same({ id = "work_a", type = "work", environment_id = ENV, state = "queued",
      data = { type = "session", id = "session_a" }, metadata = { k = "v" }, secret = "s3cret",
      created_at = item.created_at, acknowledged_at = cjson.null, started_at = cjson.null,
      latest_heartbeat_at = cjson.null, stop_requested_at = cjson.null,
      stopped_at = cjson.null }, item)
    assert.matches(RFC3339, item.created_at)

    local _, got = api("GET", BASE .. "/work_a")
    assert.are.equal(cjson.null, got.secret)   -- the secret only comes with poll

    local acked
    status, acked = api("POST", BASE .. "/work_a/ack")
    assert.are.equal(200, status)
    assert.are.equal("starting", acked.state)
    assert.matches(RFC3339, acked.acknowledged_at)
    assert.are.equal(cjson.null, acked.secret)

    local hb
    status, hb = heartbeat("work_a", "NO_HEARTBEAT", 20)
    assert.are.equal(200, status)
    assert.are.same({ type = "work_heartbeat", last_heartbeat = hb.last_heartbeat,
      lease_extended = true, state = "active", ttl_seconds = 20 }, hb)
    assert.matches(RFC3339 .. "%.%d%d%d%d%d%dZ$", hb.last_heartbeat)
    local hb2
    status, hb2 = heartbeat("work_a", hb.last_heartbeat, 20)
    assert.are.equal(200, status)
    assert.is_true(hb2.lease_extended)
    assert.are_not.equal(hb.last_heartbeat, hb2.last_heartbeat)
    local _, now = api("GET", BASE .. "/work_a")
    assert.are.equal("active", now.state)
    assert.are.equal(hb.last_heartbeat, now.started_at)
    assert.are.equal(hb2.last_heartbeat, now.latest_heartbeat_at)
    assert.are.equal("w1", server:work_item(ENV, "work_a").worker)
  end)

  it("answers 412 with the API's error shape when the heartbeat does not match", function()
    server:enqueue_work(ENV, { { id = "work_a" } })
    local _, hb = heartbeat("work_a", "NO_HEARTBEAT")
    -- a second claim, and a made-up previous heartbeat, both fail
    for _, expected in ipairs({ "NO_HEARTBEAT", "2020-01-01T00:00:00.000000Z" }) do
      local status, err, headers = heartbeat("work_a", expected)
      assert.are.equal(412, status)
      assert.are.equal("invalid_request_error", err.error.type)
      assert.are.equal("error", err.type)
      assert.are.equal(headers["request-id"], err.request_id)
      assert.matches("^req_fake_%d+$", err.request_id)
    end
    -- the lease is untouched by the failed attempts
    assert.are.equal(hb.last_heartbeat, server:work_item(ENV, "work_a").lease.last_heartbeat)
    local status = heartbeat("work_a", hb.last_heartbeat)
    assert.are.equal(200, status)
  end)

  it("lets a lease expire by TTL and another claim take it", function()
    server:config { work_max_ttl_seconds = 5 }
    server:enqueue_work(ENV, { { id = "work_a" } })
    local _, hb = heartbeat("work_a", "NO_HEARTBEAT", 100)
    assert.are.equal(5, hb.ttl_seconds)          -- capped by the server
    server:advance_clock(4)
    local _, hb2 = heartbeat("work_a", hb.last_heartbeat, 2)
    assert.is_true(hb2.lease_extended)
    assert.are.equal(2, hb2.ttl_seconds)
    server:advance_clock(2.5)
    local status, lost = heartbeat("work_a", hb2.last_heartbeat)
    assert.are.equal(200, status)
    assert.are.same({ type = "work_heartbeat", last_heartbeat = hb2.last_heartbeat,
      lease_extended = false, state = "active", ttl_seconds = 0 }, lost)
    local claim
    status, claim = heartbeat("work_a", "NO_HEARTBEAT", 3)
    assert.are.equal(200, status)
    assert.is_true(claim.lease_extended)
    assert.are.equal(412, (heartbeat("work_a", hb2.last_heartbeat)))
  end)

  it("expires a lease in real time too, and through the control", function()
    server:enqueue_work(ENV, { { id = "work_a" }, { id = "work_b" } })
    local _, hb = heartbeat("work_a", "NO_HEARTBEAT", 1)
    socket.sleep(1.2)
    local _, lost = heartbeat("work_a", hb.last_heartbeat)
    assert.is_false(lost.lease_extended)
    local _, hb_b = heartbeat("work_b", "NO_HEARTBEAT", 60)
    local item = server:expire_lease(ENV, "work_b")
    assert.is_true(item.lease.expired)
    local _, lost_b = heartbeat("work_b", hb_b.last_heartbeat)
    assert.is_false(lost_b.lease_extended)
  end)

  it("gives 412 to the old owner of a stolen lease", function()
    server:enqueue_work(ENV, { { id = "work_a" } })
    local _, hb = heartbeat("work_a", "NO_HEARTBEAT")
    local stolen = server:steal_lease(ENV, "work_a", { worker = "thief" })
    assert.are.equal("thief", stolen.lease.worker)
    assert.are_not.equal(hb.last_heartbeat, stolen.lease.last_heartbeat)
    assert.are.equal(412, (heartbeat("work_a", hb.last_heartbeat)))
    local status, thief = heartbeat("work_a", stolen.lease.last_heartbeat)
    assert.are.equal(200, status)
    assert.is_true(thief.lease_extended)
  end)

  it("answers stopping after a server-side stop, and stops on request", function()
    server:enqueue_work(ENV, { { id = "work_a" }, { id = "work_b" }, { id = "work_c" } })
    local _, hb = heartbeat("work_a", "NO_HEARTBEAT")
    assert.are.equal("stopping", server:request_work_stop(ENV, "work_a").state)
    local _, hb2 = heartbeat("work_a", hb.last_heartbeat)
    assert.are.equal("stopping", hb2.state)
    assert.is_true(hb2.lease_extended)
    local status, stopped = api("POST", BASE .. "/work_a/stop", { force = false })
    assert.are.equal(200, status)
    assert.are.equal("stopped", stopped.state)
    assert.matches(RFC3339, stopped.stopped_at)
    assert.matches(RFC3339, stopped.stop_requested_at)
    local _, after = heartbeat("work_a", hb2.last_heartbeat)
    assert.are.same({ type = "work_heartbeat", last_heartbeat = hb2.last_heartbeat,
      lease_extended = false, state = "stopped", ttl_seconds = 0 }, after)

    -- graceful stop of a running item: stopping until its lease ends
    local _, hb_b = heartbeat("work_b", "NO_HEARTBEAT")
    local _, b = api("POST", BASE .. "/work_b/stop", { force = false })
    assert.are.equal("stopping", b.state)
    assert.are.equal("stopping", (select(2, heartbeat("work_b", hb_b.last_heartbeat))).state)
    server:expire_lease(ENV, "work_b")
    assert.are.equal("stopped", (select(2, api("GET", BASE .. "/work_b"))).state)

    -- force stops at once; an item nobody runs stops at once too
    heartbeat("work_c", "NO_HEARTBEAT")
    local _, c = api("POST", BASE .. "/work_c/stop", '{"force":true}')
    assert.are.equal("stopped", c.state)
    assert.are.equal(400, (api("POST", BASE .. "/work_c/stop", { force = "yes" })))
    assert.are.equal(400, (api("POST", BASE .. "/work_c/stop", { hard = true })))
  end)

  it("updates metadata, null deleting a key", function()
    server:enqueue_work(ENV, { { id = "work_a", metadata = { a = "1", b = "2" } } })
    local status, item = api("POST", BASE .. "/work_a", '{"metadata":{"a":null,"c":"3"}}')
    assert.are.equal(200, status)
    assert.are.same({ b = "2", c = "3" }, item.metadata)
    assert.are.equal(cjson.null, item.secret)
    assert.are.equal(400, (api("POST", BASE .. "/work_a", '{"metadata":{"a":1}}')))
    assert.are.equal(400, (api("POST", BASE .. "/work_a", '{"name":"x"}')))
    assert.are.same({ b = "2", c = "3" }, server:work_item(ENV, "work_a").metadata)
  end)

  it("lists newest first in pages", function()
    server:enqueue_work(ENV, { { id = "w1" }, { id = "w2" }, { id = "w3" } })
    local status, page = api("GET", BASE .. "?limit=2")
    assert.are.equal(200, status)
    assert.are.equal(2, #page.data)
    assert.are.same({ "w3", "w2" }, { page.data[1].id, page.data[2].id })
    assert.are.equal(cjson.null, page.data[1].secret)
    local page2
    status, page2 = api("GET", BASE .. "?limit=2&page=" .. page.next_page)
    assert.are.equal(200, status)
    assert.are.equal("w1", page2.data[1].id)
    assert.are.equal(1, #page2.data)
    assert.are.equal(cjson.null, page2.next_page)
    local _, all = api("GET", BASE)
    assert.are.equal(3, #all.data)
    assert.are.equal(cjson.null, all.next_page)
    assert.are.equal(400, (api("GET", BASE .. "?limit=0")))
    assert.are.equal(400, (api("GET", BASE .. "?limit=1001")))
    assert.are.equal(400, (api("GET", BASE .. "?page=nope")))
  end)

  it("counts the queue in stats", function()
    local status, stats = api("GET", BASE .. "/stats")
    assert.are.equal(200, status)
    assert.are.same({ type = "work_queue_stats", depth = 0, pending = 0,
      oldest_queued_at = cjson.null, workers_polling = cjson.null }, stats)
    server:enqueue_work(ENV, { { id = "w1", created_at = "2026-01-01T00:00:00Z" }, { id = "w2" },
      { id = "w3" } })
    api("GET", BASE .. "/poll", nil, { ["anthropic-worker-id"] = "alpha" })
    api("GET", BASE .. "/poll", nil, { ["anthropic-worker-id"] = "beta" })
    api("POST", BASE .. "/w1/ack")
    api("POST", BASE .. "/w3/stop", { force = true })
    local _
    _, stats = api("GET", BASE .. "/stats")
    assert.are.same({ type = "work_queue_stats", depth = 2, pending = 1,
      oldest_queued_at = server:work_item(ENV, "w2").created_at, workers_polling = 2 }, stats)
    server:advance_clock(61)  -- workers count as polling for 60 s
    _, stats = api("GET", BASE .. "/stats")
    assert.are.equal(0, stats.workers_polling)
  end)

  it("answers null when there is no work, or what the config says", function()
    local status, body = server:api("GET", BASE .. "/poll")
    assert.are.equal(200, status)
    assert.are.equal("null", body)
    server:config { work_empty = "empty" }
    status, body = server:api("GET", BASE .. "/poll")
    assert.are.equal(200, status)
    assert.are.equal("", body)
    server:config { work_empty = "no_content" }
    status = server:api("GET", BASE .. "/poll")
    assert.are.equal(204, status)
  end)

  it("reclaims items polled but not acknowledged", function()
    server:enqueue_work(ENV, { { id = "w1" } })
    assert.are.equal("w1", (select(2, api("GET", BASE .. "/poll"))).id)
    assert.are.equal("null", (select(2, server:api("GET", BASE .. "/poll"))))
    assert.are.equal("w1", (select(2, api("GET", BASE .. "/poll?reclaim_older_than_ms=0"))).id)
    server:advance_clock(5.1)   -- the default reclaim age is 5000 ms
    assert.are.equal("w1", (select(2, api("GET", BASE .. "/poll"))).id)
    api("POST", BASE .. "/w1/ack")
    assert.are.equal("null", (select(2, server:api("GET", BASE .. "/poll?reclaim_older_than_ms=0"))))
  end)

  it("long-polls without blocking other connections, and wakes on new work", function()
    local t0 = socket.gettime()
    local read = send_raw(server, "GET", BASE .. "/poll?block_ms=900")
    socket.sleep(0.05)
    local status = server:api("GET", "/v1/environments/" .. ENV)   -- another connection
    assert.are.equal(200, status)
    assert.is_true(socket.gettime() - t0 < 0.75, "a long poll blocked another connection")
    local body
    status, body = read()
    assert.are.equal(200, status)
    assert.are.equal("null", body)
    local waited = socket.gettime() - t0
    assert.is_true(waited >= 0.85 and waited < 5, "waited " .. waited .. " s")

    read = send_raw(server, "GET", BASE .. "/poll?block_ms=999")
    socket.sleep(0.1)
    server:enqueue_work(ENV, { { id = "late" } })
    status, body = read()
    assert.are.equal(200, status)
    assert.are.equal("late", cjson.decode(body).id)
  end)

  it("refuses bad parameters, unknown ids and other environments", function()
    server:enqueue_work(ENV, { { id = "w1" } })
    for _, q in ipairs({ "block_ms=0", "block_ms=1000", "block_ms=abc", "reclaim_older_than_ms=-1" }) do
      local status, err = api("GET", BASE .. "/poll?" .. q)
      assert.are.equal(400, status, q)
      assert.are.equal("invalid_request_error", err.error.type)
    end
    assert.are.equal(400, (api("POST", BASE .. "/w1/heartbeat?desired_ttl_seconds=5")))
    assert.are.equal(400, (api("POST", BASE .. "/w1/heartbeat?desired_ttl_seconds=x"
      .. "&expected_last_heartbeat=NO_HEARTBEAT")))
    local status, err, headers = api("GET", BASE .. "/nope")
    assert.are.equal(404, status)
    assert.are.same({ type = "error", error = { type = "not_found_error",
      message = "Work 'nope' not found" }, request_id = headers["request-id"] }, err)
    status, err = api("GET", "/v1/environments/env_missing/work/poll")
    assert.are.equal(404, status)
    assert.are.equal("environment_not_found", err.error.details.error_code)
    status = api("GET", "/v1/environments/env_unrestricted01/work/stats")
    assert.are.equal(400, status)
    local _, allow
    status, _, allow = api("POST", BASE .. "/poll")
    assert.are.equal(405, status)
    assert.are.equal("GET", allow.allow)
    assert.are.equal(401, (server:request("GET", BASE .. "/poll")))
    -- every API call was recorded
    assert.are.equal(BASE .. "/poll", server:requests()[1].path)
  end)

  it("checks its controls and forgets the queue on reset", function()
    assert.has_error(function() server:enqueue_work("env_unrestricted01") end)
    assert.has_error(function() server:enqueue_work(ENV, { { bogus = 1 } }) end)
    assert.has_error(function() server:request_work_stop(ENV, "nope") end)
    local items = server:enqueue_work(ENV)
    assert.matches("^work_fake_%d+$", items[1].id)
    assert.are.equal("string", type(items[1].secret))
    assert.is_false(items[1].claimed)
    assert.are.equal(1, #server:work_state(ENV).data)
    local function fake_time()
      local status, body = server:request("GET", "/_fake/clock")
      assert.are.equal(200, status)
      local y, mo, d, h, mi, s = cjson.decode(body).now:match("^(%d+)%-(%d+)%-(%d+)T(%d+):(%d+):(%d+)")
      return os.time { year = y, month = mo, day = d, hour = h, min = mi, sec = s }
    end
    local t0 = fake_time()
    server:advance_clock(3600)
    assert.is_true(math.abs(fake_time() - t0 - 3600) <= 2)
    server:reset()
    assert.is_true(math.abs(fake_time() - t0) <= 2)   -- the clock is back
    assert.are.equal(0, #server:work_state(ENV).data)
    assert.is_nil(server:work_item(ENV, items[1].id))
  end)
end)
