-- Section 1: sequential archives with this library on one kept-alive
-- connection. Run under luajit or lua5.4:
--   seq.lua BASE_URL [SECONDS] [MAX_CALLS] [WARMUP_SECONDS]
local common = require "common"
local environments = require "anthropic.environments"

local base_url, seconds, max_calls, warmup = common.args()
-- BENCH_CA_FILE: trust this certificate (section 5, HTTPS to nginx).
local client = environments.new {
  base_url = base_url, api_key = common.API_KEY, max_retries = 0, ca_file = os.getenv("BENCH_CA_FILE"),
}
local id = common.ID

common.run(function()
  local env, err = client:archive(id)
  if not env then error(tostring(err)) end
  return env
end, seconds, max_calls, warmup)
client:close()
