-- examples/host --worker: the C frame-loop host serving a self-hosted
-- environment (long poll, lease, heartbeats, stop) while every request of
-- the fake is delayed 500 ms: no frame may take 250 ms, so no heartbeat
-- ever waits inside a frame. Runs once per `make test`, in its LuaJIT run
-- (see spec/support/hosts.lua), like spec/host_spec.lua.
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"
local socket = require "socket"

if not hosts.ONCE then return end

local HOST = hosts.ROOT .. "/build/host/host"
local ENV = "env_selfhosted01"
local BASE = "/v1/environments/" .. ENV .. "/work"
local SECRET = "wsecret-HOST-0123456789"
local DELAY_MS = 500

describe("examples/host --worker, heartbeats from a 60 Hz frame loop", function()
  local server

  setup(function()
    hosts.build("build/host/host")
    server = fake.start()
  end)
  teardown(function() server:stop() end)
  before_each(function()
    server:reset()
    server:enqueue_work(ENV, { { id = "work_1", session_id = "session_1", secret = SECRET } })
    server:config { delay_ms = DELAY_MS }
  end)

  -- Starts the host; returns a function that waits for it and gives stdout,
  -- stderr, the exit code and the longest frame in ms.
  local function start(args)
    local out, err = os.tmpname(), os.tmpname()
    local p = assert(io.popen(string.format("cd /tmp && env -u LD_PRELOAD -u ANTHROPIC_AUTH_TOKEN "
      .. "ANTHROPIC_API_KEY=sk-host-worker ANTHROPIC_BASE_URL=%s %s --worker %s %s >%s 2>%s </dev/null; echo $?",
      hosts.shell_quote(server.url), hosts.shell_quote(HOST), ENV, args, out, err)))
    return function()
      local code = tonumber(p:read("*a"):match("(%d+)%s*$"))
      p:close()
      local stdout, stderr = hosts.read_file(out), hosts.read_file(err)
      os.remove(out)
      os.remove(err)
      local longest = tonumber(stdout:match("longest frame: ([%d.]+) ms"))
      assert(longest, "no 'longest frame' line in:\n" .. stdout .. stderr)
      return stdout, stderr, code, longest
    end
  end

  local function until_state(state)
    local deadline = socket.gettime() + 15
    while server:work_item(ENV, "work_1").state ~= state do
      assert(socket.gettime() < deadline, "the item never became " .. state)
      socket.sleep(0.05)
    end
  end

  local function steps()
    local out = {}
    for i, r in ipairs(server:requests()) do out[i] = r.method .. " " .. r.path:sub(#BASE + 1) end
    return out
  end

  it("works an item for 3 s, heartbeating every second, without a frame taking 250 ms", function()
    local out, err, code, longest = start("--work-ms 3000 --ttl 2")()
    assert.are.equal(0, code, out .. err)
    assert.falsy((out .. err):find(SECRET, 1, true))
    assert.matches("^claimed work_1\nlease: starting\nlease: active\nlease: finishing\nlease: stopped\n"
      .. "stopped work_1 after %d+ heartbeats\n", out)
    assert.is_true(longest < 250, "longest frame " .. longest .. " ms")
    local s = steps()
    assert.are.same({ "GET /poll", "POST /work_1/ack", "POST /work_1/heartbeat" }, { s[1], s[2], s[3] })
    assert.are.equal("POST /work_1/stop", s[#s])
    assert.is_true(#s >= 6, table.concat(s, ", "))   -- three heartbeats or more: one a second
    local reqs = server:requests()
    assert.are.equal("block_ms=500", reqs[1].query)
    assert.are.equal("examples-host", reqs[1].header_map["anthropic-worker-id"])
    assert.are.equal("desired_ttl_seconds=2&expected_last_heartbeat=NO_HEARTBEAT", reqs[3].query)
    for i = 4, #reqs - 1 do   -- each echoes a time, never NO_HEARTBEAT again
      assert.matches("^desired_ttl_seconds=2&expected_last_heartbeat=%d%d%d%d%-", reqs[i].query)
    end
  end)

  it("stops early when the server asks, still without a long frame", function()
    local finish = start("--work-ms 60000 --ttl 2")
    until_state("active")
    server:request_work_stop(ENV, "work_1")
    local out, err, code, longest = finish()
    assert.are.equal(0, code, out .. err)
    assert.matches("\nlease: active\nlease: stopping\nlease: finishing\nlease: stopped\n", out)
    assert.is_true(longest < 250, "longest frame " .. longest .. " ms")
    local s = steps()
    assert.are.equal("POST /work_1/stop", s[#s])
  end)

  it("exits 1 when another worker steals the lease, and leaves the item alone", function()
    local finish = start("--work-ms 60000 --ttl 2")
    until_state("active")
    server:steal_lease(ENV, "work_1", { worker = "thief" })
    local out, err, code, longest = finish()
    assert.are.equal(1, code, out .. err)
    assert.matches("\nlease: lost\n", out)
    assert.matches("host: the lease was lost: anthropic.environments: api error 412", err, 1, true)
    assert.is_true(longest < 250, "longest frame " .. longest .. " ms")
    for _, l in ipairs(steps()) do assert.are_not.equal("POST /work_1/stop", l) end
  end)
end)
