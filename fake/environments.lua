-- The environment routes: archive, create, retrieve, update, list, delete.
-- Each handler returns status, value to encode.
local json = require "fake.json"
local util = require "fake.util"
local store = require "fake.store"
local respond = require "fake.respond"
local check = require "fake.validate"

local NULL, array, is_object = json.null, json.array, json.is_object
local error_body, invalid = respond.error_body, check.invalid
local now, parse_query, hex, unhex = util.now, util.parse_query, util.hex, util.unhex

local M = {}

-- Called with (type, env) after an environment changes (webhooks use it).
local listeners = {}
function M.on_change(fn) listeners[#listeners + 1] = fn end
local function changed(kind, env)
  for _, fn in ipairs(listeners) do fn(kind, env) end
end

local function not_found(req, id)
  return 404, error_body(404, "Environment '" .. id .. "' not found",
    "environment_not_found", req.request_id)
end

local function retrieve_env(req, id)
  if not store.state.envs[id] then return not_found(req, id) end
  return 200, store.state.envs[id]
end

local function create_env(_, body)
  if not is_object(body) then invalid("request body must be a JSON object") end
  check.check_fields(body, { name = 1, config = 1, description = 1, metadata = 1, scope = 1 }, "")
  if body.name == nil then invalid("name: field required") end
  local metadata = {}
  if body.metadata ~= nil then
    check.check_metadata_object(body.metadata)
    for k, v in pairs(body.metadata) do
      if type(v) ~= "string" then
        invalid("metadata." .. k .. ": expected a string", "invalid_metadata")
      end
      metadata[k] = v
    end
  end
  local env = {
    type = "environment",
    name = check.check_name(body.name),
    description = body.description == nil and NULL or check.check_description(body.description),
    config = body.config == nil and check.check_config({ type = "cloud" }) or check.check_config(body.config),
    metadata = metadata,
    scope = body.scope == nil and "organization" or check.check_scope(body.scope),
    archived_at = NULL,
  }
  store.counters.env = store.counters.env + 1
  env.id = "env_fake_" .. store.counters.env
  env.created_at = now()
  env.updated_at = env.created_at
  store.store_env(env)
  changed("environment.created", env)
  return 200, env
end

local function update_env(req, id, body)
  local env = store.state.envs[id]
  if not env then return not_found(req, id) end
  if not is_object(body) then invalid("request body must be a JSON object") end
  if store.is_archived(env) then
    invalid("Environment '" .. id .. "' is archived and cannot be updated", "environment_archived")
  end
  check.check_fields(body, { name = 1, config = 1, description = 1, metadata = 1, scope = 1 }, "")
  -- Validate everything before changing anything.
  local changes = {}
  if body.name ~= nil then changes.name = check.check_name(body.name) end
  if body.description ~= nil then changes.description = check.check_description(body.description) end
  if body.scope ~= nil then changes.scope = check.check_scope(body.scope) end
  if body.config ~= nil then changes.config = check.check_config(body.config, env.config) end
  if body.metadata ~= nil then
    check.check_metadata_object(body.metadata)
    local metadata = {}
    for k, v in pairs(is_object(env.metadata) and env.metadata or {}) do metadata[k] = v end
    for k, v in pairs(body.metadata) do
      if v == NULL or v == "" then
        metadata[k] = nil
      elseif type(v) == "string" then
        metadata[k] = v
      else
        invalid("metadata." .. k .. ": expected a string or null", "invalid_metadata")
      end
    end
    changes.metadata = metadata
  end
  for k, v in pairs(changes) do env[k] = v end
  env.updated_at = now()
  changed("environment.updated", env)
  return 200, env
end

local function archive_env(req, id)
  local env = store.state.envs[id]
  if not env then return not_found(req, id) end
  if not store.is_archived(env) then  -- idempotent: the first archived_at stays
    env.archived_at = now()
    env.updated_at = env.archived_at
    changed("environment.archived", env)
  end
  return 200, env
end

local function delete_env(req, id)
  if not store.state.envs[id] then return not_found(req, id) end
  local env = store.state.envs[id]
  store.state.envs[id], store.state.seq[id] = nil, nil
  changed("environment.deleted", env)
  return 200, { id = id, type = "environment_deleted" }
end

-- Listing order: newest first by created_at, ties broken by insertion order
-- (later first). A cursor names the last item of the previous page by its
-- (created_at, insertion number), so pages stay stable while items change.
local function sort_key(id)
  return tostring(store.state.envs[id].created_at or ""), store.state.seq[id]
end

local function comes_before(ka, sa, kb, sb)
  return ka > kb or (ka == kb and sa > sb)
end

local function list_envs(req)
  local q = parse_query(req.query)
  local limit = 20
  if q.limit ~= nil then
    limit = q.limit:match("^%d+$") and tonumber(q.limit)
    if not limit or limit < 1 or limit > 1000 then
      invalid("limit: must be an integer between 1 and 1000")
    end
  end
  local include_archived = false
  if q.include_archived ~= nil then
    if q.include_archived ~= "true" and q.include_archived ~= "false" then
      invalid("include_archived: must be true or false")
    end
    include_archived = q.include_archived == "true"
  end
  local after_key, after_seq
  if q.page ~= nil and q.page ~= "" then
    local raw = q.page:match("^page_(%x+)$")
    raw = raw and unhex(raw)
    after_key, after_seq = (raw or ""):match("^(.*)|(%d+)$")
    if not after_key then invalid("page: invalid cursor") end
    after_seq = tonumber(after_seq)
  end

  local ids = {}
  for id, env in pairs(store.state.envs) do
    if include_archived or not store.is_archived(env) then
      local k, s = sort_key(id)
      if not after_key or comes_before(after_key, after_seq, k, s) then
        ids[#ids + 1] = id
      end
    end
  end
  table.sort(ids, function(a, b)
    local ka, sa = sort_key(a)
    local kb, sb = sort_key(b)
    return comes_before(ka, sa, kb, sb)
  end)

  local data = array()
  for i = 1, math.min(limit, #ids) do data[i] = store.state.envs[ids[i]] end
  local next_page = NULL
  if #ids > limit then
    local k, s = sort_key(ids[limit])
    next_page = "page_" .. hex(k .. "|" .. s)
  end
  return 200, { data = data, next_page = next_page }
end

M.not_found = not_found
M.retrieve = retrieve_env
M.create = create_env
M.update = update_env
M.archive = archive_env
M.delete = delete_env
M.list = list_envs

return M
