-- anthropic.environments.schema: the request parameters of the
-- environment calls, checked before anything is sent and copied into the
-- table that is encoded (the caller's tables are never changed, and are read
-- raw: no metamethod runs), with the fields the API defines as arrays marked
-- so that they go out as [] even when empty. The CLI builds its requests
-- from the same schema.
local basics = require "anthropic.environments.basics"
local check = require "anthropic.environments.check"
check.internal()

local type, next, tostring, rawget, setmetatable, getmetatable =
      type, next, tostring, rawget, setmetatable, getmetatable
local concat, format, ipairs = table.concat, string.format, ipairs
local argerror, escape_segment, raw_copy = check.argerror, check.escape_segment, check.raw_copy
local null = basics.null
local ARRAY_MT = basics.array_mt

local M = {}

--- schema.array([t]) -> t, marked to encode as a JSON array (even when
-- empty). Without an argument, a new empty array.
function M.array(t)
  if t == nil then return setmetatable({}, ARRAY_MT) end
  if type(t) ~= "table" then argerror("array", format("expected a table (got %s)", type(t))) end
  local mt = getmetatable(t)
  if mt ~= nil and mt ~= ARRAY_MT then argerror("array", "the table already has a metatable") end
  return setmetatable(t, ARRAY_MT)
end

local function param_error(where, path, message)
  argerror(where, format("parameter '%s' %s", path, message))
end

local function got(v)
  return format("(got %s)", v == null and "null" or type(v))
end

--- schema.params(where, params) -> a raw copy of the params table.
function M.params(where, params)
  if type(params) ~= "table" then
    argerror(where, format("params must be a table %s", got(params)))
  end
  return raw_copy(params)
end

