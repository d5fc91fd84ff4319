-- Archive several environments from a libuv event loop (luv), without ever
-- blocking it: the loop waits on the sockets and the timer libcurl asks for,
-- and the library only does the work that is ready.
--   lua examples/luv_loop.lua ID [ID...]
-- Configured from ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN / ANTHROPIC_BASE_URL.
dofile((arg[0]:match("^(.*/)") or "./") .. "checkout.lua")   -- from a checkout: examples/checkout.lua
local uv = require "luv"
local environments = require "anthropic.environments"

local client = environments.new()
local pending = {}
for _, id in ipairs(arg) do pending[id] = client:archive_async(id) end

local watchers = {}          -- poll handles of this round
local timer = uv.new_timer()
local failures = 0

local function stop_watchers()
  for _, w in ipairs(watchers) do
    w:stop()
    w:close()
  end
  watchers = {}
end

local function on_activity()
  client:drive()                      -- the ready work, for every call
  local wake = nil                    -- seconds until a call needs us (a retry)
  for id, call in pairs(pending) do
    local done, env, err = call:poll()
    if done then
      pending[id] = nil
      if env then
        print(string.format("%s archived at %s", id, tostring(env.archived_at)))
      else
        failures = failures + 1
        print(string.format("%s failed: %s", id, tostring(err)))
      end
    else
      local t = call:next_timer()
      if t then wake = wake and math.min(wake, t) or t end
    end
  end

  -- Watch what libcurl waits on now. Sockets come and go between rounds,
  -- so each round has its own watchers.
  stop_watchers()
  timer:stop()
  if next(pending) == nil then
    timer:close()
    return
  end
  local sockets, timeout = client:fds()
  for _, s in ipairs(sockets) do
    local w = uv.new_poll(s.fd)
    w:start((s.read and "r" or "") .. (s.write and "w" or ""), on_activity)
    watchers[#watchers + 1] = w
  end
  if timeout then wake = wake and math.min(wake, timeout) or timeout end
  timer:start(math.max(1, math.ceil((wake or 1) * 1000)), 0, on_activity)
end

on_activity()
uv.run()
os.exit(failures == 0 and 0 or 1)
