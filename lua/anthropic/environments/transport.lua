-- anthropic.environments.transport: the seam between the calls and the
-- network. The calls (call.lua, scheduler.lua) decide everything: headers,
-- retries and their jitter (retry.lua), timeouts, errors; how anything
-- waits is wait.lua's. A transport only moves bytes:
--
--   t = impl.new(config)        config: connect_timeout, stall_timeout,
--                               max_body, max_connections, proxy, ca_file,
--                               ca_path, insecure_skip_tls_verify (all
--                               optional). A client makes each of its
--                               transports when a call first needs it
--                               (transport.pick), never before.
--   req = t:start(method, url, header_lines, body_or_nil, timeout_seconds)
--   req:done()                  -> true once the attempt has ended
--   req:result(decode, lazy)    -> status, headers, body [, value, decode_err]
--                                  or nil, failure (see below)
--                                  (with decode true, a transport may decode
--                                  the body itself: value, or nil and the
--                                  decoder's message; else it leaves both nil;
--                                  with lazy, a 2xx's headers may come as
--                                  their raw block, a string: see
--                                  answer.headers)
--   req:cancel()                stops it; its connection is not reused.
--                               Inside nginx, from any light thread: every
--                               waiter on it wakes at once.
--   t:drive(wait)               does ready work, waiting up to wait seconds;
--                               -> the number of requests in flight
--   t:run(req, wait)            drives until req is done or wait passes
--                               (nil: no limit, for a transport with wait_any)
--                               -> true once req is done
--   t:fds()                     -> sockets to watch, seconds to the next timer
--   t:close()                   ends every request in flight as cancelled
--   t:wait_any(requests, wait)  (optional) yields until one of the array of
--                               requests is done or wait seconds (nil: no
--                               limit) pass. A transport that has it wakes
--                               its waiters itself, every one of them (any
--                               number of coroutines may wait on the same
--                               request): wait.lua waits through it
--                               instead of polling.
--
-- headers is a table of lower-case names to values. A failure is a table
-- { kind =, message =, status =, reason = }: kind is one of "connection",
-- "timeout", "decode" (the body or the header block is too large),
-- "cancelled", "invalid_request" (the transport refused the request before
-- sending it: never retried); status the HTTP status seen before it failed
-- (nil: none); reason nil, or "tls_certificate" (kind "connection": the
-- server's certificate is untrusted, for another name, expired or not the
-- pinned key; no retry can fix it). start itself returns nil, failure when
-- it cannot start a request (out of memory, a URL the transport cannot
-- take), never raising for a run-time failure. Success allocates no
-- failure table.
--
-- Two implementations: "curl" (libcurl, the C core) everywhere, and "ngx"
-- (nginx's cosockets) inside nginx where cosockets are allowed. A client
-- picks one per call (transport.pick), so a client made in init_by_lua
-- runs its calls over cosockets in a content handler, and never makes a
-- libcurl handle unless a call needs one.
local check = require "anthropic.environments.check"
local runtime = require "anthropic.environments.runtime"
check.internal()

local rawget, type, tostring, ipairs, format, getenv = rawget, type, tostring, ipairs, string.format, os.getenv

local M = {}

-- name -> module implementing the interface above
local IMPLEMENTATIONS = {
  curl = "anthropic.environments.transport.curl",
  ngx = "anthropic.environments.transport.ngx",
}

--- transport.new(name, config) -> the transport and the name of its kind.
function M.new(name, config)
  local module = IMPLEMENTATIONS[name]
  if not module then check.argerror("new", "unknown transport '" .. tostring(name) .. "'") end
  local impl = require(module)
  return impl.new(config), impl.name
end

-- What keeps a client on libcurl inside nginx: the options only libcurl
-- honours (a proxy, CA files: cosockets trust lua_ssl_trusted_certificate),
-- and the proxy variables libcurl reads from the environment.
local function curl_only(config)
  if config.proxy then return "proxy" end
  if config.ca_file then return "ca_file" end
  if config.ca_path then return "ca_path" end
  for _, name in ipairs { "https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY" } do
    local v = getenv(name)
    if v and v ~= "" then return "the environment variable " .. name end
  end
  return nil
end

local function nginx_lua()
  local ngx = rawget(_G, "ngx")
  return type(ngx) == "table" and type(ngx.socket) == "table" and type(ngx.thread) == "table"
end

--- transport.mode(option, config) -> "curl", "ngx" or "auto": what a
-- client with these options may use (option: the client's `transport`
-- option). Raises when "ngx" is forced where it cannot work at all.
function M.mode(option, config)
  if option == "curl" then return "curl" end
  local why = curl_only(config)
  if option == "ngx" then
    if not nginx_lua() then
      check.argerror("new", "transport 'ngx' needs nginx's Lua module (ngx.socket.tcp, ngx.thread): "
        .. "it runs inside OpenResty or nginx with lua-nginx-module only")
    end
    if why and not why:find("^the environment") then
      check.argerror("new", format("transport 'ngx' cannot honour option '%s' (libcurl only): "
        .. "leave the option out, or use transport = \"curl\"", why))
    end
    return "ngx"
  end
  if why or not nginx_lua() then return "curl" end
  return "auto"
end

--- transport.pick(state, where) -> the transport for a call starting now,
-- and its name. state: a client's private state (mode, from
-- transport.mode; config; curl and ngx, its transports, each made here when
-- a call first needs it, and transports, the array of those made). Cosockets where the phase allows them, else
-- libcurl; a forced "ngx" raises there.
function M.pick(state, where)
  if state.mode ~= "curl" then
    local allowed, phase, why = runtime.cosockets()
    if allowed then
      local t = state.ngx
      if not t then
        t = M.new("ngx", state.config)
        state.ngx = t
        state.transports[#state.transports + 1] = t
      end
      return t, "ngx"
    end
    if state.mode == "ngx" and why then
      check.argerror(where, format("transport 'ngx' cannot run %s: call from where the handler can yield, "
        .. "or use transport = \"curl\"", why))
    elseif state.mode == "ngx" then
      check.argerror(where, format("transport 'ngx' cannot run in nginx's '%s' phase, where cosockets "
        .. "are not allowed: call from a rewrite, access or content handler or from ngx.timer.at(0, ...), "
        .. "or use transport = \"curl\"", tostring(phase)))
    end
  end
  local t = state.curl
  if not t then
    t = M.new("curl", state.config)
    state.curl = t
    state.transports[#state.transports + 1] = t
  end
  return t, "curl"
end

return M
