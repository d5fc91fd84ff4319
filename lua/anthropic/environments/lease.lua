-- anthropic.environments.lease: the lease a worker holds on a work item
-- while it runs it (client:work_lease). It acknowledges the item, claims the
-- lease with a first heartbeat expecting NO_HEARTBEAT, then heartbeats on
-- the async calls, echoing the server's previous last_heartbeat, every
-- `interval` seconds (30) or sooner when the answer's ttl_seconds asks for
-- it. Nothing here sleeps unless the host asks it to (lease:wait): a frame
-- loop calls lease:poll(), which never blocks.
--
-- States: "starting" (ack and first heartbeat in flight), "active",
-- "stopping" (the server asked the worker to stop; the lease is still kept),
-- "finishing" (the host is done; the stop is in flight), and the two ends:
-- "stopped" (the stop was sent; err is its error if it failed) and "lost"
-- (the lease is not ours: a 412, a lease not extended, a failed ack or first
-- heartbeat, or heartbeats failing until the lease ran out; err says which).
local basics = require "anthropic.environments.basics"
local check = require "anthropic.environments.check"
local options = require "anthropic.environments.options"
local errors = require "anthropic.environments.errors"
local runtime = require "anthropic.environments.runtime"
local wait = require "anthropic.environments.wait"
local client = require "anthropic.environments.client"
local work = require "anthropic.environments.work_calls"
check.internal()

local type, next, tostring, setmetatable, format, min, max =
      type, next, tostring, setmetatable, string.format, math.min, math.max
local argerror, check_id = check.argerror, check.id
local now = basics.now

local M = {
  DEFAULT_INTERVAL = 30,   -- seconds between heartbeats at most
  MIN_DELAY = 0.25,        -- seconds: ttl/2 is never taken below this
}

local Lease = {}
Lease.__index = Lease
M.Lease = Lease

-- lease -> { client, secret, call, step, next_at, sent_at, expires_at,
-- interval, ttl, call_opts, on_state, sleep }: nothing a lease shows.
local private = setmetatable({}, { __mode = "k" })

local FINAL = { stopped = true, lost = true }

function Lease.__tostring(lease)
  return format("anthropic.environments lease on %s in %s: %s (%d heartbeats)",
    lease.work_id, lease.env_id, lease.state, lease.heartbeats)
end

-- An error the lease reports, with the item's secret cut out of every
-- string field and header value the server sent (a server echoing it must
-- not make it loggable): errors.redact, as for credentials.
local function scrub(p, err)
  local secret = p.secret
  if type(secret) == "string" and secret ~= "" then return errors.redact(err, { secret }, "[secret]") end
  return err
end

local function set_state(lease, p, state, err)
  if lease.state == state then return end
  lease.state, lease.err = state, err
  if FINAL[state] then
    if p.call then p.call:cancel() end
    p.call, p.next_at = nil, nil
  end
  if p.on_state then p.on_state(lease, state, err) end
end

local function lost(lease, p, err)
  set_state(lease, p, "lost", scrub(p, err))
end

-- The lease ran out (its ttl passed) with no heartbeat answered: lost, and
-- the heartbeat still in flight, if any, cancelled. err: the last failure.
local function ran_out(lease, p, err)
  local why = err and err.message and format(" (last heartbeat: %s)", err.message) or ""
  lost(lease, p, errors.new("lease", { reason = "expired", ttl_seconds = lease.ttl_seconds,
    message = format("the lease ran out: no heartbeat was answered within its ttl of %g s%s",
      lease.ttl_seconds or 0, why) }))
end

-- True once the lease's own ttl has passed while it is held.
local function expired(lease, p)
  return p.expires_at ~= nil and p.step ~= "stop" and now() >= p.expires_at
    and (lease.state == "active" or lease.state == "stopping")
end

local function heartbeat(lease, p)
  local params = { expected_last_heartbeat = lease.last_heartbeat or work.NO_HEARTBEAT,
                   desired_ttl_seconds = p.ttl }
  local opts, t = p.call_opts, now()
  if p.expires_at then
    -- No attempt outlives the lease: each one's timeout is at most the
    -- time it has left.
    local left = p.expires_at - t
    if left <= 0 then return ran_out(lease, p, lease.last_error) end
    if left < (opts.timeout or p.client.timeout) then
      local capped = {}
      for k, v in next, opts do capped[k] = v end
      capped.timeout = left
      opts = capped
    end
  end
  p.next_at, p.step, p.sent_at = nil, "heartbeat", t
  p.call = p.client:work_heartbeat_async(lease.env_id, lease.work_id, params, opts)
