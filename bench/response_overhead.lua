-- What with_response costs, and that a call without it pays nothing: Lua
-- bytes allocated per archive (the collector stopped, so every byte
-- counts), with and without the option, and the calls per second of each.
--   response_overhead.lua BASE_URL [CALLS]
-- Prints "mode=default|with_response calls=N bytes_per_call=B calls_per_s=R".
-- Run the same script against the same server from another checkout to
-- compare the default path before and after a change.
local common = require "common"
local environments = require "anthropic.environments"

local base_url, calls = assert(arg[1], "usage: response_overhead.lua BASE_URL [CALLS]"), tonumber(arg[2]) or 2000
local client = environments.new { base_url = base_url, api_key = common.API_KEY, max_retries = 0 }
local id = common.ID
local with = { with_response = true }

local function run(mode, opts)
  for _ = 1, 50 do assert(client:archive(id, opts)) end   -- warm the connection and the JIT
  collectgarbage("collect")
  collectgarbage("stop")
  local before, started = collectgarbage("count"), common.now()
  for _ = 1, calls do
    local env, err, response = client:archive(id, opts)
    if not env then error(tostring(err)) end
    if opts and response.status ~= 200 then error("no response metadata") end
  end
  local elapsed, bytes = common.now() - started, (collectgarbage("count") - before) * 1024
  collectgarbage("restart")
  print(string.format("mode=%s calls=%d bytes_per_call=%.0f calls_per_s=%.0f",
    mode, calls, bytes / calls, calls / elapsed))
end

-- A library without the option (an older checkout) measures the default only.
local has_option = pcall(client.archive, client, id, with)
for _ = 1, 3 do
  run("default", nil)
  if has_option then run("with_response", with) end
end
client:close()
