-- anthropic.environments.methods: the one place the client's methods and
-- the module's one-liners are made, from the declarations the resource
-- modules export (no module adds methods when it is required):
--
--   environment_calls.CALLS, work_calls.CALLS
--       { name, build, interpret, check }: client:<name>(...) (blocking,
--       yielding inside OpenResty) and client:<name>_async(...), and the
--       one-liner environments.<name>(...);
--   environment_calls.METHODS, work_calls.METHODS, batch.METHODS, lease.METHODS
--       { name, fn [, check] }: client:<name>(...), and a one-liner when
--       check is given.
--
-- A one-liner runs `check` (a call's whole `build` when it has none) before
-- the default client is made, so a mistake raises the same error whatever
-- the environment variables say.
local check = require "anthropic.environments.check"
local client = require "anthropic.environments.client"
local environment_calls = require "anthropic.environments.environment_calls"
local work_calls = require "anthropic.environments.work_calls"
local batch = require "anthropic.environments.batch"
local lease = require "anthropic.environments.lease"
check.internal()

local ipairs = ipairs
local check_client = client.check

local M = {
  CALLS = { environment_calls.CALLS, work_calls.CALLS },
  METHODS = { environment_calls.METHODS, work_calls.METHODS, batch.METHODS, lease.METHODS },
}

-- client:<name>(...): the call's answer or nil, err (with the option
-- with_response: answer, nil, response).
local function blocking(def)
  local name, build, interpret = def.name, def.build, def.interpret
  return function(self, ...)
    check_client(name, self)
    local method, path, body, opts = build(self, name, ...)
    local c = self:_start(name, method, path, body, opts, interpret)
    local _, value, err = c:wait()
    if err == nil and opts.with_response then return value, nil, c:response() end
    return value, err
  end
end

-- client:<name>_async(...): the call, its first attempt started.
local function async(def)
  local name, build, interpret = def.name .. "_async", def.build, def.interpret
  return function(self, ...)
    check_client(name, self)
    local method, path, body, opts = build(self, name, ...)
    return self:_start(name, method, path, body, opts, interpret)
  end
end

local function method(def)
  local name, fn = def.name, def.fn
  return function(self, ...)
    check_client(name, self)
    return fn(self, ...)
  end
end

--- methods.install(): every method on client.Client (once is enough; again
-- is harmless).
function M.install()
  local Client = client.Client
  for _, list in ipairs(M.CALLS) do
    for _, def in ipairs(list) do
      client.calls[def.name] = def
      Client[def.name] = blocking(def)
      Client[def.name .. "_async"] = async(def)
    end
  end
  for _, list in ipairs(M.METHODS) do
    for _, def in ipairs(list) do Client[def.name] = method(def) end
  end
end

local function one_liner(public, name, precheck)
  return function(...)
    precheck(name, ...)
    local c = public.default_client()
    return c[name](c, ...)
  end
end

--- methods.one_liners(public): environments.<name>(...) over
-- public.default_client() for every call and every method with a check.
function M.one_liners(public)
  for _, list in ipairs(M.CALLS) do
    for _, def in ipairs(list) do
      local build = def.build
      public[def.name] = one_liner(public, def.name, def.check or function(where, ...) build(nil, where, ...) end)
    end
  end
  for _, list in ipairs(M.METHODS) do
    for _, def in ipairs(list) do
      if def.check then public[def.name] = one_liner(public, def.name, def.check) end
    end
  end
end

return M
