-- A worker for a self-hosted environment, in a plain Lua loop: it polls
-- the environment's work queue (a long poll of up to block_ms), leases the
-- item it gets (acknowledge, claim with NO_HEARTBEAT, heartbeats), does the
-- work in small steps with lease:poll() between them, so the heartbeats go
-- out on time without a thread, and stops the item when it is done, when
-- the server asks it to stop, or gives up when the lease is lost.
--
--   lua examples/worker.lua ENV_ID [--once] [--steps N] [--step-seconds S]
--                                  [--ttl SECONDS] [--worker-id NAME]
--
-- --once: handle one item, then exit (otherwise it polls for ever).
-- The "work" is N steps of S seconds each (default 10 of 0.5).
-- Configured from ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN / ANTHROPIC_BASE_URL.
-- Exit status: 0 done; 1 the API failed or the lease was lost; 2 usage.
dofile((arg[0]:match("^(.*/)") or "./") .. "checkout.lua")   -- from a checkout: examples/checkout.lua
local environments = require "anthropic.environments"

local function usage()
  io.stderr:write("usage: lua examples/worker.lua ENV_ID [--once] [--steps N] [--step-seconds S]"
    .. " [--ttl SECONDS] [--worker-id NAME]\n")
  os.exit(2)
end

local env_id, once, steps, step_seconds, ttl, worker_id = nil, false, 10, 0.5, nil, "examples-worker"
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "--once" then once = true
  elseif a == "--steps" then i = i + 1; steps = tonumber(arg[i]) or usage()
  elseif a == "--step-seconds" then i = i + 1; step_seconds = tonumber(arg[i]) or usage()
  elseif a == "--ttl" then i = i + 1; ttl = tonumber(arg[i]) or usage()
  elseif a == "--worker-id" then i = i + 1; worker_id = arg[i] or usage()
  elseif a:sub(1, 1) == "-" or env_id then usage()
  else env_id = a end
  i = i + 1
end
if not env_id then usage() end

local client = environments.new()

-- One step of the work. A real worker would run a piece of the session
-- here; it must come back to the loop well within the heartbeat interval.
-- This one only lets step_seconds pass, in lease:wait (which sends the
-- heartbeats that fall due meanwhile, and returns early if the state
-- changes).
local function work_step(lease)
  lease:wait(step_seconds)
end

-- Runs one item under a lease; true when it was done (or stopped as asked).
local function run(item)
  print(string.format("claimed %s (%s %s)", item.id, tostring(item.data.type), tostring(item.data.id)))
  -- item.secret is the credential for the session: use it, never print it.
  local lease = client:work_lease(env_id, item, {
    desired_ttl_seconds = ttl,
    on_state = function(l, state, err)
      print(string.format("lease %s: %s%s", l.work_id, state, err and (" (" .. tostring(err) .. ")") or ""))
    end,
  })
  for step = 1, steps do
    local state = lease:poll()   -- never blocks: collects answers, sends a due heartbeat
    if state == "lost" then
      return false
    elseif state == "stopping" then
      print("the server asked to stop: stopping after step " .. (step - 1))
      break
    end
    work_step(lease)
  end
  local state, err = lease:close()   -- work_stop, then wait for its answer
  print(string.format("%s %s after %d heartbeats%s", state, item.id, lease.heartbeats,
    err and (": " .. tostring(err)) or ""))
  return state == "stopped" and not err
end

while true do
  local item, err = client:work_poll(env_id, { block_ms = 999, worker_id = worker_id })
  if item == nil then
    io.stderr:write(tostring(err), "\n")
    os.exit(1)
  elseif item then
    local ok = run(item)
    if once then os.exit(ok and 0 or 1) end
  end
end