end

-- The seconds until the next heartbeat, from the lease's ttl.
local function delay(p, ttl)
  if type(ttl) == "number" and ttl > 0 then return min(p.interval, max(ttl / 2, M.MIN_DELAY)) end
  return p.interval
end

local function on_heartbeat(lease, p, answer, err)
  local t = now()
  if not answer then
    if err.kind == "api" and err.status == 412 then return lost(lease, p, err) end
    if not lease.last_heartbeat or not p.expires_at then return lost(lease, p, err) end
    if t >= p.expires_at then return ran_out(lease, p, err) end
    -- The lease still runs: try again before it ends.
    lease.last_error = scrub(p, err)
    p.next_at = t + min(p.interval, (p.expires_at - t) / 2)
    return
  end
  if answer.lease_extended == false or answer.state == "stopped" then
    return lost(lease, p, errors.new("lease", { state = answer.state,
      message = format("the lease was not extended (the item is %s)", tostring(answer.state)) }))
  end
  if type(answer.last_heartbeat) ~= "string" or answer.last_heartbeat == "" then
    return lost(lease, p, errors.new("decode", { message = "a heartbeat answer without last_heartbeat" }))
  end
  local ttl = answer.ttl_seconds
  lease.heartbeats = lease.heartbeats + 1
  lease.last_heartbeat, lease.ttl_seconds, lease.last_error = answer.last_heartbeat, ttl, nil
  p.expires_at = type(ttl) == "number" and p.sent_at + ttl or nil
  -- Counted from when the heartbeat was sent, as the lease is: a slow
  -- answer does not push the next heartbeat past the lease's end.
  p.next_at = max(p.sent_at + delay(p, ttl), t)
  if answer.state == "stopping" then
    set_state(lease, p, "stopping", nil)
  elseif lease.state == "starting" then
    set_state(lease, p, "active", nil)
  end
end

-- The call in flight is done: what follows from its answer.
local function on_answer(lease, p, step, value, err)
  if step == "ack" then
    if not value then return lost(lease, p, err) end
    return heartbeat(lease, p)
  elseif step == "heartbeat" then
    return on_heartbeat(lease, p, value, err)
  end
  lease.item_state = value and value.state or nil
  set_state(lease, p, "stopped", err and scrub(p, err) or nil)
end

--- lease:poll() -> state, err. Moves the lease on (collects answers, sends
-- the heartbeat that is due); never blocks.
function Lease:poll()
  local p = private[self]
  while not FINAL[self.state] do
    local c = p.call
    if c then
      local done, value, err = c:poll()
      if done then
        p.call = nil
        on_answer(self, p, p.step, value, err)
      elseif expired(self, p) then
        ran_out(self, p, self.last_error)
      else
        break
      end
    elseif expired(self, p) then
      ran_out(self, p, self.last_error)
    elseif p.next_at and now() >= p.next_at then
      heartbeat(self, p)
    else
      break
    end
  end
  return self.state, self.err
end

--- lease:next_timer() -> seconds until the lease must be polled (0: now):
-- the next heartbeat, a retry, or the lease running out; nil when it waits
-- on the network only (see client:fds) or has ended.
function Lease:next_timer()
  local p = private[self]
  if FINAL[self.state] then return nil end
  local t
  if p.call then
    t = p.call:next_timer()
  elseif p.next_at then
    t = max(p.next_at - now(), 0)
  end
  if p.expires_at and p.step ~= "stop" then
    local left = max(p.expires_at - now(), 0)
    t = t and min(t, left) or left
  end
  return t
end

--- lease:wait([timeout]) -> state, err. Runs the lease, blocking (in the
-- transport, or with the sleep option between heartbeats; yielding inside
-- OpenResty) until its state changes or `timeout` seconds have passed.
function Lease:wait(timeout)
  if timeout ~= nil and (type(timeout) ~= "number" or not (timeout >= 0)) then
    argerror("wait", "timeout must be a non-negative number of seconds")
  end
  local p = private[self]
  local from = self.state
  local deadline = timeout and now() + timeout
  local waiter = wait.new()   -- the calls wait as wait.lua says; so do the pauses
  while true do
    self:poll()
    if self.state ~= from or FINAL[self.state] then break end
    local t = now()
    if deadline and t >= deadline then break end
    local limit = deadline and deadline - t or 1
    -- Up to when the lease runs out, at most.
    if p.expires_at and p.step ~= "stop" then limit = min(limit, max(p.expires_at - t, 0.001)) end
    if p.call then
      p.call:wait(min(limit, 1))
    elseif p.next_at then
      waiter:sleep(min(p.next_at - t, limit), p.sleep)
    end
  end
  return self.state, self.err
