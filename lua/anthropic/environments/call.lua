-- anthropic.environments.call: one API call in flight. One state machine
-- serves every mode: the blocking calls, the async calls and the
-- schedulers. Each attempt is a request of the transport; a retry is a timer
-- (retry_at) that poll() honours, never a sleep.
local clock = require "anthropic.environments.basics"   -- now(): the core's clock
local errors = require "anthropic.environments.errors"
local answer = require "anthropic.environments.answer"
local headers = require "anthropic.environments.headers"
local retry = require "anthropic.environments.retry"
local wait = require "anthropic.environments.wait"
local check = require "anthropic.environments.check"
check.internal()

local setmetatable, getmetatable, tostring, format, max = setmetatable, getmetatable, tostring, string.format, math.max
local new_error = errors.new

local M = {}

local Call = {}
M.Call = Call
Call.__index = Call

-- What a call must not show when it is printed, encoded or dumped (the
-- header lines carry the credentials): call -> { transport, lines, body,
-- request, ... }. A call's own fields are method, url, attempt, done, value,
-- err and, while a retry waits, retry_at.
local private = setmetatable({}, { __mode = "k" })

-- tostring(call): its method, URL (never a credential: those travel in the
-- header lines), state and attempt.
function Call.__tostring(c)
  local state
  if c.done then
    state = c.err == nil and "done ok"
      or "failed " .. tostring(c.err.kind) .. (c.err.status and " " .. tostring(c.err.status) or "")
  elseif c.retry_at then
    state = format("retry in %.1f s", max(c.retry_at - clock.now(), 0))
  else
    state = "pending"
  end
  return format("anthropic.environments call %s %s: %s (attempt %d)", c.method, c.url, state, c.attempt)
end

-- The response metadata of the calls started with_response: call -> false
-- until the call succeeds, then { status, headers, request_id, attempts,
-- elapsed }. Calls without the option have no entry and pay nothing.
local responses = setmetatable({}, { __mode = "k" })

-- The call has ended: its private state goes at once (not at the next
-- collection), so the table of private states only holds calls in flight.
-- An error gets the seconds since the first attempt started.
local function settle(call, value, err)
  local p = private[call]
  if err and p then
    err.transport = p.transport_name
    local started = p.first_started or p.started
    if started then err.elapsed = clock.now() - started end
  end
  call.done, call.value, call.err = true, value, err
  private[call] = nil
end

-- Settles the call after a failed attempt: a retry timer, or the end.
local function failed(call, p, err)
  errors.redact(err, headers.secrets(p.lines))
  err.attempts = call.attempt
  if call.attempt > p.max_retries or not retry.should(err) then
    settle(call, nil, err)
    return
  end
  call.retry_delay = retry.delay(call.attempt - 1, err.headers, retry.jitter())
  call.retry_at = clock.now() + call.retry_delay
end

-- The logger runs once the call's state is settled, so one that raises
-- cannot leave the call half done: its error reaches the caller of
-- poll/wait/the blocking call, and the call goes on from where it was.
local function log(call, p, outcome, answer_headers)
  if p.logger then
    p.logger(format("anthropic.environments: %s %s -> %s (request-id %s, attempt %d, %.1f ms, %s)",
      call.method, call.url, outcome, answer_headers and answer_headers["request-id"] or "-", call.attempt,
      (clock.now() - p.started) * 1000, p.transport_name))
  end
end

local function cancelled(call, message)
  return new_error("cancelled", { message = message or "the call was cancelled", attempts = call.attempt })
end

local function start_attempt(call, p)
  if p.owner.closed then   -- the client was closed while a retry waited
    settle(call, nil, cancelled(call, "the client was closed"))
    return
  end
  call.attempt = call.attempt + 1
  -- A retry keeps when the first attempt started (a call of one attempt
  -- writes nothing more: its state table keeps its size).
  if p.started and not p.first_started then p.first_started = p.started end
  p.started = clock.now()
  local request, failure = p.transport:start(call.method, call.url, p.send or p.lines, p.body, p.timeout)
  if request then
    p.request = request
    return
  end
  -- The request could not even be started (out of memory, a URL the
  -- transport refuses): an error of that kind, through the retry policy.
  failed(call, p, new_error(failure.kind, { message = failure.message, reason = failure.reason }))
  log(call, p, failure.kind)
end

