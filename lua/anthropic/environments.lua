-- anthropic.environments: a Lua client for Anthropic's Environments API.
--
-- This file is the whole Lua API: the calls (blocking, async and many at
-- once), argument checking, headers, retries, errors and helpers. The HTTP
-- transport and all JSON work happen in the C core
-- (anthropic.environments.core, src/).
local core = require "anthropic.environments.core"

local type, pairs, ipairs, tostring, tonumber, error =
      type, pairs, ipairs, tostring, tonumber, error
local setmetatable, getmetatable = setmetatable, getmetatable
local concat, format, floor, min, max = table.concat, string.format, math.floor, math.min, math.max

local M = {
  VERSION = "0.1.0",
  API_VERSION = "2023-06-01",
  BETA = "managed-agents-2026-04-01",
  DEFAULT_BASE_URL = "https://api.anthropic.com",
  DEFAULT_TIMEOUT = 600,           -- seconds, one attempt
  DEFAULT_CONNECT_TIMEOUT = 5,     -- seconds
  DEFAULT_MAX_RETRIES = 2,
  DEFAULT_MAX_BODY = 16 * 1024 * 1024,
  --- JSON null in decoded answers (the same value as cjson.null).
  null = core.null,
}
local null = core.null

local USER_AGENT = format("anthropic-environments-lua/%s (%s; libcurl/%s)", M.VERSION,
  (type(jit) == "table" and jit.version) or _VERSION, core.curl_version)

-- A raw body kept on an error (an HTML page from a proxy, say) is cut here.
local ERROR_BODY_MAX = 4096

---------------------------------------------------------------------------
-- Argument checking: programmer mistakes raise, naming what was wrong.
---------------------------------------------------------------------------

local THIS_FILE = debug.getinfo(1, "S").source

-- Raises at the caller's line: the first stack frame outside this file.
local function argerror(where, message)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info or info.source ~= THIS_FILE then break end
    level = level + 1
  end
  error(format("anthropic.environments.%s: %s", where, message), level)
end

local function check_text(where, what, value)
  if type(value) ~= "string" then
    argerror(where, format("%s must be a string (got %s)", what, type(value)))
  end
  if value:find("[%z\r\n]") then
    argerror(where, format("%s must not contain CR, LF or NUL", what))
  end
  return value
end

-- option name -> checker(where, name, value)
local function of_type(expected)
  return function(where, name, value)
    if type(value) ~= expected then
      argerror(where, format("option '%s' must be a %s (got %s)", name, expected, type(value)))
    end
  end
end

local function seconds(where, name, value)
  if type(value) ~= "number" or not (value > 0) or value > 1e9 then
    argerror(where, format("option '%s' must be a positive number of seconds", name))
  end
end

local function count(where, name, value)
  if type(value) ~= "number" or value < 0 or value ~= floor(value) or value > 100 then
    argerror(where, format("option '%s' must be a whole number from 0 to 100", name))
  end
end

local function text(where, name, value) check_text(where, format("option '%s'", name), value) end

local function header_table(where, name, value)
  if type(value) ~= "table" then
    argerror(where, format("option '%s' must be a table of header names to values", name))
  end
  for k, v in pairs(value) do
    if type(k) ~= "string" or not k:find("^[%w!#$%%&'*+%-.^_`|~]+$") then
      argerror(where, format("header name %s is not a valid HTTP header name", tostring(k)))
    end
    check_text(where, format("header '%s'", k), v)
  end
end

local function beta_list(where, name, value)
  if type(value) ~= "table" then
    argerror(where, format("option '%s' must be an array of strings", name))
  end
  for i, beta in ipairs(value) do
    check_text(where, format("%s[%d]", name, i), beta)
    if beta == "" or beta:find("[,%s]") then
      argerror(where, format("%s[%d] must be one beta name, without commas or spaces", name, i))
    end
  end
  for k in pairs(value) do
    if type(k) ~= "number" or k < 1 or k > #value or k ~= floor(k) then
      argerror(where, format("option '%s' must be an array of strings", name))
    end
  end
end

local function non_negative(where, name, value)
  if type(value) ~= "number" or not (value >= 0) then
    argerror(where, format("option '%s' must be a non-negative number", name))
  end
end

local CALL_OPTIONS = {
  betas = beta_list,
  workspace_id = text,
  headers = header_table,
  timeout = seconds,
  max_retries = count,
  sleep = of_type("function"),
}

