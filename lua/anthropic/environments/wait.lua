-- anthropic.environments.wait: the one way everything here waits for the
-- network: the blocking calls and call:wait (call.lua), the schedulers
-- behind many and archive_many (scheduler.lua), client:drive, and the lease
-- (through call:wait). A waiter waits until one of some attempts on the
-- network ends, or a time limit passes (a caller's deadline, a retry that
-- comes due), whichever is first; it may return sooner, and its caller
-- looks again. How it waits depends on the transport and the host:
--
--  * cosockets (a transport with wait_any): every waiting light thread
--    registers with each request it waits on, and a request's end (or its
--    cancel, or the client's close, from any light thread of any nginx
--    request) wakes all of them at once. Nothing polls.
--  * libcurl outside nginx: the wait blocks in the transport (run for one
--    request, drive for several), which does the network work meanwhile.
--  * libcurl inside an nginx phase that can yield: never blocking the
--    worker, it drives the transport without waiting, then yields with
--    ngx.sleep for 1 ms, doubling up to 20 ms while nothing ends.
--  * nothing on the network (only a retry waiting): the caller's sleep
--    function, which is trusted (a test's may take no time).
local clock = require "anthropic.environments.basics"   -- now() and sleep(): the core's clock
local runtime = require "anthropic.environments.runtime"

local setmetatable, min, max, now = setmetatable, math.min, math.max, clock.now

local M = {
  PAUSE_MIN = 0.001,   -- seconds: the first pause of a polled transport
  PAUSE_MAX = 0.02,    -- seconds: the longest
  BLOCK_MAX = 1,       -- seconds: the longest block in libcurl without a limit
}

local Waiter = {}
Waiter.__index = Waiter

--- wait.new() -> a waiter, for one waiting loop (it keeps the pace at
-- which a polled transport is looked at).
function M.new()
  return setmetatable({ pause = M.PAUSE_MIN }, Waiter)
end

-- Polls: drives every transport without waiting, then yields for the
-- current pause unless one of the requests has ended.
local function poll(self, requests, transports, limit, yield)
  local seen = {}
  for i = 1, #transports do
    local t = transports[i]
    if not seen[t] then
      seen[t] = true
      t:drive(0)
    end
  end
  for i = 1, #requests do
    if requests[i]:done() then return end
  end
  local pause = self.pause
  self.pause = min(pause * 2, M.PAUSE_MAX)
  local secs = limit and min(pause, limit) or pause
  if secs > 0 then
    if yield then yield(secs) else clock.sleep(secs) end
  end
end

--- waiter:any(requests, transports, limit): waits until one of the array
-- `requests` (transports[i] is the transport of requests[i]) has ended, or
-- `limit` seconds (nil: no limit) have passed; may return sooner.
function Waiter:any(requests, transports, limit)
  local n = #requests
  if n == 0 then return end
  local t = transports[1]
  for i = 2, n do
    -- Requests on more than one transport (rare): looked at in turn.
    if transports[i] ~= t then return poll(self, requests, transports, limit, runtime.ngx_sleep()) end
  end
  if t.wait_any then return t:wait_any(requests, limit) end
  local yield = runtime.ngx_sleep()
  if yield then return poll(self, requests, transports, limit, yield) end
  limit = limit and max(limit, 0) or M.BLOCK_MAX
  if n == 1 then
    t:run(requests[1], limit)
  else
    t:drive(limit)
  end
end

--- wait.one(waiter, request, transport, limit) -> waiter: waiter:any for
-- one request, where waiter may be nil until a wait needs one (a polled
-- transport: libcurl inside nginx). A blocking libcurl call, or one over
-- cosockets, allocates nothing. Give the waiter it returns to the next.
function M.one(waiter, request, transport, limit)
  if transport.wait_any then
    transport:run(request, limit)
    return waiter
  end
  local yield = runtime.ngx_sleep()
  if yield then
    waiter = waiter or M.new()
    poll(waiter, { request }, { transport }, limit, yield)
    return waiter
  end
  transport:run(request, limit and max(limit, 0) or M.BLOCK_MAX)
  return waiter
end


--- wait.sleep(secs, sleep), or waiter:sleep(secs, sleep): nothing is on
-- the network; sleep is the caller's sleep function.
function M.sleep(secs, sleep)
  if secs > 0 then sleep(secs) end
end
function Waiter.sleep(_, secs, sleep) M.sleep(secs, sleep) end

--- wait.drive(transports, wait) -> the requests in flight on the array of
-- transports, after doing the work that is ready and waiting up to `wait`
-- seconds for some of it to end (client:drive).
function M.drive(transports, wait)
  local n, waking, other = 0, nil, nil
  for i = 1, #transports do
    local t = transports[i]
    local count = t:drive(0)
    n = n + count
    if count > 0 then
      if t.wait_any then waking = t else other = t end
    end
  end
  if not wait or wait <= 0 or n == 0 then return n end
  if waking and not other then
    -- Every request in flight is on cosockets: woken as the first ends.
    return waking:drive(wait)
  end
  local yield = runtime.ngx_sleep()
  if not yield and not waking then return other:drive(wait) end
  -- Polled: until a request ends or the wait is over.
  local waiter, deadline = M.new(), now() + wait
  while true do
    local left = deadline - now()
    if left <= 0 then return n end
    poll(waiter, {}, transports, left, yield)
    local m = 0
    for i = 1, #transports do m = m + transports[i]:drive(0) end
    if m < n then return m end
  end
end

return M
