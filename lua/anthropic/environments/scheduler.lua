-- anthropic.environments.scheduler: runs a list of calls with up to
-- `concurrency` in flight on one client's transport, each with its own
-- retries, and gathers their results. archive_many is its short form.
local clock = require "anthropic.environments.basics"   -- now(): the core's clock
local runtime = require "anthropic.environments.runtime"
local wait = require "anthropic.environments.wait"

local ipairs, pcall, error, min, max, remove = ipairs, pcall, error, math.min, math.max, table.remove
local unpack = table.unpack or unpack   -- luacheck: ignore unpack

local M = {}

-- fn() with its errors caught, and cleanup() run before they are raised
-- again. PUC Lua 5.1 cannot yield across pcall, so there a coroutine stands
-- in for it and passes every yield (a caller's sleep that yields to its
-- own scheduler) through.
local PUC_51 = _VERSION == "Lua 5.1" and type(jit) ~= "table"

local function protected(fn, cleanup)
  if not PUC_51 then
    local ok, raised = pcall(fn)
    if not ok then
      cleanup()
      error(raised, 0)
    end
    return
  end
  local co = coroutine.create(fn)
  local args = {}
  while true do
    local res = { coroutine.resume(co, unpack(args)) }
    if not res[1] then
      cleanup()
      error(res[2], 0)
    end
    if coroutine.status(co) == "dead" then return end
    args = { coroutine.yield(unpack(res, 2)) }
  end
end

--- scheduler.run(jobs, opts) -> results, errors [, responses]
-- jobs: an array of { key = k, start = function() -> call }. results[k] is
-- the value of the job's call, errors[k] its error. opts: concurrency (16),
-- on_result(key, value, err [, response]), sleep (for waits when only
-- retries are pending), with_response (the calls were started with it:
-- responses[k] is call:response(), and on_result gets it). It waits as
-- wait.lua says, on the transports of the calls themselves.
function M.run(jobs, opts)
  local concurrency = opts.concurrency or 16
  local on_result, sleep = opts.on_result, opts.sleep or runtime.sleep
  local results, errors = {}, {}
  local responses = opts.with_response and {} or nil
  local active, next_index = {}, 1
  local waiter = wait.new()

  protected(function()
    while next_index <= #jobs or #active > 0 do
      while #active < concurrency and next_index <= #jobs do
        local job = jobs[next_index]
        next_index = next_index + 1
        active[#active + 1] = { key = job.key, call = job.start() }
      end
      local finished, next_timer = false, nil
      local requests, transports = {}, {}
      for i = #active, 1, -1 do
        local entry = active[i]
        local call = entry.call
        if call:_step() then
          remove(active, i)
          finished = true
          results[entry.key], errors[entry.key] = call.value, call.err
          if responses then
            local response = call:response()
            responses[entry.key] = response
            if on_result then on_result(entry.key, call.value, call.err, response) end
          elseif on_result then
            on_result(entry.key, call.value, call.err)
          end
        else
          local request, t = call:_request()
          if request then
            requests[#requests + 1], transports[#transports + 1] = request, t
          elseif call.retry_at then
            next_timer = next_timer and min(next_timer, call.retry_at) or call.retry_at
          end
        end
      end
      if not finished and #active > 0 then
        local secs = next_timer and max(next_timer - clock.now(), 0)
        if #requests > 0 then
          -- Until the first request ends, or a retry is due.
          waiter:any(requests, transports, secs)
        else
          -- Only retries are waiting: the sleep function is trusted, as in
          -- Call:wait, so the earliest of them is due once it returns.
          waiter:sleep(secs, sleep)
          for _, entry in ipairs(active) do
            local at = entry.call.retry_at
            if at and at <= next_timer then entry.call.retry_at = clock.now() end
          end
        end
      end
    end
  end, function()
    for _, entry in ipairs(active) do entry.call:cancel() end
  end)
  return results, errors, responses
end

return M
