-- examples/worker.lua, a worker in a plain Lua loop, run as a process
-- against the fake's work queue: an item done under a kept lease, one the
-- server asks to stop while it runs, and one whose lease is stolen.
local fake = require "spec.support.fake"
local hosts = require "spec.support.hosts"
local socket = require "socket"

local ENV = "env_selfhosted01"
local BASE = "/v1/environments/" .. ENV .. "/work"
local SECRET = "wsecret-EXAMPLE-0123456789"

describe("examples/worker.lua", function()
  local server

  setup(function() server = fake.start() end)
  teardown(function() server:stop() end)
  before_each(function()
    server:reset()
    server:enqueue_work(ENV, { { id = "work_1", session_id = "session_1", secret = SECRET } })
  end)

  -- Starts the example; returns a function giving its output and exit code
  -- once it has ended.
  local function start(args)
    local cmd = string.format("cd %s && env -u ANTHROPIC_AUTH_TOKEN -u ANTHROPIC_LOG ANTHROPIC_API_KEY=sk-worker "
      .. "ANTHROPIC_BASE_URL=%s LUA_PATH=%s LUA_CPATH=%s %s examples/worker.lua %s 2>&1; echo \"exit $?\"",
      hosts.shell_quote(hosts.ROOT), server.url, hosts.shell_quote(package.path), hosts.shell_quote(package.cpath),
      fake.interpreter(), args)
    local p = io.popen(cmd)
    return function()
      local out = p:read("*a")
      p:close()
      local code = tonumber(out:match("exit (%d+)\n$"))
      return out:gsub("exit %d+\n$", ""), code
    end
  end

  -- Waits until the fake's item is in `state` (bounded).
  local function until_state(state)
    local deadline = socket.gettime() + 10
    while server:work_item(ENV, "work_1").state ~= state do
      assert(socket.gettime() < deadline, "the item never became " .. state)
      socket.sleep(0.02)
    end
  end

  local function lines()
    local out = {}
    for i, r in ipairs(server:requests()) do out[i] = r.method .. " " .. r.path:sub(#BASE + 1) end
    return out
  end

  it("does an item under a kept lease, heartbeating at ttl/2, then stops it", function()
    local out, code = start(ENV .. " --once --steps 20 --step-seconds 0.1 --ttl 1")()
    assert.are.equal(0, code, out)
    assert.falsy(out:find(SECRET, 1, true), out)
    assert.matches("^claimed work_1 %(session session_1%)\nlease work_1: active\n", out)
    assert.matches("\nlease work_1: finishing\nlease work_1: stopped\nstopped work_1 after %d+ heartbeats\n$", out)
    local n = tonumber(out:match("after (%d+) heartbeats"))
    assert.is_true(n >= 3 and n <= 5, out)   -- about one per 0.5 s of the 2 s of work
    local reqs = server:requests()
    assert.are.equal("block_ms=999", reqs[1].query)
    assert.are.equal("examples-worker", reqs[1].header_map["anthropic-worker-id"])
    local want = { "GET /poll", "POST /work_1/ack" }
    for _ = 1, n do want[#want + 1] = "POST /work_1/heartbeat" end
    want[#want + 1] = "POST /work_1/stop"
    assert.are.same(want, lines())
    assert.are.equal("desired_ttl_seconds=1&expected_last_heartbeat=NO_HEARTBEAT", reqs[3].query)
    -- a graceful stop (no force): the item is stopping until the lease the
    -- worker no longer renews runs out
    assert.are.equal("stopping", server:work_item(ENV, "work_1").state)
    server:expire_lease(ENV, "work_1")
    assert.are.equal("stopped", server:work_item(ENV, "work_1").state)
  end)

  it("stops early when the server asks it to", function()
    local finish = start(ENV .. " --once --steps 100 --step-seconds 0.05 --ttl 1")
    until_state("active")
    server:request_work_stop(ENV, "work_1")
    local out, code = finish()
    assert.are.equal(0, code, out)
    assert.matches("\nlease work_1: stopping\nthe server asked to stop: stopping after step %d+\n", out)
    assert.matches("\nstopped work_1 after %d+ heartbeats\n$", out)
    local l = lines()
    assert.are.equal("POST /work_1/stop", l[#l])
    assert.is_true(#l < 100)
  end)

  it("gives up, without stopping the item, when another worker steals the lease", function()
    local finish = start(ENV .. " --once --steps 100 --step-seconds 0.05 --ttl 1")
    until_state("active")
    server:steal_lease(ENV, "work_1", { worker = "thief", ttl_seconds = 30 })
    local out, code = finish()
    assert.are.equal(1, code, out)
    assert.matches("\nlease work_1: lost %(anthropic.environments: api error 412 invalid_request_error", out)
    for _, l in ipairs(lines()) do assert.are_not.equal("POST /work_1/stop", l) end
    assert.are.equal("thief", server:work_item(ENV, "work_1").lease.worker)
  end)
end)
