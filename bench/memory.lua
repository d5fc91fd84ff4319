-- Section 4: resident and Lua memory of one process making checked archives
-- on one client, read after 1,000, 10,000 and 100,000 calls (a full garbage
-- collection first, so Lua memory is what is really kept).
--   memory.lua BASE_URL
-- Prints "calls=N rss_kb=R lua_kb=L" at each checkpoint.
local common = require "common"
local environments = require "anthropic.environments"

local client = environments.new { base_url = arg[1], api_key = common.API_KEY, max_retries = 0 }
local id, check = common.ID, common.check

local function rss_kb()
  local f = assert(io.open("/proc/self/status"))
  local status = f:read("*a")
  f:close()
  return tonumber(status:match("VmRSS:%s*(%d+) kB"))
end

local checkpoints = { [1000] = true, [10000] = true, [100000] = true }
for i = 1, 100000 do
  local env, err = client:archive(id)
  if not env then error(tostring(err)) end
  check(env)
  if checkpoints[i] then
    collectgarbage("collect")
    collectgarbage("collect")
    print(string.format("calls=%d rss_kb=%d lua_kb=%.1f", i, rss_kb(), collectgarbage("count")))
  end
end
client:close()