local CLIENT_OPTIONS = {
  api_key = text,
  auth_token = text,
  base_url = text,
  connect_timeout = seconds,
  stall_timeout = seconds,
  max_body = non_negative,
  proxy = text,
  ca_file = text,
  ca_path = text,
  insecure_skip_tls_verify = of_type("boolean"),
  logger = of_type("function"),
}
for name, check in pairs(CALL_OPTIONS) do CLIENT_OPTIONS[name] = check end

-- Shared by every call given no options; never written to.
local NO_OPTIONS = setmetatable({}, { __newindex = function() error("NO_OPTIONS is read-only", 2) end })

local function check_options(where, opts, allowed)
  if opts == nil then return NO_OPTIONS end
  if type(opts) ~= "table" then
    argerror(where, format("options must be a table (got %s)", type(opts)))
  end
  for name, value in pairs(opts) do
    local check = allowed[name]
    if not check then argerror(where, format("unknown option '%s'", tostring(name))) end
    check(where, name, value)
  end
  return opts
end

local function check_id(where, id)
  if type(id) ~= "string" then
    argerror(where, format("id must be a string (got %s)", type(id)))
  end
  if id == "" then argerror(where, "id must not be empty") end
  if id:find("%c") then argerror(where, "id must not contain control characters") end
  if id == "." or id == ".." then argerror(where, format("id must not be '%s'", id)) end
  return id
end

-- Everything but RFC 3986's unreserved characters is escaped, so an id can
-- never add a path segment or a query.
local function escape_segment(s)
  return (s:gsub("[^%w%-._~]", function(c) return format("%%%02X", c:byte()) end))
end

