-- anthropic.environments.transport: the seam between the calls and the
-- network. The calls (call.lua, many.lua) decide everything: headers,
-- retries, timeouts, errors. A transport only moves bytes:
--
--   t = impl.new(config)        config: connect_timeout, stall_timeout,
--                               max_body, proxy, ca_file, ca_path,
--                               insecure_skip_tls_verify (all optional)
--   req = t:start(method, url, header_lines, body_or_nil, timeout_seconds)
--   req:done()                  -> true once the attempt has ended
--   req:result()                -> status, headers, body
--                                  or nil, kind, message, status_seen (0: none)
--   req:cancel()                stops it; its connection is not reused
--   t:drive(wait)               does ready work, waiting up to wait seconds;
--                               -> the number of requests in flight
--   t:run(req, wait)            drives until req is done or wait passes
--   t:fds()                     -> sockets to watch, seconds to the next timer
--   t:random()                  -> a number in [0, 1), for retry jitter
--   t:close()                   ends every request in flight as cancelled
--
-- headers is a table of lower-case names to values; kind is one of
-- "connection", "timeout", "too_large", "cancelled".
local check = require "anthropic.environments.check"

local M = {}

-- name -> module implementing the interface above
local IMPLEMENTATIONS = {
  curl = "anthropic.environments.transport.curl",
}

--- transport.new(name, config) -> the transport and the name of its kind.
function M.new(name, config)
  local module = IMPLEMENTATIONS[name]
  if not module then check.argerror("new", "unknown transport '" .. tostring(name) .. "'") end
  local impl = require(module)
  return impl.new(config), impl.name
end

return M
