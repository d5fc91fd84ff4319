-- anthropic.environments: a Lua client for Anthropic's Environments API.
--
-- This file is the public face: it gathers the package's modules (under
-- anthropic/environments/, one concern each) into one table. The HTTP
-- transport and all JSON work happen in the C core (src/).
local core = require "anthropic.environments.core"

local VERSION = require "anthropic.environments.version"
if core._VERSION ~= VERSION then
  error(string.format("anthropic.environments %s needs its C core of the same version, but found %s "
    .. "(rebuild it: make all, or luarocks make)", VERSION,
    core._VERSION and ("core " .. tostring(core._VERSION)) or "a core without a version"), 2)
end

local check = require "anthropic.environments.check"
local client = require "anthropic.environments.client"
local errors = require "anthropic.environments.errors"
local schema = require "anthropic.environments.schema"
local time = require "anthropic.environments.time"
local call = require "anthropic.environments.call"
local work = require "anthropic.environments.work_calls"
local methods = require "anthropic.environments.methods"
local options = require "anthropic.environments.options"
check.internal()

-- The client's methods, from the calls' declarations (see methods.lua).
methods.install()

local type = type
local argerror = check.argerror
local null = core.null

local M = {
  VERSION = VERSION,
  API_VERSION = client.API_VERSION,
  BETA = client.BETA,
  DEFAULT_BASE_URL = client.DEFAULT_BASE_URL,
  DEFAULT_TIMEOUT = client.DEFAULT_TIMEOUT,
  DEFAULT_CONNECT_TIMEOUT = client.DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_MAX_RETRIES = client.DEFAULT_MAX_RETRIES,
  DEFAULT_MAX_BODY = client.DEFAULT_MAX_BODY,
  --- JSON null in decoded answers (the same value as cjson.null).
  null = null,
  Client = client.Client,
  Call = call.Call,
  Error = errors.Error,
  is_error = errors.is_error,
  array = schema.array,
  --- environments.encode(value) -> JSON text  or  nil, message
  -- The encoder request bodies go through: object keys sorted, tables marked
  -- with environments.array (or non-empty sequences) as arrays, null as null.
  encode = core.encode,
  --- environments.decode(text) -> value  or  nil, message
  -- The decoder answers go through (the private lua-cjson instance): null is
  -- environments.null, NaN and hex numbers are refused, nesting is bounded.
  decode = core.decode,
}

local USER_AGENT = client.user_agent(VERSION)

--- environments.unwrap_webhook(body, headers, { key, tolerance, now })
-- -> event  or  nil, err: see anthropic/environments/webhook.lua.
M.unwrap_webhook = require("anthropic.environments.webhook").unwrap

--- environments.new(opts) -> client
function M.new(opts)
  return client.new(opts, USER_AGENT)
end

---------------------------------------------------------------------------
-- Module-level one-liners over a default client configured from the
-- environment variables. Each checks its arguments before the default
-- client is made, so a mistake raises the same error whatever the
-- environment variables say.
---------------------------------------------------------------------------

local default_client

--- environments.default_client() -> the shared client the one-liners use.
function M.default_client()
  if not default_client then default_client = M.new() end
  return default_client
end

--- environments.configure([opts]): the default client becomes
-- environments.new(opts), and the one it replaces is closed. Bad options
-- raise, and then nothing changes. Without opts, the default client is made
-- again from the environment variables, at the next one-liner.
function M.configure(opts)
  local replacement
  if opts ~= nil then
    options.check("configure", opts, options.CLIENT)   -- errors name configure
    replacement = M.new(opts)
  end
  local old = default_client
  default_client = replacement
  if old then old:close() end
end

-- environments.archive, create, ..., each, collect, work_poll, ..., each_work,
-- collect_work: made from the calls' declarations (methods.lua).
methods.one_liners(M)

M.is_work_item = work.is_item
M.NO_HEARTBEAT = work.NO_HEARTBEAT

---------------------------------------------------------------------------
-- Helpers.
---------------------------------------------------------------------------

--- True if the environment has been archived.
function M.is_archived(env)
  if type(env) ~= "table" then argerror("is_archived", "expected an environment table") end
  local at = env.archived_at
  return at ~= nil and at ~= null
end

--- RFC 3339 timestamp -> seconds since the epoch (UTC), with fractions.
-- Returns nil for null/absent values and nil, message for malformed ones.
function M.parse_time(s)
  return time.parse(s, null)
end

--- The time an environment was archived, in epoch seconds, or nil.
function M.archived_time(env)
  if not M.is_archived(env) then return nil end
  return M.parse_time(env.archived_at)
end

return M
