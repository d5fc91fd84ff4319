-- anthropic.environments.transport.ngx: the transport over nginx's
-- cosockets (ngx.socket.tcp), for the phases of lua-nginx-module that can
-- yield (rewrite, access, content, ngx.timer, ssl_certificate, ...). See
-- transport.lua for the interface every transport implements.
--
-- Each request is a light thread (ngx.thread.spawn) that connects (or takes
-- a kept-alive connection from nginx's pool, keyed by scheme, host, port and
-- TLS settings), shakes hands over TLS with SNI, verification and session
-- reuse, writes the request (transport/ngx_wire.lua) and feeds what it reads
-- to the C core's bounded answer parser (core.http_response). A waiting
-- call sleeps on a semaphore the thread posts when it ends: nginx wakes it
-- the moment the last byte has arrived, and nothing polls.
--
-- The transport only moves bytes: statuses, retries and errors are decided
-- by call.lua and answer.lua, as for the libcurl transport.
local core = require "anthropic.environments.core"
local wire = require "anthropic.environments.transport.ngx_wire"

local ngx = ngx   -- luacheck: ignore ngx
local setmetatable, pairs, pcall, type, tostring = setmetatable, pairs, pcall, type, tostring
local min, max, floor, huge, format = math.min, math.max, math.floor, math.huge, string.format
-- nginx's cached clock (updated at each turn of its event loop, as its
-- own timers use it): cheaper than a clock_gettime per socket operation.
local now = ngx.now
local coroutine_running = coroutine.running

local semaphore = require "ngx.semaphore"

local M = { name = "ngx" }

local READ_SIZE = 65536                 -- most bytes asked of one receive
local FOREVER = 86400                   -- seconds of one wait "without" a limit

-- TLS sessions to resume, per pool key, for every transport of the worker.
local sessions = {}

local Request = {}
Request.__index = Request

local Transport = {}
Transport.__index = Transport

-- Milliseconds for the next socket operation: at most `limit` seconds (nil:
-- none), and no later than the attempt's deadline; 1 when it has passed
-- (nginx takes 0 as "its default"), so the operation times out at once.
local function budget(req, limit)
  local left = limit or huge
  if req.deadline then left = min(left, req.deadline - now()) end
  if left == huge then return FOREVER * 1000 end
  return max(floor(left * 1000 + 0.5), 1)
end

-- The attempt's error for a socket operation's failure. `what` names the
-- stage: "connect", "handshake", "send" or "receive".
local function failure(req, what, err)
  local t = req.transport
  local elapsed = floor((now() - req.started) * 1000 + 0.5)
  if err == "timeout" then
    if req.deadline and now() >= req.deadline - 0.001 then
      return "timeout", format("Operation timed out after %d milliseconds with %d bytes received",
        elapsed, req.received)
    end
    if what == "connect" or what == "handshake" then
      return "timeout", format("Connection timed out after %d milliseconds", elapsed)
    end
    return "timeout", format("no data sent or received for %d ms (stall_timeout)",
      floor(t.config.stall_timeout * 1000 + 0.5))
  end
  -- nginx's verification failures: OpenSSL's "<code>: <reason>" (untrusted,
  -- expired...) or "certificate host mismatch": no retry can fix them.
  if what == "handshake" and type(err) == "string" and (err:find("^%d+: ")
      or err:find("certificate verify failed", 1, true) or err:find("certificate host mismatch", 1, true)) then
    req.reason = "tls_certificate"
  end
  return "connection", wire.explain(what, err, req.url)
end

-- Ends the request: records the outcome, wakes whoever waits on it.
local function finish(req, status, headers, body, kind, message, status_seen)
  if req.finished then return end
  req.finished = true
  req.status, req.headers, req.body = status, headers, body
  req.kind, req.message, req.status_seen = kind, message, status_seen
  req.sock = nil
  local t = req.transport
  if t.inflight[req] then
    t.inflight[req] = nil
    t.n = t.n - 1
  end
  local notify = req.notify
  if notify then notify:post(1) end
end

