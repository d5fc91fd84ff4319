-- Validation of create and update bodies.
--
-- Validators raise {invalid = message, code = error_code}; the API dispatcher
-- turns that into a 400 answer. null is accepted only where the API gives it
-- a meaning (description).
local json = require "fake.json"
local util = require "fake.util"

local NULL, array, is_array, is_object = json.null, json.array, json.is_array, json.is_object
local utf8_len = util.utf8_len

local M = {}

local function invalid(message, code)
  error({ invalid = message, code = code }, 0)
end

local function check_fields(obj, allowed, where)
  for k in pairs(obj) do
    if not allowed[k] then invalid(where .. tostring(k) .. ": unknown field") end
  end
end

local function check_string_array(v, where)
  if not is_array(v) then invalid(where .. ": expected an array of strings") end
  local copy = array()
  for i = 1, #v do
    if type(v[i]) ~= "string" then invalid(where .. ": expected an array of strings") end
    copy[i] = v[i]
  end
  return copy
end

local function check_bool(v, where)
  if v == nil then return false end
  if type(v) ~= "boolean" then invalid(where .. ": expected a boolean") end
  return v
end

local MANAGERS = { "apt", "cargo", "gem", "go", "npm", "pip" }

local function check_packages(p)
  if p == nil then p = {} end
  if not is_object(p) then invalid("config.packages: expected an object") end
  check_fields(p, { apt = 1, cargo = 1, gem = 1, go = 1, npm = 1, pip = 1, type = 1 },
    "config.packages.")
  if p.type ~= nil and p.type ~= "packages" then
    invalid('config.packages.type: expected "packages"')
  end
  local out = { type = "packages" }
  for _, m in ipairs(MANAGERS) do
    out[m] = p[m] == nil and array() or check_string_array(p[m], "config.packages." .. m)
  end
  return out
end

local function check_networking(n)
  if n == nil then return { type = "unrestricted" } end
  if not is_object(n) then invalid("config.networking: expected an object") end
  if n.type == "unrestricted" then
    check_fields(n, { type = 1 }, "config.networking.")
    return { type = "unrestricted" }
  elseif n.type == "limited" then
    check_fields(n, { type = 1, allow_mcp_servers = 1, allow_package_managers = 1,
      allowed_hosts = 1 }, "config.networking.")
    return {
      type = "limited",
      allow_mcp_servers = check_bool(n.allow_mcp_servers, "config.networking.allow_mcp_servers"),
      allow_package_managers = check_bool(n.allow_package_managers,
        "config.networking.allow_package_managers"),
      allowed_hosts = n.allowed_hosts == nil and array()
        or check_string_array(n.allowed_hosts, "config.networking.allowed_hosts"),
    }
  end
  invalid('config.networking.type: expected "unrestricted" or "limited"')
end

-- `old` is the current config on update: parts not given are kept from it.
local function check_config(c, old)
  if not is_object(c) then invalid("config: expected an object") end
  if c.type ~= "cloud" and c.type ~= "self_hosted" then
    invalid('config.type: expected "cloud" or "self_hosted"')
  end
  if is_object(old) and old.type ~= nil and old.type ~= c.type then
    invalid("config.type cannot change from '" .. tostring(old.type) .. "' to '"
      .. c.type .. "'", "invalid_config_type_change")
  end
  if c.type == "self_hosted" then
    check_fields(c, { type = 1 }, "config.")
    return { type = "self_hosted" }
  end
  check_fields(c, { type = 1, networking = 1, packages = 1 }, "config.")
  old = is_object(old) and old or {}
  return {
    type = "cloud",
    networking = (c.networking == nil and old.networking) or check_networking(c.networking),
    packages = (c.packages == nil and old.packages) or check_packages(c.packages),
  }
end

local function check_name(v)
  if type(v) ~= "string" or utf8_len(v) < 1 or utf8_len(v) > 256 then
    invalid("name: must be a string of 1 to 256 characters")
  end
  return v
end

local function check_description(v)
  if v == NULL then return NULL end
  if type(v) ~= "string" or utf8_len(v) > 1024 then
    invalid("description: must be null or a string of at most 1024 characters")
  end
  return v
end

local function check_scope(v)
  if v ~= "organization" and v ~= "account" then
    invalid('scope: expected "organization" or "account"')
  end
  return v
end

local function check_metadata_object(m)
  if not is_object(m) then invalid("metadata: expected an object of strings", "invalid_metadata") end
end

M.invalid = invalid
M.check_fields = check_fields
M.check_config = check_config
M.check_name = check_name
M.check_description = check_description
M.check_scope = check_scope
M.check_metadata_object = check_metadata_object

return M
