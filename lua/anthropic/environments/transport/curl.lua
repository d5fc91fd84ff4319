-- anthropic.environments.transport.curl: the transport over libcurl's multi
-- interface, implemented in the C core (src/transport.c, src/core.c). See
-- transport.lua for the interface every transport implements.
local core = require "anthropic.environments.core"

local M = { name = "curl" }

--- curl.new(config) -> a transport (a core client userdata).
function M.new(config)
  return core.new(config)
end

return M
