-- anthropic.environments.batch: client:many, which runs any list of calls
-- on the scheduler (scheduler.lua) with up to `concurrency` in flight, and
-- client:archive_many, its short form. Every entry is checked, and its
-- request prepared, before the first one starts: a mistake anywhere in the
-- list raises before anything is sent.
local check = require "anthropic.environments.check"
local options = require "anthropic.environments.options"
local client = require "anthropic.environments.client"
local many = require "anthropic.environments.scheduler"
local call = require "anthropic.environments.call"
check.internal()

local type, next, tostring, rawget, format = type, next, tostring, rawget, string.format
local unpack = table.unpack or unpack   -- luacheck: ignore unpack
local argerror, check_id, is_whole, raw_copy = check.argerror, check.id, check.is_whole, check.raw_copy
local defined = client.calls
local CALL = options.CALL

local M = {}

-- The per-call options of a scheduler's opts, as defaults for every entry.
local function call_defaults(opts)
  local defaults, any = {}, false
  for name in next, CALL do
    if opts[name] ~= nil then defaults[name], any = opts[name], true end
  end
  return any and defaults or nil
end

-- An entry's own options over the scheduler's.
local function with_defaults(opts, defaults)
  if not defaults then return opts end
  local merged = raw_copy(defaults)
  for k, v in next, opts do merged[k] = v end
  return merged
end

-- Runs the prepared jobs on the client's transport.
local function run(self, jobs, opts)
  local state = client.private(self)
  for _, job in next, jobs do
    local method, url, p = job.method, job.url, job.prepared
    job.start = function() return call.new(method, url, p) end
  end
  return many.run(jobs, {
    concurrency = opts.concurrency, on_result = opts.on_result,
    sleep = opts.sleep or state.sleep, with_response = opts.with_response,
  })
end

-- calls[i], read raw: { name, args... [, key = k] } -> name, key, n (its
-- last positional index).
local function read_entry(i, entry)
  if type(entry) ~= "table" then
    argerror("many", format("calls[%d] must be a table { name, args... } (got %s)", i, type(entry)))
  end
  local n = 0
  for k in next, entry do
    if is_whole(k, 1, math.huge) then
      if k > n then n = k end
    elseif k ~= "key" then
      argerror("many", format("calls[%d] has an unknown field '%s' (only 'key' and the call's arguments)",
        i, tostring(k)))
    end
  end
  local name = rawget(entry, 1)
  if type(name) ~= "string" or not defined[name] then
    argerror("many", format("calls[%d][1] must name a call, such as \"retrieve\" (got %s)", i,
      type(name) == "string" and format("'%s'", name) or type(name)))
  end
  local key = rawget(entry, "key")
  if key == nil then key = i end
  return name, key, n
end

--- client:many(calls [, opts]) -> results, errors [, responses]
-- calls: an array of { name, args... [, key = k] }, where name is a call of
-- the client ("retrieve", "update", "archive", "work_poll", ...) and args
-- are its arguments, options last. Runs them with up to opts.concurrency
-- (16) in flight; results[k] and errors[k] (k: the entry's key, or its
-- index) are each one's answer or error. opts: concurrency, on_result(k,
-- value, err [, response]), and the per-call options, which apply to every
-- entry (an entry's own options beat them). with_response gives a third
-- table, responses[k].
function M.many(self, calls, opts)
  if type(calls) ~= "table" then argerror("many", "calls must be an array of calls") end
  opts = options.check("many", opts, options.MANY)
  local defaults = call_defaults(opts)
  local jobs, seen = {}, {}
  for i = 1, #calls do
    local entry = rawget(calls, i)
    local name, key, n = read_entry(i, entry)
    if seen[key] then
      argerror("many", format("calls[%d] has the key %s of calls[%d]: keys must differ", i,
        type(key) == "string" and format("'%s'", key) or tostring(key), seen[key]))
    end
    seen[key] = i
    local def = defined[name]
    local where = format("many: calls[%d] (%s)", i, name)
    local method, path, body, call_opts = def.build(self, where, unpack(entry, 2, n))
    call_opts = with_defaults(call_opts, defaults)
    local url, p = self:_prepare(where, method, path, body, call_opts, def.interpret)
    jobs[i] = { key = key, method = method, url = url, prepared = p }
  end
  return run(self, jobs, opts)
end

--- client:archive_many(ids [, opts]) -> results, errors [, responses]
-- Archives every id (duplicates once) as client:many does: results[id] is
-- the environment, errors[id] the error; opts.on_result(id, env, err) is
-- called as each one ends.
function M.archive_many(self, ids, opts)
  if type(ids) ~= "table" then argerror("archive_many", "ids must be an array of ids") end
  opts = options.check("archive_many", opts, options.MANY)
  local defaults = call_defaults(opts) or options.NONE
  local archive = defined.archive
  local jobs, seen = {}, {}
  for i = 1, #ids do
    local id = rawget(ids, i)
    if type(id) ~= "string" then
      argerror("archive_many", format("ids[%d] must be a string (got %s)", i, type(id)))
    end
    check_id("archive_many", id)
    if not seen[id] then
      seen[id] = true
      local method, path, body = archive.build(self, "archive_many", id)
      local url, p = self:_prepare("archive_many", method, path, body, defaults, archive.interpret)
      jobs[#jobs + 1] = { key = id, method = method, url = url, prepared = p }
    end
  end
  if #jobs == 0 then
    -- Raise for missing credentials, as a list of ids would.
    self:_lines("archive_many", defaults, false)
  end
  return run(self, jobs, opts)
end

--- The methods, for methods.lua (no one-liners).
M.METHODS = {
  { name = "many", fn = M.many },
  { name = "archive_many", fn = M.archive_many },
}

return M