---------------------------------------------------------------------------
-- Request parameters: checked before anything is sent, and copied into the
-- table that is encoded (the caller's tables are never changed), with the
-- fields the API defines as arrays marked so that they go out as [] even
-- when empty.
---------------------------------------------------------------------------

local ARRAY_MT = core.array_mt

--- environments.array([t]) -> t, marked to encode as a JSON array (even
-- when empty). Without an argument, a new empty array.
function M.array(t)
  if t == nil then return setmetatable({}, ARRAY_MT) end
  if type(t) ~= "table" then argerror("array", format("expected a table (got %s)", type(t))) end
  local mt = getmetatable(t)
  if mt ~= nil and mt ~= ARRAY_MT then argerror("array", "the table already has a metatable") end
  return setmetatable(t, ARRAY_MT)
end

--- environments.encode(value) -> JSON text  or  nil, message
-- The encoder request bodies go through: object keys sorted, tables marked
-- with environments.array (or non-empty sequences) as arrays, null as null.
M.encode = core.encode

--- environments.decode(text) -> value  or  nil, message
-- The decoder answers go through (the private lua-cjson instance): null is
-- environments.null, NaN and hex numbers are refused, nesting is bounded.
M.decode = core.decode

local function param_error(where, path, message)
  argerror(where, format("parameter '%s' %s", path, message))
end

local function got(v)
  return format("(got %s)", v == null and "null" or type(v))
end

-- Characters, as the API counts them: UTF-8 sequences.
local function utf8_length(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

local function join(path, key)
  return path == "" and tostring(key) or path .. "." .. tostring(key)
end

local function check_table(where, path, v, what)
  if type(v) ~= "table" or v == null then
    param_error(where, path, format("must be %s %s", what or "a table", got(v)))
  end
end

-- Every key of t must be a string in allowed; `note` explains, if given.
local function check_known(where, path, t, allowed, note)
  for k in pairs(t) do
    if type(k) ~= "string" or not allowed[k] then
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
  for _, allowed in ipairs(values) do
    if v == allowed then return v end
  end
  local shown = type(v) == "string" and format("'%s'", v) or (v == null and "null" or type(v))
  param_error(where, path, format("must be '%s' (got %s)", concat(values, "' or '"), shown))
end

-- A sequence of strings (keys exactly 1..n), copied into a marked array.
local function string_array(where, path, v)
  check_table(where, path, v, "an array of strings")
  local n = 0
  for k in pairs(v) do
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
  check_table(where, "metadata", v, "a table of strings")
  local out = {}
  for k, value in pairs(v) do
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
  check_table(where, path, v)
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
  check_table(where, path, v)
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
  check_table(where, "config", v)
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
  if type(params) ~= "table" then
    argerror(where, format("params must be a table %s", got(params)))
  end
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
  local json, err = core.encode(body)
  -- Cannot happen for a checked body; raise rather than send something else.
  if not json then argerror(where, "could not encode the request body: " .. tostring(err)) end
  return json
end

local LIST_KEYS = { limit = true, include_archived = true, page = true }

-- The query string of list ("" or "?..."), keys in alphabetical order.
local function list_query(where, params)
  if params == nil then return "" end
  if type(params) ~= "table" then
    argerror(where, format("params must be a table %s", got(params)))
  end
  check_known(where, "", params, LIST_KEYS)
  local parts = {}
  if params.include_archived ~= nil then
    check_boolean(where, "include_archived", params.include_archived)
    parts[#parts + 1] = "include_archived=" .. tostring(params.include_archived)
  end
  local limit = params.limit
  if limit ~= nil then
    if type(limit) ~= "number" or limit ~= floor(limit) or limit < 1 or limit > 1000 then
      param_error(where, "limit", "must be a whole number from 1 to 1000 " ..
        (type(limit) == "number" and format("(got %s)", tostring(limit)) or got(limit)))
    end
    parts[#parts + 1] = format("limit=%d", limit)
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

---------------------------------------------------------------------------
-- Errors: network, API and decode failures are returned as nil, err.
---------------------------------------------------------------------------

local Error = {}
Error.__index = Error
M.Error = Error

function Error.__tostring(e)
  local parts = { "anthropic.environments:", e.kind, "error" }
  if e.status and e.status ~= 0 then parts[#parts + 1] = tostring(e.status) end
  if e.type then parts[#parts + 1] = e.type end
  if e.error_code then parts[#parts + 1] = "(" .. e.error_code .. ")" end
  local s = concat(parts, " ")
  if e.message then s = s .. ": " .. e.message end
  if e.request_id then s = s .. " [request-id " .. e.request_id .. "]" end
  if e.attempts and e.attempts > 1 then s = s .. format(" after %d attempts", e.attempts) end
  return s
end

--- True if v is an error returned by this library.
function M.is_error(v) return getmetatable(v) == Error end

local function new_error(kind, fields)
  fields.kind = kind
  return setmetatable(fields, Error)
end

local function cap(body)
  if #body > ERROR_BODY_MAX then return body:sub(1, ERROR_BODY_MAX) end
  return body
end

local function string_field(t, key)
  local v = type(t) == "table" and t[key] or nil
  if type(v) == "string" then return v end
  return nil
end

-- Turns one HTTP answer into the decoded value, or into an error.
local function interpret(status, headers, body)
  local request_id = headers["request-id"]
  if status >= 200 and status < 300 then
    local value, decode_err = core.decode(body)
    -- Debian's lua-cjson gives arrays and objects alike as plain tables.
    if type(value) == "table" and body:find("^%s*{") then return value end
    local kind_of = value == null and "null" or (type(value) == "table" and "an array") or type(value)
    return nil, new_error("decode", {
      status = status, request_id = request_id, headers = headers, body = cap(body),
      message = value == nil and ("invalid JSON in the answer: " .. tostring(decode_err))
                or ("expected a JSON object, got " .. kind_of),
    })
  end
  local decoded = core.decode(body)
  local api_error = type(decoded) == "table" and decoded.error
  if type(api_error) == "table" then
    return nil, new_error("api", {
      status = status, headers = headers,
      type = string_field(api_error, "type"),
      message = string_field(api_error, "message"),
      error_code = string_field(api_error.details, "error_code"),
      request_id = request_id or string_field(decoded, "request_id"),
    })
  end
  local content_type = headers["content-type"]
  return nil, new_error("api", {
    status = status, headers = headers, request_id = request_id, body = cap(body),
    message = body == "" and format("HTTP %d with an empty body", status)
              or format("HTTP %d with a body that is not the API's error JSON (%s)", status,
                        content_type or "no content-type"),
  })
end

---------------------------------------------------------------------------
-- Retries, as the official SDKs do them.
---------------------------------------------------------------------------

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6,
                 Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- Days since 1970-01-01 of a proleptic Gregorian date.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function http_date(s)   -- "Wed, 21 Oct 2015 07:28:00 GMT"
  local d, mon, y, h, mi, sec = s:match("^%a+, (%d%d?) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  return days_from_civil(tonumber(y), MONTHS[mon], tonumber(d)) * 86400
         + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

local function should_retry(err)
  local headers = err.headers
  local verdict = headers and headers["x-should-retry"]
  if verdict == "true" then return true end
  if verdict == "false" then return false end
  if err.kind == "connection" or err.kind == "timeout" then return true end
  local status = err.status
  return err.kind == "api" and (status == 408 or status == 409 or status == 429 or status >= 500)
end

-- Seconds to wait before retry n (0-based); jitter is a number in [0, 1).
local function retry_delay(n, headers, jitter)
  if headers then
    local wait = tonumber(headers["retry-after-ms"])
    if wait then wait = wait / 1000 end
    local after = headers["retry-after"]
    if not wait and after then
      wait = tonumber(after)
      if not wait then
        local at = http_date(after)
        if at then wait = at - os.time() end
      end
    end
    if wait and wait > 0 and wait <= 60 then return wait end
  end
  return min(0.5 * 2 ^ n, 8) * (1 - 0.25 * jitter)
end
M._retry_delay = retry_delay   -- exposed for tests

-- OpenResty phases in which ngx.sleep yields instead of blocking the worker.
local NGX_SLEEP_PHASES = { rewrite = true, access = true, content = true, timer = true,
                           ssl_cert = true, ssl_session_fetch = true }

-- ngx.sleep when running where it yields to nginx's event loop, else nil.
local function ngx_sleep()
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and ngx.sleep and ngx.get_phase then
    local ok, phase = pcall(ngx.get_phase)
    if ok and NGX_SLEEP_PHASES[phase] then return ngx.sleep end
  end
  return nil
end

local function default_sleep(secs)
  local yield = ngx_sleep()
  if yield then return yield(secs) end
  return core.sleep(secs)
end

---------------------------------------------------------------------------
-- The client.
---------------------------------------------------------------------------

local Client = {}
Client.__index = Client
M.Client = Client

-- Per-client state that must not show up when a client is printed or
-- inspected: the header lines carry the credentials.
local private = setmetatable({}, { __mode = "k" })

local function getenv(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

-- Header sets are kept as { order = { lname... }, lines = { lname = "Name: value" } }.
local function header_set() return { order = {}, lines = {} } end

local function set_header(set, name, value)
  local lname = name:lower()
  if not set.lines[lname] then set.order[#set.order + 1] = lname end
  set.lines[lname] = name .. ": " .. value
end

local function copy_set(set)
  local c = header_set()
  for i, lname in ipairs(set.order) do
    c.order[i] = lname
    c.lines[lname] = set.lines[lname]
  end
  return c
end

local function set_lines(set)
  local out = {}
  for i, lname in ipairs(set.order) do out[i] = set.lines[lname] end
  return out
end

local function beta_header(user_betas)
  local list = {}
  for _, b in ipairs(user_betas or {}) do
    if b ~= M.BETA then list[#list + 1] = b end
  end
  list[#list + 1] = M.BETA
  return concat(list, ",")
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function add_headers(set, headers)
  for _, name in ipairs(sorted_keys(headers)) do set_header(set, name, headers[name]) end
end

--- environments.new(opts) -> client
function M.new(opts)
  opts = check_options("new", opts, CLIENT_OPTIONS)
  local base_url = opts.base_url or getenv("ANTHROPIC_BASE_URL") or M.DEFAULT_BASE_URL
  if not base_url:find("^[hH][tT][tT][pP][sS]?://[^/]") then
    argerror("new", "base_url must be an http:// or https:// URL")
  end
  if base_url:find("[%s%z%c]") then argerror("new", "base_url must not contain spaces or control characters") end
  base_url = base_url:gsub("/+$", "")

  local api_key = opts.api_key or getenv("ANTHROPIC_API_KEY")
  local auth_token = opts.auth_token or getenv("ANTHROPIC_AUTH_TOKEN")
  if api_key then check_text("new", "ANTHROPIC_API_KEY", api_key) end
  if auth_token then check_text("new", "ANTHROPIC_AUTH_TOKEN", auth_token) end

  local logger = opts.logger
  if not logger and getenv("ANTHROPIC_LOG") == "debug" then
    logger = function(line) io.stderr:write(line, "\n") end
  end

  local self = setmetatable({
    base_url = base_url,
    timeout = opts.timeout or M.DEFAULT_TIMEOUT,
    max_retries = opts.max_retries or M.DEFAULT_MAX_RETRIES,
    sleep = opts.sleep or default_sleep,
    logger = logger,
  }, Client)

  local base = header_set()
  set_header(base, "accept", "application/json")
  set_header(base, "anthropic-version", M.API_VERSION)
  set_header(base, "user-agent", USER_AGENT)
  if api_key then set_header(base, "x-api-key", api_key) end
  if auth_token then set_header(base, "authorization", "Bearer " .. auth_token) end
  if opts.workspace_id then set_header(base, "anthropic-workspace-id", opts.workspace_id) end
  set_header(base, "anthropic-beta", beta_header(opts.betas))
  -- Calls with a JSON body also send its type; the client's own headers
  -- come after the defaults either way, so they can replace them.
  local defaults, body_defaults = copy_set(base), base
  set_header(body_defaults, "content-type", "application/json")
  if opts.headers then
    add_headers(defaults, opts.headers)
    add_headers(body_defaults, opts.headers)
  end

  private[self] = {
    transport = core.new {
      connect_timeout = opts.connect_timeout or M.DEFAULT_CONNECT_TIMEOUT,
      stall_timeout = opts.stall_timeout,
      max_body = opts.max_body or M.DEFAULT_MAX_BODY,
      proxy = opts.proxy,
      ca_file = opts.ca_file,
      ca_path = opts.ca_path,
      insecure_skip_tls_verify = opts.insecure_skip_tls_verify,
    },
    headers = defaults,
    lines = set_lines(defaults),     -- the fast path: a call with no header options
    body_headers = body_defaults,
    body_lines = set_lines(body_defaults),
    client_betas = opts.betas,
  }
  return self
end

local function has_credentials(set)
  return set.lines["x-api-key"] or set.lines["authorization"]
end

-- The header lines for one call: client defaults, then the call's options.
local function call_header_lines(where, state, opts, has_body)
  local defaults = has_body and state.body_headers or state.headers
  if not (opts.headers or opts.betas or opts.workspace_id) then
    if not has_credentials(defaults) then
      argerror(where, "no credentials: set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN, or pass api_key or auth_token")
    end
    return has_body and state.body_lines or state.lines
  end
  local set = copy_set(defaults)
  if opts.workspace_id then set_header(set, "anthropic-workspace-id", opts.workspace_id) end
  if opts.betas then
    local betas = {}
    for _, b in ipairs(state.client_betas or {}) do betas[#betas + 1] = b end
    for _, b in ipairs(opts.betas) do betas[#betas + 1] = b end
    set_header(set, "anthropic-beta", beta_header(betas))
  end
  if opts.headers then add_headers(set, opts.headers) end
  if not has_credentials(set) then
    argerror(where, "no credentials: set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN, or pass api_key or auth_token")
  end
  return set_lines(set)
end

---------------------------------------------------------------------------
-- A call in flight: one state machine behind the blocking calls, the async
-- requests and archive_many. Each attempt is a request of the C core; a
-- retry is a timer (retry_at) that poll() honours, never a sleep.
---------------------------------------------------------------------------

local Call = {}
Call.__index = Call
M.Call = Call

local function start_attempt(call)
  call.attempt = call.attempt + 1
  call.started = core.now()
  call.request = call.transport:start(call.method, call.url, call.lines, call.body, call.timeout)
end

-- The current attempt is done: its answer, a retry, or the final error.
local function finish_attempt(call)
  -- status, headers, body  or  nil, kind, message, status seen (0 if none)
  local status, r2, r3, r4 = call.request:result()
  call.request = nil
  local value, err
  if status then
    value, err = interpret(status, r2, r3)
  else
    err = new_error(r2, { message = r3, status = r4 ~= 0 and r4 or nil })
  end
  if call.logger then
    call.logger(format("anthropic.environments: %s %s -> %s (request-id %s, attempt %d, %.1f ms)",
      call.method, call.url, status and tostring(status) or err.kind,
      status and r2["request-id"] or "-", call.attempt, (core.now() - call.started) * 1000))
  end
  if value ~= nil then
    call.done, call.value = true, value
    return
  end
  err.attempts = call.attempt
  if call.attempt > call.max_retries or not should_retry(err) then
    call.done, call.err = true, err
    return
  end
  call.retry_delay = retry_delay(call.attempt - 1, err.headers, call.transport:random())
  call.retry_at = core.now() + call.retry_delay
end

-- Moves the call on without driving the transport: collects a finished
-- attempt, or starts the next one once its retry time has come.
function Call:_step()
  if self.done then return true end
  local request = self.request
  if request then
    if request:done() then finish_attempt(self) end
  elseif self.retry_at and core.now() >= self.retry_at then
    self.retry_at = nil
    start_attempt(self)
  end
  return self.done
end

--- call:poll() -> false while pending; then true, value  or  true, nil, err.
-- Never blocks.
function Call:poll()
  if not self.done then
    if self.request then self.transport:drive(0) end
    self:_step()
  end
  if self.done then return true, self.value, self.err end
  return false
end

--- call:wait([timeout]) -> as poll(), blocking up to timeout seconds (none:
-- until done). Inside OpenResty handlers it yields to nginx instead.
function Call:wait(timeout)
  local deadline = timeout and core.now() + timeout
  local yield = ngx_sleep()
  local pause = 0.001
  while true do
    -- Outside OpenResty, block in the transport first: poll() would only
    -- find the request just sent still pending.
    if not yield and self.request then
      self.transport:run(self.request, deadline and max(deadline - core.now(), 0) or 1)
    end
    local done, value, err = self:poll()
    if done then return true, value, err end
    local now = core.now()
    if deadline and now >= deadline then return false end
    local limit = deadline and deadline - now or math.huge
    if self.retry_at then
      -- The sleep function is trusted: once it returns, the retry is due
      -- (a test's or a scheduler's sleep need not take real time).
      local wait = deadline and self.retry_at - now or self.retry_delay
      if wait > limit then
        self.sleep(limit)
      else
        if wait > 0 then self.sleep(wait) end
        self.retry_at = now
      end
    elseif yield then
      yield(min(pause, limit))        -- the worker keeps serving meanwhile
      pause = min(pause * 2, 0.02)
    end
  end
end

--- call:next_timer() -> seconds until the call must be polled for a retry
-- that is waiting (0 when it is due), or nil when it waits on the network
-- only (see client:fds) or is done. For external event loops.
function Call:next_timer()
  if self.done or not self.retry_at then return nil end
  return max(self.retry_at - core.now(), 0)
end

--- call:cancel(): stops the call and frees its connection slot. A later
-- poll() gives true, nil, err with err.kind == "cancelled".
function Call:cancel()
  if self.done then return end
  if self.request then self.request:cancel() end
  self.request, self.retry_at = nil, nil
  self.done = true
  self.err = new_error("cancelled", { message = "the call was cancelled", attempts = self.attempt })
end

-- A new call, its first attempt started.
function Client:_start(where, method, path, body, opts)
  local state = private[self]
  local call = setmetatable({
    transport = state.transport,
    method = method,
    url = self.base_url .. path,
    lines = call_header_lines(where, state, opts, body ~= nil),
    body = body,
    timeout = opts.timeout or self.timeout,
    max_retries = opts.max_retries or self.max_retries,
    sleep = opts.sleep or self.sleep,
    logger = self.logger,
    attempt = 0,
  }, Call)
  start_attempt(call)
  return call
end

-- One API call, blocking (but yielding inside OpenResty handlers).
-- Returns the decoded answer, or nil, err.
function Client:_call(where, method, path, body, opts)
  local _, value, err = self:_start(where, method, path, body, opts):wait()
  return value, err
end

local function check_client(where, self)
  if getmetatable(self) ~= Client then
    argerror(where, "expected a client: call it as client:" .. where .. "(...), with a colon")
  end
end

--- client:archive(id [, opts]) -> environment  or  nil, err
function Client:archive(id, opts)
  check_client("archive", self)
  check_id("archive", id)
  opts = check_options("archive", opts, CALL_OPTIONS)
  return self:_call("archive", "POST", "/v1/environments/" .. escape_segment(id) .. "/archive", nil, opts)
end

--- client:archive_async(id [, opts]) -> call, with call:poll(), call:wait()
-- and call:cancel(). Nothing blocks until wait() is called.
function Client:archive_async(id, opts)
  check_client("archive_async", self)
  check_id("archive_async", id)
  opts = check_options("archive_async", opts, CALL_OPTIONS)
  return self:_start("archive_async", "POST", "/v1/environments/" .. escape_segment(id) .. "/archive", nil, opts)
end

local MANY_OPTIONS = { concurrency = function(where, name, value)
  if type(value) ~= "number" or value < 1 or value > 1000 or value ~= floor(value) then
    argerror(where, format("option '%s' must be a whole number from 1 to 1000", name))
  end
end, on_result = of_type("function") }
for name, check in pairs(CALL_OPTIONS) do MANY_OPTIONS[name] = check end

--- client:archive_many(ids [, opts]) -> results, errors
-- Archives every id (duplicates once) with up to opts.concurrency (16)
-- requests in flight on this client's connections, each with its own
-- retries. results[id] is the environment, errors[id] the error.
-- opts.on_result(id, env, err) is called as each one ends.
function Client:archive_many(ids, opts)
  check_client("archive_many", self)
  if type(ids) ~= "table" then argerror("archive_many", "ids must be an array of ids") end
  opts = check_options("archive_many", opts, MANY_OPTIONS)
  local queue, seen = {}, {}
  for i = 1, #ids do
    local id = ids[i]
    if type(id) ~= "string" then
      argerror("archive_many", format("ids[%d] must be a string (got %s)", i, type(id)))
    end
    check_id("archive_many", id)
    if not seen[id] then
      seen[id] = true
      queue[#queue + 1] = id
    end
  end
  local call_opts = {}
  for name in pairs(CALL_OPTIONS) do call_opts[name] = opts[name] end
  local concurrency = opts.concurrency or 16
  local on_result = opts.on_result
  local transport = private[self].transport
  local sleep = opts.sleep or self.sleep
  local yield = ngx_sleep()
  local results, errors = {}, {}
  local active, next_index = {}, 1

  local ok, raised = pcall(function()
    while next_index <= #queue or #active > 0 do
      while #active < concurrency and next_index <= #queue do
        local id = queue[next_index]
        next_index = next_index + 1
        active[#active + 1] = { id = id, call = self:_start("archive_many", "POST",
          "/v1/environments/" .. escape_segment(id) .. "/archive", nil, call_opts) }
      end
      transport:drive(0)
      local finished, next_timer, running = false, nil, false
      for i = #active, 1, -1 do
        local entry = active[i]
        local call = entry.call
        if call:_step() then
          table.remove(active, i)
          finished = true
          results[entry.id], errors[entry.id] = call.value, call.err
          if on_result then on_result(entry.id, call.value, call.err) end
        elseif call.request then
          running = true
        elseif call.retry_at then
          next_timer = next_timer and min(next_timer, call.retry_at) or call.retry_at
        end
      end
      if not finished and #active > 0 then
        local wait = next_timer and max(next_timer - core.now(), 0) or 1
        if yield then
          yield(min(wait, 0.005))
        elseif running then
          transport:drive(min(wait, 1))
        else
          -- Only retries are waiting: the sleep function is trusted, as in
          -- Call:wait, so the earliest of them is due once it returns.
          if wait > 0 then sleep(wait) end
          for _, entry in ipairs(active) do
            local at = entry.call.retry_at
            if at and at <= next_timer then entry.call.retry_at = core.now() end
          end
        end
      end
    end
  end)
  if not ok then
    for _, entry in ipairs(active) do entry.call:cancel() end
    error(raised, 0)
  end
  return results, errors
end

local function env_path(id)
  return "/v1/environments/" .. escape_segment(id)
end

--- client:create(params [, opts]) -> environment  or  nil, err
function Client:create(params, opts)
  check_client("create", self)
  local body = encode_body("create", environment_body("create", params, false))
  opts = check_options("create", opts, CALL_OPTIONS)
  return self:_call("create", "POST", "/v1/environments", body, opts)
end

--- client:retrieve(id [, opts]) -> environment  or  nil, err
function Client:retrieve(id, opts)
  check_client("retrieve", self)
  check_id("retrieve", id)
  opts = check_options("retrieve", opts, CALL_OPTIONS)
  return self:_call("retrieve", "GET", env_path(id), nil, opts)
end

--- client:update(id, params [, opts]) -> environment  or  nil, err
function Client:update(id, params, opts)
  check_client("update", self)
  check_id("update", id)
  local body = encode_body("update", environment_body("update", params, true))
  opts = check_options("update", opts, CALL_OPTIONS)
  return self:_call("update", "POST", env_path(id), body, opts)
end

--- client:delete(id [, opts]) -> { id =, type = "environment_deleted" }  or  nil, err
function Client:delete(id, opts)
  check_client("delete", self)
  check_id("delete", id)
  opts = check_options("delete", opts, CALL_OPTIONS)
  return self:_call("delete", "DELETE", env_path(id), nil, opts)
end

-- One page, with next_page as a string or nil.
local function fetch_page(self, where, query, opts)
  local page, err = self:_call(where, "GET", "/v1/environments" .. query, nil, opts)
  if not page then return nil, err end
  if type(page.data) ~= "table" then
    return nil, new_error("decode", { status = 200, attempts = 1,
      message = "a list answer without a 'data' array" })
  end
  if type(page.next_page) ~= "string" or page.next_page == "" then page.next_page = nil end
  return page
end

--- client:list([params [, opts]]) -> { data = { environment... }, next_page = cursor or nil }
--  or nil, err. params: limit (1-1000), include_archived (boolean), page (a
--  cursor from next_page).
function Client:list(params, opts)
  check_client("list", self)
  local query = list_query("list", params)
  opts = check_options("list", opts, CALL_OPTIONS)
  return fetch_page(self, "list", query, opts)
end

--- client:each([params [, opts]]) -> iterator over every environment, page
-- after page (fetched when needed). On a failure it gives false, err once
-- and then stops: `for env, err in client:each() do if not env then ... end end`.
function Client:each(params, opts)
  check_client("each", self)
  -- Raise now for bad params, options or missing credentials, not at the
  -- first page.
  list_query("each", params)
  opts = check_options("each", opts, CALL_OPTIONS)
  call_header_lines("each", private[self], opts, false)
  local base = {}
  for k, v in pairs(params or {}) do base[k] = v end
  local cursor = base.page ~= null and base.page or nil
  local items, i, done, fetched_with = nil, 0, false, nil
  return function()
    while not done do
      if items and i < #items then
        i = i + 1
        return items[i]
      end
      if items and not cursor then break end
      if items and cursor == fetched_with then   -- the same page again: it would never end
        done = true
        return false, new_error("decode", { status = 200, attempts = 1,
          message = "the API gave the page cursor it was asked for as the next one" })
      end
      base.page, fetched_with = cursor, cursor
      local page, err = fetch_page(self, "each", list_query("each", base), opts)
      if not page then
        done = true
        return false, err
      end
      items, i, cursor = page.data, 0, page.next_page
    end
    done = true
    return nil
  end
end

--- client:drive([wait]) -> number of requests still in flight.
-- Does the network work that is ready for every call of this client,
-- waiting up to `wait` seconds (default 0: never blocks) for some.
function Client:drive(wait)
  check_client("drive", self)
  if wait ~= nil and (type(wait) ~= "number" or not (wait >= 0)) then
    argerror("drive", "wait must be a non-negative number of seconds")
  end
  return private[self].transport:drive(wait or 0)
end

--- client:fds() -> sockets, timeout
-- For event loops that wait on sockets themselves (luv, cqueues, a game
-- engine): the sockets libcurl is waiting on, as { {fd =, read =, write =} },
-- and the seconds until it must be driven anyway (nil: no timer). Wait for
-- either, then call client:drive() and poll your calls.
function Client:fds()
  check_client("fds", self)
  return private[self].transport:fds()
end

--- client:close(): releases the connection now rather than at collection.
function Client:close()
  local state = private[self]
  if state then state.transport:close() end
end

-- Lua 5.4: `local client <close> = environments.new {...}` closes it at the
-- end of the scope.
Client.__close = Client.close

---------------------------------------------------------------------------
-- Module-level one-liners over a default client configured from the
-- environment variables.
---------------------------------------------------------------------------

local default_client

--- environments.default_client() -> the shared client the one-liners use.
function M.default_client()
  if not default_client then default_client = M.new() end
  return default_client
end

-- Each one-liner checks its arguments before the default client is made, so
-- a mistake raises the same error whatever the environment variables say.
function M.archive(id, opts)
  check_id("archive", id)
  return M.default_client():archive(id, opts)
end

function M.create(params, opts)
  environment_body("create", params, false)
  return M.default_client():create(params, opts)
end

function M.retrieve(id, opts)
  check_id("retrieve", id)
  return M.default_client():retrieve(id, opts)
end

function M.update(id, params, opts)
  check_id("update", id)
  environment_body("update", params, true)
  return M.default_client():update(id, params, opts)
end

function M.delete(id, opts)
  check_id("delete", id)
  return M.default_client():delete(id, opts)
end

function M.list(params, opts)
  list_query("list", params)
  return M.default_client():list(params, opts)
end

function M.each(params, opts)
  list_query("each", params)
  return M.default_client():each(params, opts)
end

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
  if s == nil or s == null then return nil end
  if type(s) ~= "string" then return nil, "expected an RFC 3339 string" end
  local y, mo, d, h, mi, sec, frac, zone =
    s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
  if not y then return nil, "not an RFC 3339 timestamp: " .. s end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or sec > 60 or frac == "." then
    return nil, "not an RFC 3339 timestamp: " .. s
  end
  local offset
  if zone == "Z" or zone == "z" then
    offset = 0
  else
    local sign, oh, om = zone:match("^([+-])(%d%d):(%d%d)$")
    if not sign then return nil, "not an RFC 3339 timestamp: " .. s end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "+" and 1 or -1)
  end
  local t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset
  if frac ~= "" then t = t + tonumber("0" .. frac) end
  return t
end

--- The time an environment was archived, in epoch seconds, or nil.
function M.archived_time(env)
  if not M.is_archived(env) then return nil end
  return M.parse_time(env.archived_at)
end

M._escape_segment = escape_segment   -- exposed for tests

--- environments.unwrap_webhook(body, headers, { key, tolerance, now })
-- -> event  or  nil, err: see anthropic/environments/webhook.lua.
M.unwrap_webhook = require("anthropic.environments.webhook").unwrap

return M
