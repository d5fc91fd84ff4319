-- anthropic.environments.transport.curl: the transport over libcurl's multi
-- interface, implemented in the C core (src/transport.c, src/client_lua.c). See
-- transport.lua for the interface every transport implements.
local core = require "anthropic.environments.core"

local M = { name = "curl" }

--- curl.new(config) -> a transport (a core client userdata). libcurl that
-- cannot even start (out of memory at new) is not a failure of a call, so
-- it raises, saying so.
function M.new(config)
  local t, failure = core.new(config)
  if not t then error("anthropic.environments.new: " .. tostring(failure.message), 0) end
  return t
end

return M
