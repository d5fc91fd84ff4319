-- anthropic.environments.transport.ngx: the transport over nginx's
-- cosockets (ngx.socket.tcp), for the phases of lua-nginx-module that can
-- yield (rewrite, access, content, ngx.timer, ssl_certificate, ...). See
-- transport.lua for the interface every transport implements.
--
-- Each request is a light thread (ngx.thread.spawn) that connects (or takes
-- a kept-alive connection from nginx's pool, keyed by scheme, host, port,
-- TLS settings and trust, and a fingerprint of the credentials), shakes hands over TLS with SNI, verification and session
-- reuse, writes the request (transport/ngx_wire.lua) and feeds what it reads
-- to the C core's bounded answer parser (core.http_response). Every
-- coroutine waiting on a request sleeps on a semaphore of its own, which
-- the request's end posts (as does its cancel, or the client's close, from
-- any light thread): nginx wakes every waiter the moment the last byte has
-- arrived, and nothing polls. The coroutine that started a request reaps
-- its thread (nginx lets only it) at its next wait, start or result.
--
-- The transport only moves bytes: statuses, retries and errors are decided
-- by call.lua and answer.lua, as for the libcurl transport.
local core = require "anthropic.environments.core"
local wire = require "anthropic.environments.transport.ngx_wire"
local common = require "anthropic.environments.transport.common"

local ngx = ngx   -- luacheck: ignore ngx
local setmetatable, pairs, pcall, type, tostring = setmetatable, pairs, pcall, type, tostring
local min = math.min
-- nginx's cached clock (updated at each turn of its event loop, as its
-- own timers use it): cheaper than a clock_gettime per socket operation.
local now = ngx.now
local coroutine_running, coroutine_status = coroutine.running, coroutine.status
local thread_spawn, thread_wait, thread_kill = ngx.thread.spawn, ngx.thread.wait, ngx.thread.kill

local semaphore = require "ngx.semaphore"

local M = { name = "ngx" }

local READ_SIZE = 65536                 -- most bytes asked of one receive
local FOREVER = wire.FOREVER            -- seconds of one wait "without" a limit
local budget, failure, trust_name = wire.budget, wire.failure, wire.trust_name

-- TLS sessions to resume, per URL pool and trust (not per credentials),
-- for every transport of the worker.
local sessions = {}

local Request = {}
Request.__index = Request

local Transport = {}
Transport.__index = Transport

-- Every coroutine's own semaphore, for its waits (a coroutine waits in
-- one place at a time): coroutine -> semaphore.
local semaphores = setmetatable({}, { __mode = "k" })

-- The exchange threads of requests that have ended, per coroutine that
-- started them: only that coroutine may reap them (ngx.thread.wait or kill),
-- and it does at its next wait, start or result. coroutine -> array.
local ended = setmetatable({}, { __mode = "k" })

-- Reaps the ended threads the running coroutine started: a thread that
-- returned is waited on (no yield), one still on the network (its request
-- was cancelled) is killed, which closes its socket.
local function reap()
  local co = coroutine_running()
  local list = ended[co]
  if not list then return end
  ended[co] = nil
  for i = 1, #list do
    local thread = list[i]
    if coroutine_status(thread) == "dead" then pcall(thread_wait, thread) else pcall(thread_kill, thread) end
  end
end

-- Ends the request: records the outcome, wakes every coroutine waiting on
-- it, and leaves its thread to the coroutine that started it.
local function finish(req, status, headers, body, kind, message, status_seen)
  if req.finished then return end
  req.finished = true
  req.status, req.headers, req.body = status, headers, body
  req.kind, req.message, req.status_seen = kind, message, status_seen
  req.sock = nil
  req.transport.inflight[req] = nil
  local thread = req.thread
  if thread then
    req.thread = nil
    local list = ended[req.parent]
    if not list then
      list = {}
      ended[req.parent] = list
    end
    list[#list + 1] = thread
  end
  local waiters = req.waiters
  if waiters then
    req.waiters = nil
    for sema in pairs(waiters) do sema:post(1) end
  end
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
  local ok, err = sock:connect(u.host, u.port, t.pool_options[req.pool] or t:pool_for(req.pool))
  if not ok then return finish(req, nil, nil, nil, failure(req, "connect", err)) end
  local reused = not fresh and (sock:getreusedtimes() or 0) > 0
  if u.tls and not reused then
    sock:settimeout(budget(req, connect_by and connect_by - now()))
    -- resty.core's sslhandshake raises (an assertion) when a failed
    -- handshake completes without waiting: a failure with no reason.
    local called, session
    called, session, err = pcall(sock.sslhandshake, sock, sessions[req.trust], u.sni, t.verify)
    if not called then session, err = nil, false end
    if not session then
      sock:close()
      return finish(req, nil, nil, nil, failure(req, "handshake", err))
    end
    if type(session) ~= "boolean" then sessions[req.trust] = session end
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
      -- nginx refuses to keep a connection with unread bytes in its
      -- buffer (bytes after the answer): closed then, never pooled.
      if not (reusable and sock:setkeepalive()) then sock:close() end
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

-- The exchange of one request, on its light thread.
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
      max_body = config.max_body or common.DEFAULT_MAX_BODY,
    },
    verify = not config.insecure_skip_tls_verify,
    -- The requests in flight, weakly: a request whose nginx request ended
    -- under it (ngx.exit, a client abort) had its thread killed by nginx,
    -- and leaves with the rest of that request's garbage.
    inflight = setmetatable({}, { __mode = "k" }),
    closed = false, urls = {},
    pool_options = {},
  }, Transport)
  return t