end

local FINISH_KEYS = { force = true }

--- lease:finish([{ force }]): the host is done with the item. Stops
-- heartbeating and sends work_stop (force as given; the API's default
-- without it) without waiting: poll or wait until the state is "stopped".
-- A lost lease is not stopped (the item may be another worker's now).
function Lease:finish(params)
  local force
  if params ~= nil then
    if type(params) ~= "table" then argerror("finish", "params must be a table (got " .. type(params) .. ")") end
    for k in next, params do
      if not FINISH_KEYS[k] then argerror("finish", format("unknown parameter '%s'", tostring(k))) end
    end
    force = params.force
    if force ~= nil and type(force) ~= "boolean" then
      argerror("finish", "parameter 'force' must be a boolean (got " .. type(force) .. ")")
    end
  end
  if FINAL[self.state] or self.state == "finishing" then return self end
  local p = private[self]
  if p.call then p.call:cancel() end
  p.next_at, p.step = nil, "stop"
  p.call = p.client:work_stop_async(self.env_id, self.work_id, force ~= nil and { force = force } or nil,
    p.call_opts)
  set_state(self, p, "finishing", nil)
  return self
end

--- lease:close([{ force }]) -> state, err: finish, then wait for the stop.
function Lease:close(params)
  self:finish(params)
  while not FINAL[self.state] do self:wait() end
  return self.state, self.err
end
Lease.__close = function(lease) lease:close() end

local LEASE = {
  desired_ttl_seconds = options.whole(1, 1e9),
  interval = options.seconds,
  on_state = options.of_type("function"),
  ack = options.of_type("boolean"),
}
for name, checker in next, options.CALL do LEASE[name] = checker end
M.OPTIONS = LEASE

--- client:work_lease(env_id, work_item [, opts]) -> lease
-- work_item: the item work_poll gave (or its id). opts: ack (default true:
-- acknowledge the item first), desired_ttl_seconds, interval (seconds,
-- default 30), on_state(lease, state, err), sleep (for lease:wait), and the
-- options of every call, which its calls use.
function M.work_lease(self, env_id, item, opts)
  client.check("work_lease", self)
  check_id("work_lease", env_id, "env_id")
  local work_id, secret = item, nil
  if type(item) == "table" then
    work_id, secret = item.id, item.secret
    local env = item.environment_id
    if type(env) == "string" and env ~= env_id then
      argerror("work_lease", format("the work item is in %s, not in env_id %s", env, env_id))
    end
  elseif type(item) ~= "string" then
    argerror("work_lease", "work_item must be a work item or its id (got " .. type(item) .. ")")
  end
  check_id("work_lease", work_id, "work item id")
  opts = options.check("work_lease", opts, LEASE)
  if opts.with_response then
    argerror("work_lease", "option 'with_response' is not for work_lease (its calls' answers are the lease's)")
  end
  local call_opts = options.pick(opts, options.CALL)
  -- Raise now for bad ids or missing credentials, not at the first poll.
  local method, path = work.BUILD.work_heartbeat(nil, "work_lease", env_id, work_id, nil, call_opts)
  self:_prepare("work_lease", method, path, nil, call_opts)
  local lease = setmetatable({ env_id = env_id, work_id = work_id, state = "starting", heartbeats = 0 }, Lease)
  local p = {
    client = self, secret = secret, call_opts = call_opts,
    interval = opts.interval or M.DEFAULT_INTERVAL, ttl = opts.desired_ttl_seconds,
    on_state = opts.on_state, sleep = opts.sleep or runtime.sleep,
  }
  private[lease] = p
  if opts.ack == false then
    heartbeat(lease, p)
  else
    p.step = "ack"
    p.call = self:work_ack_async(env_id, work_id, call_opts)
  end
  return lease
end

M.METHODS = { { name = "work_lease", fn = M.work_lease } }   -- installed by methods.lua

return M