-- The current attempt is done: its answer, a retry, or the final error.
local function finish_attempt(call, p)
  -- status, headers, body, decoded value or nil, decode error
  -- or  nil, failure: { kind, message, status (seen, or nil), reason }
  -- (the headers of a 2xx may come as their raw block when nothing here
  -- reads them: answer.headers makes the table when an error needs it)
  local status, r2, r3, r4, r5 = p.request:result(true, not (p.logger or p.with_response))
  p.request = nil
  local value, err
  if status then
    value, err = (p.interpret or answer.interpret)(status, r2, r3, r4, r5)
  else
    err = new_error(r2.kind, { message = r2.message, status = r2.status, reason = r2.reason })
  end
  if value ~= nil then
    if p.with_response then
      local now = clock.now()
      responses[call] = { status = status, headers = r2, request_id = r2["request-id"],
                          attempts = call.attempt, elapsed = now - (p.first_started or p.started) }
    end
    settle(call, value, nil)
  else
    failed(call, p, err)
  end
  log(call, p, status and tostring(status) or err.kind, status and r2)
end

-- Moves the call on without driving the transport: collects a finished
-- attempt, or starts the next one once its retry time has come.
function Call:_step()
  if self.done then return true end
  local p = private[self]
  local request = p.request
  if request then
    if request:done() then finish_attempt(self, p) end
  elseif self.retry_at and clock.now() >= self.retry_at then
    self.retry_at = nil
    start_attempt(self, p)
  end
  return self.done
end

--- call:_request() -> the attempt on the network and its transport, or nil.
function Call:_request()
  local p = private[self]
  if p and p.request then return p.request, p.transport end
  return nil
end

--- call:_running() -> true while an attempt is on the network.
function Call:_running()
  local p = private[self]
  return p ~= nil and p.request ~= nil
end

--- call:poll() -> false while pending; then true, value  or  true, nil, err.
-- Never blocks.
function Call:poll()
  if not self.done then
    local p = private[self]
    local request = p.request
    -- drive only for a request still on the network: wait() has often
    -- driven this one to its end already
    if request and not request:done() then p.transport:drive(0) end
    self:_step()
  end
  if self.done then return true, self.value, self.err end
  return false
end

--- call:wait([timeout]) -> as poll(), blocking up to timeout seconds (none:
-- until done). Inside OpenResty handlers it yields to nginx instead. It
-- waits as wait.lua says: any number of light threads may wait on one call,
-- and a cancel or a close from another light thread ends the wait at once.
function Call:wait(timeout)
  if self.done then return true, self.value, self.err end
  local deadline = timeout and clock.now() + timeout
  local waiter   -- made when a wait needs one (wait.one)
  while true do
    -- Wait on the network first: poll() would only find the request just
    -- sent still pending.
    local p = private[self]
    local request = p and p.request
    if request then
      waiter = wait.one(waiter, request, p.transport, deadline and max(deadline - clock.now(), 0))
    end
    local done, value, err = self:poll()
    if done then return true, value, err end
    local now = clock.now()
    if deadline and now >= deadline then return false end
    local retry_at = self.retry_at
    if retry_at then
      -- The sleep function is trusted: once it returns, the retry is due
      -- (a test's or a scheduler's sleep need not take real time).
      local secs = deadline and retry_at - now or self.retry_delay
      local limit = deadline and deadline - now or math.huge
      if secs > limit then
        wait.sleep(limit, p.sleep)
      else
        wait.sleep(secs, p.sleep)
        -- (a cancel meanwhile, from another coroutine, cleared it)
        if self.retry_at then self.retry_at = now end
      end
    end
  end
end

--- call:response() -> { status, headers, request_id, attempts, elapsed }
-- of a call that succeeded, nil while it is pending or when it failed (its
-- error has those fields). Raises for a call started without the option
-- with_response = true.
function Call:response()
  local r = responses[self]
  if r == nil then
    if getmetatable(self) ~= Call then check.argerror("response", "expected a call: call:response()") end
    check.argerror("response", "the call was started without the option with_response = true")
  end
  return r or nil
end

--- call:next_timer() -> seconds until the call must be polled for a retry
-- that is waiting (0 when it is due), or nil when it waits on the network
-- only (see client:fds) or is done. For external event loops.
function Call:next_timer()
  if self.done or not self.retry_at then return nil end
  return max(self.retry_at - clock.now(), 0)
end

--- call:cancel(): stops the call and frees its connection slot. A later
-- poll() gives true, nil, err with err.kind == "cancelled".
function Call:cancel()
  if self.done then return end
  local p = private[self]
  if p.request then p.request:cancel() end
  self.retry_at = nil
  settle(self, nil, cancelled(self))
end

--- call.new(method, url, p) -> a call whose first attempt has started.
-- p (kept private): owner (the client's private state: closed, ...),
-- transport and transport_name (the transport the call runs on), lines
-- (the header lines) and send (what the transport is given for them),
-- body, timeout, max_retries, sleep, logger; with_response; and
-- interpret(status, headers, body) -> value or
-- nil, err, for calls whose answers are read otherwise than
-- answer.interpret does.
function M.new(method, url, p)
  local call = setmetatable({ method = method, url = url, attempt = 0, done = false, value = nil, err = nil }, Call)
  private[call] = p
  if p.with_response then responses[call] = false end
  start_attempt(call, p)
  return call
end

return M