-- Characters, as the API counts them: UTF-8 sequences.
local function utf8_length(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

local function join(path, key)
  return path == "" and tostring(key) or path .. "." .. tostring(key)
end

-- A raw copy of the table v (no metamethod runs), or a raised error.
local function check_table(where, path, v, what)
  if type(v) ~= "table" or v == null then
    param_error(where, path, format("must be %s %s", what or "a table", got(v)))
  end
  return raw_copy(v)
end

-- Every key of t must be a string in allowed; `note` explains, if given.
local function check_known(where, path, t, allowed, note)
  for k in next, t do
    if type(k) ~= "string" or not rawget(allowed, k) then
      argerror(where, format("unknown parameter '%s'%s", join(path, k), note or ""))
    end
  end
end

local function check_string(where, path, v)
  if type(v) ~= "string" then param_error(where, path, "must be a string " .. got(v)) end
  return v
end

local function check_boolean(where, path, v)
  if type(v) ~= "boolean" then param_error(where, path, "must be a boolean " .. got(v)) end
  return v
end

local function check_enum(where, path, v, values)
  return check.one_of(where, format("parameter '%s'", path), v, values)
end

-- A sequence of strings (keys exactly 1..n), copied into a marked array.
local function string_array(where, path, v)
  v = check_table(where, path, v, "an array of strings")
  local n = 0
  for k in next, v do
    n = n + 1
    if type(k) ~= "number" then param_error(where, path, "must be an array of strings (it has a key '" .. tostring(k) .. "')") end
  end
  local out = setmetatable({}, ARRAY_MT)
  for i = 1, n do
    local s = rawget(v, i)
    if s == nil then param_error(where, path, "must be an array of strings (it has holes)") end
    out[i] = check_string(where, format("%s[%d]", path, i), s)
  end
  return out
end

local function check_name(where, v)
  check_string(where, "name", v)
  local n = utf8_length(v)
  if n < 1 or n > 256 then
    param_error(where, "name", format("must be 1 to 256 characters long (got %d)", n))
  end
  return v
end

local function check_description(where, v)
  if v == null then return null end
  if type(v) ~= "string" then
    param_error(where, "description", "must be a string or environments.null " .. got(v))
  end
  local n = utf8_length(v)
  if n > 1024 then
    param_error(where, "description", format("must be at most 1024 characters long (got %d)", n))
  end
  return v
end

local SCOPES = { "organization", "account" }

-- On update a value of null or "" deletes that key.
local function check_metadata(where, v, on_update)
  v = check_table(where, "metadata", v, "a table of strings")
  local out = {}
  for k, value in next, v do
    if type(k) ~= "string" then
      param_error(where, "metadata", format("must have string keys (got a %s key)", type(k)))
    end
    local path = "metadata." .. k
    if value == null then
      if not on_update then
        param_error(where, path, "must be a string (null deletes a key, which only update can do)")
      end
    elseif type(value) ~= "string" then
      param_error(where, path, "must be a string" .. (on_update and " or environments.null " or " ") .. got(value))
    end
    out[k] = value
  end
  return out
end

local PACKAGE_MANAGERS = { "apt", "cargo", "gem", "go", "npm", "pip" }
local PACKAGES_KEYS = { type = true }
for _, m in ipairs(PACKAGE_MANAGERS) do PACKAGES_KEYS[m] = true end

local function check_packages(where, v)
  local path = "config.packages"
  v = check_table(where, path, v)
  check_known(where, path, v, PACKAGES_KEYS)
  local out = {}
  if v.type ~= nil then out.type = check_enum(where, path .. ".type", v.type, { "packages" }) end
  for _, m in ipairs(PACKAGE_MANAGERS) do
    if v[m] ~= nil then out[m] = string_array(where, path .. "." .. m, v[m]) end
  end
  return out
end

local NETWORKING_KEYS = {
  unrestricted = { type = true },
  limited = { type = true, allow_mcp_servers = true, allow_package_managers = true, allowed_hosts = true },
}

local function check_networking(where, v)
  local path = "config.networking"
  v = check_table(where, path, v)
  local kind = check_enum(where, path .. ".type", v.type, { "unrestricted", "limited" })
  check_known(where, path, v, NETWORKING_KEYS[kind],
    kind == "unrestricted" and " (unrestricted networking has only 'type')" or nil)
  local out = { type = kind }
  if kind == "limited" then
    if v.allow_mcp_servers ~= nil then
      out.allow_mcp_servers = check_boolean(where, path .. ".allow_mcp_servers", v.allow_mcp_servers)
    end
    if v.allow_package_managers ~= nil then
      out.allow_package_managers = check_boolean(where, path .. ".allow_package_managers", v.allow_package_managers)
    end
    if v.allowed_hosts ~= nil then
      out.allowed_hosts = string_array(where, path .. ".allowed_hosts", v.allowed_hosts)
    end
  end
  return out
end

local function check_config(where, v)
  v = check_table(where, "config", v)
  local kind = check_enum(where, "config.type", v.type, { "cloud", "self_hosted" })
  if kind == "self_hosted" then
    check_known(where, "config", v, { type = true }, " (a self_hosted config has only 'type')")
    return { type = "self_hosted" }
  end
  check_known(where, "config", v, { type = true, networking = true, packages = true })
  local out = { type = "cloud" }
  if v.networking ~= nil then out.networking = check_networking(where, v.networking) end
  if v.packages ~= nil then out.packages = check_packages(where, v.packages) end
  return out
end

local BODY_KEYS = { name = true, description = true, config = true, metadata = true, scope = true }

-- The body of create (on_update false) or update, as a new table.
local function environment_body(where, params, on_update)
  if params == nil and on_update then params = {} end
  params = M.params(where, params)
  check_known(where, "", params, BODY_KEYS)
  local body = {}
  if params.name ~= nil or not on_update then
    if params.name == nil then param_error(where, "name", "is required") end
    body.name = check_name(where, params.name)
  end
  if params.description ~= nil then body.description = check_description(where, params.description) end
  if params.scope ~= nil then body.scope = check_enum(where, "scope", params.scope, SCOPES) end
  if params.config ~= nil then body.config = check_config(where, params.config) end
  if params.metadata ~= nil then body.metadata = check_metadata(where, params.metadata, on_update) end
  return body
end

local function encode_body(where, body)
  local json, err = basics.encode(body)
  -- Cannot happen for a checked body; raise rather than send something else.
  if not json then argerror(where, "could not encode the request body: " .. tostring(err)) end
  return json
end

local LIST_KEYS = { limit = true, include_archived = true, page = true }

-- The query string of a list call ("" or "?..."), keys in alphabetical
-- order. keys: the parameters this list takes (default: environments').
local function list_query(where, params, keys)
  if params == nil then return "" end
  params = M.params(where, params)
  check_known(where, "", params, keys or LIST_KEYS)
  local parts = {}
  if params.include_archived ~= nil then
    check_boolean(where, "include_archived", params.include_archived)
    parts[#parts + 1] = "include_archived=" .. tostring(params.include_archived)
  end
  local limit = params.limit
  if limit ~= nil then
    parts[#parts + 1] = format("limit=%d", check.whole(where, "parameter 'limit'", limit, 1, 1000, true))
  end
  local page = params.page
  if page == null then page = nil end
  if page ~= nil then
    check_string(where, "page", page)
    if page == "" then param_error(where, "page", "must not be empty") end
    parts[#parts + 1] = "page=" .. escape_segment(page)
  end
  if #parts == 0 then return "" end
  return "?" .. concat(parts, "&")
end

--- schema.mark_arrays(env) -> a copy of a decoded environment whose array
-- fields encode as arrays even when empty (Debian's lua-cjson decodes [] as
-- a plain empty table), for environments.encode.
function M.mark_arrays(env)
  if type(env) ~= "table" or type(env.config) ~= "table" then return env end
  local copy = raw_copy
  local function list(t)
    local out = setmetatable({}, ARRAY_MT)
    for i = 1, #t do out[i] = t[i] end
    return out
  end
  local out, config = copy(env), copy(env.config)
  out.config = config
  if type(config.networking) == "table" then
    config.networking = copy(config.networking)
    local hosts = config.networking.allowed_hosts
    if type(hosts) == "table" then config.networking.allowed_hosts = list(hosts) end
  end
  if type(config.packages) == "table" then
    config.packages = copy(config.packages)
    for _, m in ipairs(PACKAGE_MANAGERS) do
      local names = config.packages[m]
      if type(names) == "table" then config.packages[m] = list(names) end
    end
  end
  return out
end

M.PACKAGE_MANAGERS = PACKAGE_MANAGERS
M.environment_body = environment_body
M.encode_body = encode_body
M.list_query = list_query
-- The field checks, for the schemas of other resources (work_calls.lua).
M.param_error, M.got, M.known, M.string, M.boolean, M.enum, M.string_array, M.table =
  param_error, got, check_known, check_string, check_boolean, check_enum, string_array, check_table
M.metadata = check_metadata

return M
