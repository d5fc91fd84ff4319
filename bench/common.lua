-- Shared by the Lua benchmark drivers: arguments, the clock, the check every
-- result must pass, and the timed loop, so each driver differs only in how
-- it makes one call.
local socket = require "socket"

local M = {}

M.ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
M.PATH = "/v1/environments/" .. M.ID .. "/archive"
M.API_KEY = "sk-ant-bench"
-- The headers every client under test sends (ours sends these plus its
-- user-agent).
M.HEADERS = {
  ["x-api-key"] = M.API_KEY,
  ["anthropic-version"] = "2023-06-01",
  ["anthropic-beta"] = "managed-agents-2026-04-01",
  ["accept"] = "application/json",
}

M.now = socket.gettime

-- The decoded answer must be the example environment: a top-level field and
-- a nested one, so nothing wins by skipping the decoding.
function M.check(env, id)
  if type(env) ~= "table" or env.name ~= "python-data-analysis"
     or type(env.config) ~= "table" or env.config.packages.pip[2] ~= "numpy"
     or (id and env.id ~= id) then
    error("wrong answer: " .. tostring(env and env.name), 2)
  end
end

-- base_url seconds max_calls warmup_seconds, from the command line.
function M.args()
  local base_url = assert(arg[1], "usage: driver BASE_URL [SECONDS] [MAX_CALLS] [WARMUP_SECONDS]")
  return base_url, tonumber(arg[2]) or 2, tonumber(arg[3]) or 200000, tonumber(arg[4]) or 0.5
end

-- Calls call() (which returns the decoded environment) for a warm-up, then
-- for at most `seconds` and `max_calls`; prints "calls=N seconds=S cpu=C",
-- C being the process's CPU seconds (user + system) in the timed loop.
function M.run(call, seconds, max_calls, warmup_seconds)
  local now, check = M.now, M.check
  local started, n = now(), 0
  while n < max_calls and now() - started < warmup_seconds do
    check(call())
    n = n + 1
  end
  started, n = now(), 0
  local elapsed, cpu = 0, os.clock()
  while n < max_calls and elapsed < seconds do
    check(call())
    n = n + 1
    elapsed = now() - started
  end
  cpu = os.clock() - cpu
  io.write(string.format("calls=%d seconds=%.6f cpu=%.6f\n", n, elapsed, cpu))
end

return M