-- One try on one connection: true, or false when a kept-alive connection
-- turned out dead before any byte of the answer came (the caller tries
-- once more on a new connection, as libcurl does).
local function exchange_once(req, fresh)
  local t, u = req.transport, req.url
  local config = t.config
  local sock = ngx.socket.tcp()
  req.sock = sock

  -- Connecting and the TLS handshake share connect_timeout.
  local connect_by = config.connect_timeout and now() + config.connect_timeout
  sock:settimeout(budget(req, connect_by and connect_by - now()))
  local ok, err = sock:connect(u.host, u.port, t.pool_options[u.pool] or t:pool_for(u))
  if not ok then return finish(req, nil, nil, nil, failure(req, "connect", err)) end
  local reused = not fresh and (sock:getreusedtimes() or 0) > 0
  if u.tls and not reused then
    sock:settimeout(budget(req, connect_by and connect_by - now()))
    -- resty.core's sslhandshake raises (an assertion) when a failed
    -- handshake completes without waiting: a failure with no reason.
    local called, session
    called, session, err = pcall(sock.sslhandshake, sock, sessions[u.pool], u.sni, t.verify)
    if not called then session, err = nil, false end
    if not session then
      sock:close()
      return finish(req, nil, nil, nil, failure(req, "handshake", err))
    end
    if type(session) ~= "boolean" then sessions[u.pool] = session end
  end

  sock:settimeout(budget(req, config.stall_timeout))
  local sent
  sent, err = sock:send(req.bytes)
  if not sent then
    sock:close()
    if reused and err ~= "timeout" then return false end
    return finish(req, nil, nil, nil, failure(req, "send", err))
  end

  local parser = core.http_response(config.max_body)
  while true do
    sock:settimeout(budget(req, config.stall_timeout))
    local data
    data, err = sock:receiveany(parser:want(READ_SIZE))
    local state, kind, message
    if data then
      req.received = req.received + #data
      state, kind, message = parser:feed(data)
    elseif err == "closed" then
      if reused and req.received == 0 then
        sock:close()
        return false
      end
      state, kind, message = parser:eof()
    else
      sock:close()
      if reused and req.received == 0 and err ~= "timeout" then return false end
      kind, message = failure(req, "receive", err)
      -- As libcurl: a stalled answer reports no status.
      local status_seen = message:find("(stall_timeout)", 1, true) and 0 or parser:status()
      return finish(req, nil, nil, nil, kind, message, status_seen)
    end
    if state == "done" then
      local reusable = parser:reusable()
      local status, headers, body = parser:result()
      if reusable then sock:setkeepalive() else sock:close() end
      return finish(req, status, headers, body)
    elseif state == nil then
      sock:close()
      return finish(req, nil, nil, nil, kind, message, parser:status())
    end
  end
end

local function exchange_tries(req)
  if exchange_once(req, false) == false and not req.finished then
    req.received = 0
    exchange_once(req, true)
  end
end

-- The exchange of one request: on its light thread, or in run().
local function exchange(req)
  local ok, err = pcall(exchange_tries, req)
  if not ok then finish(req, nil, nil, nil, "connection", "the cosocket transport failed: " .. tostring(err), 0) end
  return req
end

--- ngx.new(config) -> a transport over cosockets; config as transport.lua.
function M.new(config)
  local t = setmetatable({
    config = {
      connect_timeout = config.connect_timeout,
      stall_timeout = config.stall_timeout,
      max_body = config.max_body or 16 * 1024 * 1024,
    },
    verify = not config.insecure_skip_tls_verify,
    inflight = {}, n = 0, closed = false, urls = {},
    pool_options = {},
    seed = (floor(now() * 1e6) + (ngx.worker and ngx.worker.pid and ngx.worker.pid() or 0)) % 2147483646 + 1,
  }, Transport)
  return t
end

-- The connect options of a pool key: nginx keeps one pool per name.
function Transport:pool_for(u)
  local options = { pool = u.pool }
  self.pool_options[u.pool] = options
  return options
end

-- Runs a request's exchange on a light thread of its own.
local function launch(req)
  req.deferred = false
  local thread, err = ngx.thread.spawn(exchange, req)
  if not thread then
    finish(req, nil, nil, nil, "connection", "could not start a light thread: " .. tostring(err), 0)
  end
  req.thread, req.parent = thread, coroutine_running()
end

-- The URL taken apart, from a cache per scheme://authority.
local function parse(self, url)
  local slash = url:find("/", 9, true)
  local base = slash and url:sub(1, slash - 1) or url
  local u = self.urls[base]
  if not u then
    local err
    u, err = wire.parse_url(base, self.verify)
    if not u then return nil, err end
    self.urls[base] = u
  end
  return u, slash and url:sub(slash) or "/"
end

