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
local Client = require "anthropic.environments.environment_calls"
local work = require "anthropic.environments.work_calls"   -- the work-queue calls
require "anthropic.environments.lease"              -- client:work_lease
check.internal()

local type = type
local argerror, check_id = check.argerror, check.id
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
  Client = Client,
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

function M.archive(id, opts)
  check_id("archive", id)
  return M.default_client():archive(id, opts)
end

function M.create(params, opts)
  schema.environment_body("create", params, false)
  return M.default_client():create(params, opts)
end

function M.retrieve(id, opts)
  check_id("retrieve", id)
  return M.default_client():retrieve(id, opts)
end

function M.update(id, params, opts)
  check_id("update", id)
  schema.environment_body("update", params, true)
  return M.default_client():update(id, params, opts)
end

function M.delete(id, opts)
  check_id("delete", id)
  return M.default_client():delete(id, opts)
end

function M.list(params, opts)
  schema.list_query("list", params)
  return M.default_client():list(params, opts)
end

function M.each(params, opts)
  schema.list_query("each", params)
  return M.default_client():each(params, opts)
end

-- environments.work_poll, work_ack, ..., each_work, is_work_item (work_calls.lua).
work.install(M)

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
