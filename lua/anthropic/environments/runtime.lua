-- anthropic.environments.runtime: what the host lets a waiting call do.
-- Inside OpenResty phases that can yield, ngx.sleep hands the worker back
-- to nginx; elsewhere a wait blocks the calling thread (a C nanosleep) unless
-- the caller supplies its own sleep function.
local clock = require "anthropic.environments.basics"   -- sleep(): the core's

local type, pcall, rawget = type, pcall, rawget
-- LuaJIT 2.1 and Lua 5.3+: false inside a function called from C that
-- cannot yield (a string.gsub callback, a table.sort comparator, a
-- metamethod on 5.1's terms), where nginx's cosockets and ngx.sleep raise
-- "attempt to yield across C-call boundary". nginx's coroutine table hides
-- LuaJIT's own: the core asks the runtime (nil where it cannot tell).
local isyieldable = coroutine.isyieldable or clock.yieldable

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
    if ok and YIELDING_PHASES[phase] and M.yieldable() then return ngx.sleep end
  end
  return nil
end

--- runtime.yieldable() -> false where the running code cannot yield
-- (see isyieldable above); true where it can or the runtime cannot tell.
function M.yieldable()
  return not isyieldable or isyieldable() ~= false
end

M.NOT_YIELDABLE = "inside a function called from C that cannot yield (a string.gsub callback, "
  .. "a table.sort comparator, ...)"

--- runtime.cosockets() -> true where nginx's cosockets and light threads
-- can run (the phases above, where the code can yield), else false; and
-- the phase's name inside nginx, and, when the code cannot yield there,
-- runtime.NOT_YIELDABLE.
function M.cosockets()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.socket) ~= "table" or type(ngx.thread) ~= "table"
     or not ngx.get_phase then
    return false
  end
  local ok, phase = pcall(ngx.get_phase)
  if not ok then return false end
  if YIELDING_PHASES[phase] and not M.yieldable() then return false, phase, M.NOT_YIELDABLE end
  return YIELDING_PHASES[phase] == true, phase
end

--- runtime.sleep(seconds): ngx.sleep where it yields, else blocks.
function M.sleep(secs)
  local yield = M.ngx_sleep()
  if yield then return yield(secs) end
  return clock.sleep(secs)
end

return M
