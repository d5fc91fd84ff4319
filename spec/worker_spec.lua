-- client:work_lease end to end against the fake's work queue: a lease that
-- is kept (heartbeats echoing last_heartbeat, the ttl honoured, polls that
-- never block), one that is stolen (412 -> lost), one the server stops
-- (stopping -> reported -> work_stop), one that runs out, transient
-- failures, and the item's secret kept out of everything the lease shows.
local environments = require "anthropic.environments"
local core = require "anthropic.environments.core"
local fake = require "spec.support.fake"

local KEY = "sk-ant-worker-test"
local ENV = "env_selfhosted01"
local BASE = "/v1/environments/" .. ENV .. "/work/work_1"
local SECRET = "wsecret-LEASE-0123456789"

-- The query of a request as a table (values percent-decoded).
local function query(r)
  local q = {}
  for k, v in r.query:gmatch("([^&=]+)=([^&]*)") do
    q[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  end
  return q
end

describe("client:work_lease", function()
  local server, _, new_client = fake.suite(KEY)

  -- Queues work_1 and polls it: the client and the item.
  local function claimed(client_opts)
    server:enqueue_work(ENV, { { id = "work_1", session_id = "session_1", secret = SECRET } })
    local client = new_client(client_opts)
    return client, assert(client:work_poll(ENV))
  end

  -- Polls the lease every 2 ms until until() holds; gives the longest poll
  -- (seconds) and a record of every state change.
  local function run(lease, until_, limit)
    local longest, deadline = 0, core.now() + (limit or 5)
    while not until_() do
      assert(core.now() < deadline, "the lease did not get there in time: " .. tostring(lease))
      local t = core.now()
      lease:poll()
      longest = math.max(longest, core.now() - t)
      core.sleep(0.002)
    end
    return longest
  end

  -- The paths after …/work/work_1 of the requests since the poll.
  local function steps(reqs)
    local out = {}
    for i = 2, #reqs do out[#out + 1] = reqs[i].method .. " " .. reqs[i].path:sub(#BASE + 1) end
    return out
  end

  it("a kept lease: ack, NO_HEARTBEAT, then heartbeats that echo the last one, never blocking a poll", function()
    server:config { delay_ms = 100 }
    local client, item = claimed()
    local states, seen = {}, {}
    local lease = client:work_lease(ENV, item, { interval = 0.05, desired_ttl_seconds = 30,
      on_state = function(l, state, err) states[#states + 1] = { l == nil, state, err } end })
    assert.are.equal("starting", lease.state)
    local longest = run(lease, function()
      if lease.last_heartbeat and seen[#seen] ~= lease.last_heartbeat then seen[#seen + 1] = lease.last_heartbeat end
      return lease.heartbeats >= 4
    end)
    assert.is_true(longest < 0.05, string.format("a poll took %.3f s", longest))
    assert.are.same({ { false, "active", nil } }, states)
    assert.are.equal("active", lease.state)
    assert.are.equal(30, lease.ttl_seconds)
    lease:finish()
    run(lease, function() return lease.state == "stopped" end)
    assert.is_nil(lease.err)
    -- ack, the heartbeats (a fifth may have been on its way when finish
    -- cancelled it), then the stop
    local reqs = server:requests()
    local s = steps(reqs)
    assert.are.same({ "POST /ack", "POST /stop" }, { s[1], s[#s] })
    assert.is_true(#s == 6 or #s == 7, #s .. " requests")
    for i = 2, #s - 1 do assert.are.equal("POST /heartbeat", s[i]) end
    assert.are.same({ desired_ttl_seconds = "30", expected_last_heartbeat = "NO_HEARTBEAT" }, query(reqs[3]))
    for i = 4, #reqs - 1 do assert.are.equal(seen[i - 3], query(reqs[i]).expected_last_heartbeat) end
    assert.are.equal("{}", reqs[#reqs].body)
    assert.are.same({ "active", "finishing", "stopped" }, { states[1][2], states[2][2], states[3][2] })
  end)

  it("heartbeats at ttl/2 when the ttl is shorter than the interval", function()
    local client, item = claimed()
    local lease = client:work_lease(ENV, item, { desired_ttl_seconds = 1 })
    local started = core.now()
    assert.are.equal("active", lease:wait(5))
    run(lease, function() return lease.heartbeats >= 3 end)
    local elapsed = core.now() - started
    assert.is_true(elapsed >= 0.95 and elapsed < 2.5, string.format("3 heartbeats took %.2f s", elapsed))
    assert.are.equal(1, lease.ttl_seconds)
    local t = lease:next_timer()
    assert.is_true(t > 0.3 and t <= 0.5, tostring(t))
    assert.are.same({ "stopped" }, { lease:close { force = true } })
    local reqs = server:requests()
    assert.are.equal('{"force":true}', reqs[#reqs].body)
    assert.are.equal("stopped", server:work_item(ENV, "work_1").state)
  end)

  it("a stolen lease: the next heartbeat is a 412, the lease is lost and the item is not stopped", function()
    local client, item = claimed()
    local states = {}
    local lease = client:work_lease(ENV, item, { interval = 0.05,
      on_state = function(_, state) states[#states + 1] = state end })
    assert.are.equal("active", lease:wait(5))
    server:steal_lease(ENV, "work_1", { worker = "w2" })
    local state, err = lease:wait(5)
    assert.are.equal("lost", state)
    assert.are.same({ "api", 412 }, { err.kind, err.status })
    assert.are.equal(err, lease.err)
    assert.are.same({ "active", "lost" }, states)
    assert.is_nil(lease:next_timer())
    assert.are.equal(lease, lease:finish())
    assert.are.same({ "lost", err }, { lease:close() })
    for _, r in ipairs(server:requests()) do assert.falsy(r.path:find("/stop$")) end
    assert.are.equal("w2", server:work_item(ENV, "work_1").lease.worker)
  end)

  it("a lease the server stops: stopping is reported, heartbeats go on, then work_stop", function()
    local client, item = claimed()
    local lease = client:work_lease(ENV, item, { interval = 0.05 })
    assert.are.equal("active", lease:wait(5))
    server:request_work_stop(ENV, "work_1")
    assert.are.same({ "stopping" }, { lease:wait(5) })
    local n = lease.heartbeats
    assert.are.equal("stopping", lease:wait(0.2))   -- still heartbeating meanwhile
    assert.is_true(lease.heartbeats > n)
    lease:finish { force = true }
    assert.are.equal("finishing", lease.state)
    assert.are.same({ "stopped" }, { lease:wait(5) })
    assert.are.equal("stopped", lease.item_state)
    local reqs = server:requests()
    assert.are.equal(BASE .. "/stop", reqs[#reqs].path)
    assert.are.equal('{"force":true}', reqs[#reqs].body)
  end)

  it("a lease that runs out (lease_extended = false) is lost, with an error of kind lease", function()
    local client, item = claimed()
    local lease = client:work_lease(ENV, item, { interval = 0.05 })
    assert.are.equal("active", lease:wait(5))
    server:expire_lease(ENV, "work_1")
    local state, err = lease:wait(5)
    assert.are.equal("lost", state)
    assert.are.equal("lease", err.kind)
    assert.matches("the lease was not extended", tostring(err), 1, true)
  end)

  it("a heartbeat that hangs: the lease is lost once its ttl has passed, and the heartbeat is cancelled", function()
    local client, item = claimed()
    local states = {}
    local lease = client:work_lease(ENV, item, { desired_ttl_seconds = 1, interval = 30,
      on_state = function(_, state) states[#states + 1] = state end })
    assert.are.equal("active", lease:wait(5))
    local answered = core.now()   -- the lease runs until about a second after its heartbeat was sent
    -- The next heartbeat (due at ttl/2) gets no answer for 5 s.
    server:script { { pass = true, delay = 5, path = BASE .. "/heartbeat" } }
    local state, err = lease:wait(4)
    local took = core.now() - answered
    assert.are.equal("lost", state)
    assert.is_true(took < 1.5, string.format("lost %.2f s after the last answer", took))
    assert.are.same({ "lease", "expired", 1 }, { err.kind, err.reason, err.ttl_seconds })
    assert.matches("the lease ran out: no heartbeat was answered within its ttl of 1 s", tostring(err), 1, true)
    assert.are.same({ "active", "lost" }, states)
    -- the heartbeat was sent, and nothing is left in flight
    local reqs = server:requests()
    assert.are.equal("POST " .. BASE .. "/heartbeat", reqs[#reqs].method .. " " .. reqs[#reqs].path)
    assert.are.equal(0, client:drive(0))
    assert.is_nil(lease:next_timer())
  end)

  it("a frame loop that only polls sees the lease lost on time too", function()
    local client, item = claimed()
    local lease = client:work_lease(ENV, item, { desired_ttl_seconds = 1, interval = 30 })
    run(lease, function() return lease.state == "active" end)
    local answered = core.now()
    server:script { { pass = true, delay = 5, path = BASE .. "/heartbeat" } }
    local t = lease:next_timer()
    assert.is_true(t > 0.3 and t <= 0.5, tostring(t))
    run(lease, function() return lease.state == "lost" end, 4)
    local took = core.now() - answered
    assert.is_true(took < 1.5, string.format("lost %.2f s after the last answer", took))
    assert.are.equal("expired", lease.err.reason)
    assert.are.equal(0, client:drive(0))
  end)

  it("rides out a failed heartbeat while the lease lasts; a failed ack loses it at once", function()
    local client, item = claimed { max_retries = 0 }
    local lease = client:work_lease(ENV, item, { interval = 0.05 })
    assert.are.equal("active", lease:wait(5))
    server:script { { status = 500, path = BASE .. "/heartbeat" } }
    local n = lease.heartbeats
    while lease.heartbeats < n + 2 do assert.are.equal("active", lease:wait(1)) end
    assert.are.equal(0, server:pending())
    assert.is_nil(lease.last_error)   -- cleared by the next good heartbeat
    lease:close()

    local missing = client:work_lease(ENV, "work_missing")
    local state, err = missing:wait(5)
    assert.are.same({ "lost", 404 }, { state, err.status })
  end)

  it("with ack = false it goes straight to the first heartbeat", function()
    local client, item = claimed()
    assert(client:work_ack(ENV, item.id))
    local lease = client:work_lease(ENV, item, { ack = false })
    assert.are.equal("active", lease:wait(5))
    assert.are.same({ "POST /ack", "POST /heartbeat" }, steps(server:requests()))
    -- the fake's default ttl is 30 s: the next heartbeat comes at 15 s, not 30
    assert.are.equal(30, lease.ttl_seconds)
    local t = lease:next_timer()
    assert.is_true(t > 14 and t <= 15, tostring(t))
  end)

  it("never shows the secret: tostring, its fields, and errors that echo it", function()
    local lines = {}
    local client, item = claimed { logger = function(l) lines[#lines + 1] = l end }
    server:script { { status = 412, path = BASE .. "/heartbeat",
      json = { type = "error", error = { type = "invalid_request_error", message = "lease of " .. SECRET .. " held" } } } }
    local lease = client:work_lease(ENV, item)
    local state, err = lease:wait(5)
    assert.are.equal("lost", state)
    assert.are.equal("lease of [secret] held", err.message)
    for _, text in ipairs { tostring(lease), tostring(err), table.concat(lines, "\n") } do
      assert.falsy(text:find(SECRET, 1, true), text)
    end
    assert.are.equal("anthropic.environments lease on work_1 in env_selfhosted01: lost (0 heartbeats)", tostring(lease))
    for k, v in pairs(lease) do assert.falsy(tostring(v):find(SECRET, 1, true), k) end
    assert.falsy(environments.encode { lease.env_id, lease.work_id, lease.state }:find(SECRET, 1, true))
  end)

  it("cuts the secret out of every string field and header value of an error that echoes it", function()
    local client, item = claimed()
    server:script { { status = 412, path = BASE .. "/heartbeat",
      headers = { ["request-id"] = "req_" .. SECRET, ["x-echo"] = "held by " .. SECRET .. "!" },
      json = { type = "error", request_id = "req_" .. SECRET,
               error = { type = SECRET .. "_error", message = SECRET,
                         details = { error_code = "code_" .. SECRET } } } } }
    local lease = client:work_lease(ENV, item)
    local state, err = lease:wait(5)
    assert.are.equal("lost", state)
    assert.are.equal(412, err.status)
    assert.are.same({ "[secret]_error", "code_[secret]", "req_[secret]", "[secret]", "req_[secret]",
                      "held by [secret]!" },
      { err.type, err.error_code, err.request_id, err.message, err.headers["request-id"], err.headers["x-echo"] })
    for k, v in pairs(err) do assert.falsy(tostring(v):find(SECRET, 1, true), k) end
    for k, v in pairs(err.headers) do assert.falsy(tostring(v):find(SECRET, 1, true), k) end
    assert.falsy(tostring(err):find(SECRET, 1, true))
  end)

  it("raises for programmer mistakes at the caller's line", function()
    local client, item = claimed()
    local function raises(pattern, f)
      local ok, msg = pcall(f)
      assert.is_false(ok)
      assert.matches(pattern, msg, 1, true)
      assert.matches("worker_spec.lua:%d+:", msg)
    end
    raises("work_lease: env_id must not be empty", function() client:work_lease("", item) end)
    raises("work_lease: the work item is in env_selfhosted01, not in env_id env_other",
      function() client:work_lease("env_other", item) end)
    raises("work_lease: work_item must be a work item or its id (got number)", function() client:work_lease(ENV, 1) end)
    raises("work_lease: work item id must not be empty", function() client:work_lease(ENV, { id = "" }) end)
    raises("work_lease: unknown option 'ttl'", function() client:work_lease(ENV, item, { ttl = 1 }) end)
    raises("work_lease: option 'interval' must be a positive number", function()
      client:work_lease(ENV, item, { interval = 0 }) end)
    raises("work_lease: option 'on_state' must be a function", function()
      client:work_lease(ENV, item, { on_state = true }) end)
    raises("work_lease: option 'with_response' is not for work_lease", function()
      client:work_lease(ENV, item, { with_response = true }) end)
    raises("work_lease: expected a client", function() client.work_lease(ENV, item) end)
    assert.are.equal(1, #server:requests())   -- only the poll
    local lease = client:work_lease(ENV, item)
    raises("finish: unknown parameter 'now'", function() lease:finish { now = true } end)
    raises("finish: parameter 'force' must be a boolean (got string)", function() lease:finish { force = "y" } end)
    raises("wait: timeout must be a non-negative number", function() lease:wait(-1) end)
    lease:close()
  end)
end)
