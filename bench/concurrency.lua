-- Section 3: COUNT archives of distinct ids with client:archive_many at
-- CONCURRENCY. Prints "calls=N seconds=S".
--   concurrency.lua BASE_URL CONCURRENCY [COUNT]
local common = require "common"
local environments = require "anthropic.environments"

local base_url, concurrency, count = arg[1], tonumber(arg[2]), tonumber(arg[3]) or 1000
local client = environments.new { base_url = base_url, api_key = common.API_KEY, max_retries = 0 }
local ids = {}
for i = 1, count do ids[i] = string.format("env_bench_%05d", i - 1) end

local check, seen = common.check, 0
local started = common.now()
local results = client:archive_many(ids, {
  concurrency = concurrency,
  on_result = function(id, env, err)
    if not env then error(id .. ": " .. tostring(err)) end
    check(env, id)
    seen = seen + 1
  end,
})
local elapsed = common.now() - started

-- Every id has its result, keyed by id.
assert(seen == count, string.format("on_result saw %d of %d results", seen, count))
for _, id in ipairs(ids) do
  assert(results[id] ~= nil, "no result for " .. id)
end
print(string.format("calls=%d seconds=%.6f", seen, elapsed))
client:close()
