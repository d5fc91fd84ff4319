-- anthropic.environments.transport.common: what both transports share, from
-- one place: the defaults of the limits a client gives them, and the texts
-- of the failures both report. The libcurl transport is C (src/core.c,
-- src/transport.c): it takes these limits through its config, and its own
-- texts are these (libcurl's words for timeouts, src/transport.c's for the
-- rest); the cosocket transport (transport/ngx.lua) builds its messages
-- here, so an error reads the same whichever transport ran.
-- spec/transport_common_spec.lua checks both transports against it.
local format, floor = string.format, math.floor

local M = {
  DEFAULT_MAX_BODY = 16 * 1024 * 1024,   -- bytes of an answer's body (option max_body)
  DEFAULT_CONNECT_TIMEOUT = 5,           -- seconds (option connect_timeout)
  DEFAULT_TIMEOUT = 600,                 -- seconds of one attempt (option timeout)
  -- A request ended by the client's close (kind "cancelled").
  CLOSED = "the client was closed",
}

local function ms(seconds) return floor(seconds * 1000 + 0.5) end

--- common.timed_out(elapsed_ms, received) -> the attempt's `timeout` ran out.
function M.timed_out(elapsed_ms, received)
  return format("Operation timed out after %d milliseconds with %d bytes received", elapsed_ms, received)
end

--- common.connect_timed_out(elapsed_ms) -> `connect_timeout` ran out
-- (connecting, or the TLS handshake).
function M.connect_timed_out(elapsed_ms)
  return format("Connection timed out after %d milliseconds", elapsed_ms)
end

--- common.stalled(stall_timeout) -> no byte moved for `stall_timeout`
-- seconds.
function M.stalled(stall_timeout)
  -- clamped as both transports clamp their timeouts (2^31 - 1 ms)
  return format("no data sent or received for %d ms (stall_timeout)", math.min(ms(stall_timeout), 2147483647))
end

--- common.body_too_large(max_body) -> the answer's body is over max_body.
function M.body_too_large(max_body)
  return format("response body larger than the limit of %d bytes", max_body)
end

return M