end

-- The connect options of a pool key: nginx keeps one pool per name.
function Transport:pool_for(pool)
  local options = { pool = pool }
  self.pool_options[pool] = options
  return options
end


-- Runs a request's exchange on a light thread of its own, a child of the
-- running coroutine (which alone may reap it).
local function launch(req)
  req.parent = coroutine_running()
  local thread, err = thread_spawn(exchange, req)
  if not thread then
    return finish(req, nil, nil, nil, "connection", "could not start a light thread: " .. tostring(err), 0)
  end
  if req.finished then
    -- It ended before its first yield (a failure nginx gave at once).
    local list = ended[req.parent] or {}
    ended[req.parent] = list
    list[#list + 1] = thread
  else
    req.thread = thread
  end
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

--- t:start(method, url, header_lines, body, timeout) -> request, its
-- exchange running at once on a light thread (a thread of its own is what
-- lets another light thread cancel it).
function Transport:start(method, url, lines, body, timeout)
  if self.closed then return nil, { kind = "cancelled", message = common.CLOSED } end
  reap()
  local u, path = parse(self, url)
  if not u then return nil, { kind = "connection", message = path } end
  -- The pool: the URL's (scheme, host, port, TLS settings), the trust,
  -- and a fingerprint of the credentials, so that a connection only ever
  -- carries the calls of one tenant.
  local trust = u.tls and u.pool .. " trust=" .. trust_name() or u.pool
  local req = setmetatable({
    transport = self, url = u, started = now(), received = 0,
    trust = trust, pool = trust .. " cred=" .. wire.credentials(lines),
    deadline = timeout and timeout > 0 and now() + timeout or nil,
    bytes = wire.request(method, u, path, lines, body),
    finished = false,
  }, Request)
  self.inflight[req] = true
  launch(req)
  return req
end

--- request:done() -> true once the attempt has ended.
function Request:done()
  return self.finished
end

--- request:result() -> status, headers, body  or  nil, failure (see transport.lua)
function Request:result()
  if not self.finished then error("anthropic.environments: request is not done", 2) end
  reap()
  if self.status then return self.status, self.headers, self.body end
  local seen = self.status_seen
  return nil, { kind = self.kind, message = self.message, status = seen ~= 0 and seen or nil, reason = self.reason }
end

--- request:cancel(): stops it; its connection is closed, not reused. From
-- any light thread: whoever waits on it wakes at once; the thread doing the
-- exchange is killed now when the coroutine that started it cancels, else
-- when that coroutine next waits or starts a call (nginx lets only it).
function Request:cancel()
  if self.finished then return end
  local sock = self.sock
  finish(self, nil, nil, nil, "cancelled", common.CLOSED, 0)
  reap()
  -- Closed here unless another thread is reading it (nginx refuses that).
  if sock then pcall(sock.close, sock) end
end

-- Waits until one of the array `requests` (or the one request `one`, with
-- no array to make) has ended or `wait` seconds (nil: no limit) have
-- passed. Each waiting coroutine registers its own semaphore with every
-- request it waits on, and a request's end posts all of them: any number of
-- light threads, of any nginx request, may wait on the same requests, and
-- nothing polls.
local function wait_for(requests, wait, one)
  reap()
  local co = coroutine_running()
  local sema = semaphores[co]
  if not sema then
    sema = semaphore.new(0)
    semaphores[co] = sema
  else
    while sema:count() > 0 do sema:wait(0) end   -- posts left from earlier waits
  end
  local total = one and 1 or #requests
  local n = total
  for i = 1, n do
    local req = one or requests[i]
    if req.finished then n = i - 1 break end
    local waiters = req.waiters
    if not waiters then
      waiters = {}
      req.waiters = waiters
    end
    waiters[sema] = true
  end
  -- The semaphore counts whole milliseconds; 0 would not wait at all.
  if n == total and (wait == nil or wait >= 0.001) then sema:wait(min(wait or FOREVER, FOREVER)) end
  for i = 1, n do
    local waiters = (one or requests[i]).waiters
    if waiters then waiters[sema] = nil end
  end
  reap()
end

--- t:wait_any(requests, wait): blocks (yielding to nginx) until one of the
-- array `requests` is done or wait seconds (nil: no limit) have passed.
function Transport.wait_any(_, requests, wait)
  wait_for(requests, wait)
end

--- t:count() -> the requests in flight.
function Transport:count()
  local n = 0
  for _ in pairs(self.inflight) do n = n + 1 end
  return n
end

--- t:run(req, wait) -> true once req is done: waits (yielding to nginx)
-- until it is, or until wait seconds have passed.
function Transport.run(_, req, wait)
  if not req.finished and (wait == nil or wait > 0) then wait_for(nil, wait, req) end
  return req.finished
end

--- t:drive(wait) -> requests in flight. The threads move by themselves;
-- with a wait, it returns as soon as any of them ends.
function Transport:drive(wait)
  if wait and wait > 0 then
    local list = {}
    for req in pairs(self.inflight) do list[#list + 1] = req end
    if #list > 0 then wait_for(list, wait) end
  else
    reap()
  end
  return self:count()
end

--- t:fds() -> no sockets, no timer: nginx's event loop watches them.
function Transport.fds() return {}, nil end

--- t:close(): ends every request in flight as cancelled.
function Transport:close()
  self.closed = true
  local list = {}
  for req in pairs(self.inflight) do list[#list + 1] = req end
  for _, req in pairs(list) do req:cancel() end
end

return M
