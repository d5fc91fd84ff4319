-- anthropic.environments.retry: the retry policy of the official SDKs,
-- apart from the calls it serves. Which failures are retried, and how long
-- to wait before the next attempt.
local time = require "anthropic.environments.time"
local clock = require "anthropic.environments.basics"   -- now(): the core's clock

local type, tonumber, min, floor, now = type, tonumber, math.min, math.floor, clock.now

local M = {}

-- The retry jitter of every call, on every transport, from one generator
-- (Park-Miller), seeded once from the clock. Each draw also mixes in the
-- clock's microseconds, so processes forked from one parent (nginx's
-- workers, a forking server) do not retry in step. The host's math.random
-- is neither used nor touched.
local seed = floor(now() * 1e6) % 2147483646 + 1

--- retry.jitter() -> a number in [0, 1).
function M.jitter()
  seed = (seed * 16807 + floor(now() * 1e6) % 65536) % 2147483647
  if seed == 0 then seed = 1 end
  return (seed - 1) / 2147483646
end

--- retry.should(err) -> true if the failure is worth another attempt:
-- never a certificate failure (kind "connection", reason "tls_certificate":
-- it cannot heal); then x-should-retry decides; then connection errors,
-- timeouts, 408, 409, 429 and every status >= 500. err:is_retryable() is
-- this function.
function M.should(err)
  if err.kind == "connection" and err.reason == "tls_certificate" then return false end
  local headers = err.headers
  local verdict = headers and headers["x-should-retry"]
  if verdict == "true" then return true end
  if verdict == "false" then return false end
  if err.kind == "connection" or err.kind == "timeout" then return true end
  local status = err.status
  return err.kind == "api" and type(status) == "number" and (status == 408 or status == 409 or status == 429 or status >= 500)
end

--- retry.delay(n, headers, jitter) -> seconds to wait before retry n
-- (0-based): retry-after-ms or retry-after when positive and at most 60 s,
-- else min(0.5 * 2^n, 8) times a factor in (0.75, 1]; jitter is in [0, 1).
function M.delay(n, headers, jitter)
  if headers then
    local wait = tonumber(headers["retry-after-ms"])
    if wait then wait = wait / 1000 end
    local after = headers["retry-after"]
    if not wait and after then
      wait = tonumber(after)
      if not wait then
        local at = time.http_date(after)
        if at then wait = at - os.time() end
      end
    end
    if wait and wait > 0 and wait <= 60 then return wait end
  end
  return min(0.5 * 2 ^ n, 8) * (1 - 0.25 * jitter)
end

return M