--- t:start(method, url, header_lines, body, timeout, blocking) -> request
-- A blocking call's exchange waits for run(), which does it in the calling
-- coroutine; any other starts at once on a light thread.
function Transport:start(method, url, lines, body, timeout, blocking)
  if self.closed then return nil, { kind = "cancelled", message = "the client was closed" } end
  local u, path = parse(self, url)
  if not u then return nil, { kind = "connection", message = path } end
  local req = setmetatable({
    transport = self, url = u, started = now(), received = 0,
    deadline = timeout and timeout > 0 and now() + timeout or nil,
    bytes = wire.request(method, u, path, lines, body),
    finished = false, deferred = true,
  }, Request)
  self.inflight[req] = true
  self.n = self.n + 1
  if not blocking then launch(req) end
  return req
end

--- request:done() -> true once the attempt has ended. (One that waited
-- for run() starts now, as someone polls it.)
function Request:done()
  if self.deferred then launch(self) end
  return self.finished
end

--- request:result() -> status, headers, body  or  nil, failure (see transport.lua)
function Request:result()
  if not self.finished then error("anthropic.environments: request is not done", 2) end
  -- Reap the thread (it has ended, so this does not wait); only the
  -- coroutine that started it may, and others leave it to the request's end.
  local thread = self.thread
  if thread and not self.reaped then
    self.reaped = true
    pcall(ngx.thread.wait, thread)
  end
  if self.status then return self.status, self.headers, self.body end
  local seen = self.status_seen
  return nil, { kind = self.kind, message = self.message, status = seen ~= 0 and seen or nil, reason = self.reason }
end

--- request:cancel(): stops it; its connection is closed, not reused.
function Request:cancel()
  if self.finished then return end
  self.deferred = false
  local sock, thread = self.sock, self.thread
  if thread then
    self.reaped = true
    pcall(ngx.thread.kill, thread)
  end
  if sock then pcall(sock.close, sock) end
  finish(self, nil, nil, nil, "cancelled", "the client was closed", 0)
end

-- Waits until one of `requests` has ended or `wait` seconds (nil: no limit)
-- have passed. A semaphore the requests' threads post: no polling, and any
-- light thread of the request may wait on it.
local function wait_for(requests, wait)
  local sema
  for req in pairs(requests) do
    if req.deferred then launch(req) end
    if req.finished then return end
    sema = sema or semaphore.new(0)
    req.notify = sema
  end
  if not sema then return end
  local deadline = wait and now() + wait
  repeat
    local left = deadline and deadline - now() or FOREVER
    -- The semaphore counts whole milliseconds; 0 would not wait at all.
    if left < 0.001 then break end
    local ok = sema:wait(min(left, FOREVER))
  until ok
  for req in pairs(requests) do
    if req.notify == sema then req.notify = nil end
  end
end

--- t:wait_any(requests, wait): blocks (yielding to nginx) until one of the
-- array `requests` is done or wait seconds (nil: no limit) have passed.
function Transport.wait_any(_, requests, wait)
  local set = {}
  for i = 1, #requests do set[requests[i]] = true end
  wait_for(set, wait)
end

--- t:run(req, wait) -> requests in flight, after req is done or wait passed.
function Transport:run(req, wait)
  if req.finished then return self.n end
  if req.deferred then
    if wait == nil then
      req.deferred = false
      exchange(req)             -- here, in the caller's coroutine
      return self.n
    end
    launch(req)
  end
  if wait == nil and req.parent == coroutine_running() then
    -- The coroutine that started it waits on the thread itself: nginx
    -- resumes it the moment the thread ends.
    req.reaped = true
    ngx.thread.wait(req.thread)
  elseif wait == nil or wait > 0 then
    wait_for({ [req] = true }, wait)
  end
  return self.n
end

--- t:drive(wait) -> requests in flight. The threads move by themselves;
-- with a wait, it returns as soon as any of them ends.
function Transport:drive(wait)
  if wait and wait > 0 and self.n > 0 then wait_for(self.inflight, wait) end
  return self.n
end

--- t:fds() -> no sockets, no timer: nginx's event loop watches them.
function Transport.fds() return {}, nil end

--- t:random() -> [0, 1), for retry jitter (Park-Miller; the host's
-- math.random is left alone).
function Transport:random()
  self.seed = (self.seed * 16807) % 2147483647
  return (self.seed - 1) / 2147483646
end

--- t:close(): ends every request in flight as cancelled.
function Transport:close()
  self.closed = true
  local list = {}
  for req in pairs(self.inflight) do list[#list + 1] = req end
  for _, req in pairs(list) do req:cancel() end
end

return M
