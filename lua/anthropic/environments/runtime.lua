-- anthropic.environments.runtime: what the host lets a waiting call do.
-- Inside OpenResty phases that can yield, ngx.sleep hands the worker back
-- to nginx; elsewhere a wait blocks the calling thread (a C nanosleep) unless
-- the caller supplies its own sleep function.
local clock = require "anthropic.environments.basics"   -- sleep(): the core's

local type, pcall, rawget = type, pcall, rawget

local M = {}

-- OpenResty phases in which ngx.sleep yields instead of blocking the worker.
local YIELDING_PHASES = { rewrite = true, access = true, content = true, timer = true,
                          ssl_cert = true, ssl_session_fetch = true }

--- runtime.ngx_sleep() -> ngx.sleep when running where it yields to
-- nginx's event loop, else nil.
function M.ngx_sleep()
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and ngx.sleep and ngx.get_phase then
    local ok, phase = pcall(ngx.get_phase)
    if ok and YIELDING_PHASES[phase] then return ngx.sleep end
  end
  return nil
end

--- runtime.cosockets() -> true where nginx's cosockets and light threads
-- can run (the phases above), else false; and the phase's name inside nginx.
function M.cosockets()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.socket) ~= "table" or type(ngx.thread) ~= "table"
     or not ngx.get_phase then
    return false
  end
  local ok, phase = pcall(ngx.get_phase)
  if not ok then return false end
  return YIELDING_PHASES[phase] == true, phase
end

--- runtime.sleep(seconds): ngx.sleep where it yields, else blocks.
function M.sleep(secs)
  local yield = M.ngx_sleep()
  if yield then return yield(secs) end
  return clock.sleep(secs)
end

return M
