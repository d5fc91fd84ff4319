#!/usr/bin/env lua5.3
--[[
A stateful fake of Anthropic's Environments API (paths under /v1), plus
control endpoints under /_fake for tests. See fake/README.md.

  lua5.3 fake/server.lua [--host 127.0.0.1] [--port 0] [--watch-pid PID]

Runs under lua5.3, lua5.1 and luajit (Debian ships lua-http for 5.1-5.3).
HTTP/1.1 is handled by lua-http over cqueues: every connection and every
request runs in its own coroutine, so sleeps (delays, stalls) never block
other clients.
]]

-- Debian ships two pure-Lua dependencies of lua-http (fifo, lpeg_patterns)
-- for Lua 5.1 and 5.2 only; under 5.3 use the 5.2 copies, searched last.
if _VERSION == "Lua 5.3" then
  package.path = package.path .. ";/usr/share/lua/5.2/?.lua;/usr/share/lua/5.2/?/init.lua"
end

local cqueues = require "cqueues"
local http_server = require "http.server"
local http_headers = require "http.headers"
local http_util = require "http.util"
local cjson = require "cjson"

local NULL = cjson.null          -- JSON null, in decoded bodies and stored data
local BETA = "managed-agents-2026-04-01"
local VERSIONS = { ["2023-06-01"] = true, ["2023-01-01"] = true }
local READ_TIMEOUT = 60          -- seconds to wait for a request's headers/body
local CHUNK = 64 * 1024          -- piece size for generated bodies

local function log(...)
  io.stderr:write("[fake] ", table.concat({ ... }), "\n")
end

------------------------------------------------------------------------------
-- JSON
--
-- cjson (2.1.0) decodes [] and {} to the same empty table and encodes empty
-- tables as {}. The fake must tell them apart (it rejects {} where the API
-- wants an array, and answers "apt":[]), so bodies are decoded by the small
-- strict decoder below, which tags arrays with ARRAY_MT. The encoder writes
-- tagged tables as arrays and every other table as an object (keys sorted,
-- for stable output); cjson escapes the strings and formats the numbers.
------------------------------------------------------------------------------
local ARRAY_MT = { __name = "json array" }

local function array(t)
  return setmetatable(t or {}, ARRAY_MT)
end

local function is_array(v)
  return type(v) == "table" and getmetatable(v) == ARRAY_MT
end

local function is_object(v)
  return type(v) == "table" and getmetatable(v) == nil
end

-- cjson escapes "/" as "\/"; undo that for readability. (A bare "/" never
-- occurs in its output, so every "\/" there is that escape.)
local function encode_string(s)
  return (cjson.encode(s):gsub("\\/", "/"))
end

local function encode_into(v, out)
  if type(v) == "table" then
    if getmetatable(v) == ARRAY_MT then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        encode_into(v[i], out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = encode_string(k) .. ":"
        encode_into(v[k], out)
      end
      out[#out + 1] = "}"
    end
  elseif v == nil or v == NULL then
    out[#out + 1] = "null"
  elseif type(v) == "boolean" then
    out[#out + 1] = tostring(v)
  elseif type(v) == "string" then
    out[#out + 1] = encode_string(v)
  else
    out[#out + 1] = cjson.encode(v)  -- number
  end
end

local function encode(v)
  local out = {}
  encode_into(v, out)
  return table.concat(out)
end

local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f",
                  n = "\n", r = "\r", t = "\t" }

local function utf8_char(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then
    return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
  end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 0x1000),
      0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return string.char(0xF0 + math.floor(cp / 0x40000),
    0x80 + math.floor(cp / 0x1000) % 0x40,
    0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

-- Strict JSON decoder: returns the value, or nil and a message.
local function decode(str)
  local pos, depth = 1, 0

  local function fail(msg)
    error({ json = msg .. " at byte " .. pos }, 0)
  end

  local function skip_ws()
    pos = str:find("[^ \t\r\n]", pos) or #str + 1
  end

  local function parse_string()
    local buf, i = {}, pos + 1
    while true do
      local j = str:find('[%z\1-\31"\\]', i)
      if not j then pos = #str + 1; fail("unterminated string") end
      buf[#buf + 1] = str:sub(i, j - 1)
      local c = str:sub(j, j)
      if c == '"' then
        pos = j + 1
        return table.concat(buf)
      elseif c ~= "\\" then
        pos = j; fail("control character in string")
      end
      local e = str:sub(j + 1, j + 1)
      if ESCAPES[e] then
        buf[#buf + 1] = ESCAPES[e]
        i = j + 2
      elseif e == "u" then
        local hex = str:match("^%x%x%x%x", j + 2)
        if not hex then pos = j; fail("invalid \\u escape") end
        local cp = tonumber(hex, 16)
        i = j + 6
        -- a high surrogate followed by a low one encodes one code point
        local lo = cp >= 0xD800 and cp <= 0xDBFF and str:match("^\\u(%x%x%x%x)", i)
        lo = lo and tonumber(lo, 16)
        if lo and lo >= 0xDC00 and lo <= 0xDFFF then
          cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
          i = i + 6
        end
        buf[#buf + 1] = utf8_char(cp)
      else
        pos = j; fail("invalid escape")
      end
    end
  end

  local function parse_number()
    local s, e = str:find("^-?%d+", pos)
    if not s then fail("unexpected character") end
    if str:find("^-?0%d", pos) then fail("leading zero in number") end
    local _, e2 = str:find("^%.%d+", e + 1)
    if e2 then e = e2 elseif str:sub(e + 1, e + 1) == "." then fail("bad number") end
    local _, e3 = str:find("^[eE][-+]?%d+", e + 1)
    if e3 then e = e3 elseif str:find("^[eE]", e + 1) then fail("bad number") end
    local n = tonumber(str:sub(pos, e))
    pos = e + 1
    return n
  end

  local parse_value

  local function parse_container(close, item)
    depth = depth + 1
    if depth > 500 then fail("nesting too deep") end
    pos = pos + 1
    skip_ws()
    if str:sub(pos, pos) == close then
      pos = pos + 1
    else
      while true do
        item()
        skip_ws()
        local c = str:sub(pos, pos)
        pos = pos + 1
        if c == close then break end
        if c ~= "," then pos = pos - 1; fail("expected ',' or '" .. close .. "'") end
        skip_ws()
      end
    end
    depth = depth - 1
  end

  function parse_value()
    skip_ws()
    local c = str:sub(pos, pos)
    if c == "{" then
      local obj = {}
      parse_container("}", function()
        if str:sub(pos, pos) ~= '"' then fail("expected a string key") end
        local k = parse_string()
        skip_ws()
        if str:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = parse_value()
      end)
      return obj
    elseif c == "[" then
      local arr = array()
      parse_container("]", function() arr[#arr + 1] = parse_value() end)
      return arr
    elseif c == '"' then
      return parse_string()
    elseif str:find("^true", pos) then
      pos = pos + 4; return true
    elseif str:find("^false", pos) then
      pos = pos + 5; return false
    elseif str:find("^null", pos) then
      pos = pos + 4; return NULL
    elseif c == "" then
      fail("unexpected end of input")
    end
    return parse_number()
  end

  local ok, result = pcall(function()
    local v = parse_value()
    skip_ws()
    if pos <= #str then fail("trailing characters") end
    return v
  end)
  if ok then return result end
  if type(result) == "table" then return nil, result.json end
  error(result, 0)
end

------------------------------------------------------------------------------
-- State
------------------------------------------------------------------------------
local function now()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

local function strings(...)
  return array({ ... })
end

local function seed_environments()
  return {
    { -- exactly the reference page's example
      id = "env_011CZkZ9X2dpNyB7HsEFoRfW",
      archived_at = NULL,
      config = {
        networking = {
          allow_mcp_servers = false,
          allow_package_managers = true,
          allowed_hosts = strings("api.example.com"),
          type = "limited",
        },
        packages = {
          apt = strings("string"), cargo = strings("string"),
          gem = strings("string"), go = strings("string"),
          npm = strings("string"), pip = strings("pandas", "numpy"),
          type = "packages",
        },
        type = "cloud",
      },
      created_at = "2026-03-15T10:00:00Z",
      description = "Python environment with data-analysis packages.",
      metadata = {},
      name = "python-data-analysis",
      type = "environment",
      updated_at = "2026-03-15T10:00:00Z",
      scope = "organization",
    },
    { -- self-hosted: no scope field, null description
      id = "env_selfhosted01",
      archived_at = NULL,
      config = { type = "self_hosted" },
      created_at = "2026-03-16T09:00:00Z",
      description = NULL,
      metadata = { owner = "platform-team" },
      name = "self-hosted-runner",
      type = "environment",
      updated_at = "2026-03-16T09:00:00Z",
    },
    { -- cloud, unrestricted networking, every package list empty
      id = "env_unrestricted01",
      archived_at = NULL,
      config = {
        networking = { type = "unrestricted" },
        packages = {
          apt = array(), cargo = array(), gem = array(), go = array(),
          npm = array(), pip = array(), type = "packages",
        },
        type = "cloud",
      },
      created_at = "2026-03-17T08:00:00Z",
      description = "Cloud environment with open networking and no packages.",
      metadata = {},
      name = "unrestricted-empty",
      type = "environment",
      updated_at = "2026-03-17T08:00:00Z",
      scope = "account",
    },
  }
end

-- Counters are never reset, so request and environment ids stay unique for
-- the whole life of the server (ids from one test never reappear in another).
local counters = { request = 0, env = 0, seq = 0 }

local state -- envs (id -> table), seq (id -> insertion number), requests, script, config

local function store_env(env)
  if not state.seq[env.id] then
    counters.seq = counters.seq + 1
    state.seq[env.id] = counters.seq
  end
  state.envs[env.id] = env
end

local function reset()
  state = { envs = {}, seq = {}, requests = {}, script = {}, config = {} }
  for _, env in ipairs(seed_environments()) do store_env(env) end
end
reset()

local function is_archived(env)
  return env.archived_at ~= nil and env.archived_at ~= NULL
end

------------------------------------------------------------------------------
-- Small helpers
------------------------------------------------------------------------------
local function percent_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function parse_query(q)
  local params = {}
  for pair in q:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    params[percent_decode((k:gsub("+", " ")))] = percent_decode((v:gsub("+", " ")))
  end
  return params
end

local function utf8_len(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function unhex(s)
  if #s % 2 ~= 0 or s:find("[^%x]") then return nil end
  return (s:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

-- The recorded request's first value for a header name (names are lower-case).
local function header(req, name)
  for _, kv in ipairs(req.headers) do
    if kv[1] == name then return kv[2] end
  end
end

------------------------------------------------------------------------------
-- Errors and responses
------------------------------------------------------------------------------
local ERROR_TYPES = {
  [400] = "invalid_request_error", [401] = "authentication_error",
  [402] = "billing_error", [403] = "permission_error",
  [404] = "not_found_error", [405] = "invalid_request_error",
  [408] = "timeout_error", [409] = "invalid_request_error",
  [413] = "request_too_large", [422] = "invalid_request_error",
  [429] = "rate_limit_error", [500] = "api_error", [504] = "timeout_error",
  [529] = "overloaded_error",
}

local function error_body(status, message, error_code, request_id)
  local err = {
    type = ERROR_TYPES[status] or (status >= 500 and "api_error" or "invalid_request_error"),
    message = message,
  }
  if error_code then err.details = { error_code = error_code } end
  return { type = "error", error = err, request_id = request_id }
end

-- What a proxy in front of the API answers with for 502/503.
local function proxy_page(status)
  local title = status == 502 and "502 Bad Gateway" or "503 Service Temporarily Unavailable"
  return "<html>\r\n<head><title>" .. title .. "</title></head>\r\n<body>\r\n<center><h1>"
    .. title .. "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
end

local function new_headers(status, list)
  local h = http_headers.new()
  h:append(":status", string.format("%d", status))
  for _, kv in ipairs(list or {}) do h:append(kv[1], kv[2]) end
  if not h:has("content-type") then h:append("content-type", "application/json") end
  return h
end

-- Writes a whole response. `headers` is a list of {name, value}.
local function send(stream, status, body, headers, chunked)
  local h = new_headers(status, headers)
  if status == 204 or status == 304 then  -- may not carry a body or length
    return stream:write_headers(h, true)
  end
  if not chunked then h:append("content-length", string.format("%d", #body)) end
  if (#body == 0 and not chunked) or stream.req_method == "HEAD" then
    return stream:write_headers(h, true)  -- a HEAD answer has headers only
  end
  local ok, err = stream:write_headers(h, false)
  if not ok then return nil, err end
  return stream:write_chunk(body, true)
end

local function send_json(stream, status, value)
  return send(stream, status, encode(value))
end

------------------------------------------------------------------------------
-- Validation (create / update)
--
-- Validators raise {invalid = message, code = error_code}; the API dispatcher
-- turns that into a 400 answer. null is accepted only where the API gives it
-- a meaning (description).
------------------------------------------------------------------------------
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

------------------------------------------------------------------------------
-- API handlers: each returns status, value to encode
------------------------------------------------------------------------------
local function not_found(req, id)
  return 404, error_body(404, "Environment '" .. id .. "' not found",
    "environment_not_found", req.request_id)
end

local function retrieve_env(req, id)
  if not state.envs[id] then return not_found(req, id) end
  return 200, state.envs[id]
end

local function create_env(_, body)
  if not is_object(body) then invalid("request body must be a JSON object") end
  check_fields(body, { name = 1, config = 1, description = 1, metadata = 1, scope = 1 }, "")
  if body.name == nil then invalid("name: field required") end
  local metadata = {}
  if body.metadata ~= nil then
    check_metadata_object(body.metadata)
    for k, v in pairs(body.metadata) do
      if type(v) ~= "string" then
        invalid("metadata." .. k .. ": expected a string", "invalid_metadata")
      end
      metadata[k] = v
    end
  end
  local env = {
    type = "environment",
    name = check_name(body.name),
    description = body.description == nil and NULL or check_description(body.description),
    config = body.config == nil and check_config({ type = "cloud" }) or check_config(body.config),
    metadata = metadata,
    scope = body.scope == nil and "organization" or check_scope(body.scope),
    archived_at = NULL,
  }
  counters.env = counters.env + 1
  env.id = "env_fake_" .. counters.env
  env.created_at = now()
  env.updated_at = env.created_at
  store_env(env)
  return 200, env
end

local function update_env(req, id, body)
  local env = state.envs[id]
  if not env then return not_found(req, id) end
  if not is_object(body) then invalid("request body must be a JSON object") end
  if is_archived(env) then
    invalid("Environment '" .. id .. "' is archived and cannot be updated", "environment_archived")
  end
  check_fields(body, { name = 1, config = 1, description = 1, metadata = 1, scope = 1 }, "")
  -- Validate everything before changing anything.
  local changes = {}
  if body.name ~= nil then changes.name = check_name(body.name) end
  if body.description ~= nil then changes.description = check_description(body.description) end
  if body.scope ~= nil then changes.scope = check_scope(body.scope) end
  if body.config ~= nil then changes.config = check_config(body.config, env.config) end
  if body.metadata ~= nil then
    check_metadata_object(body.metadata)
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
  return 200, env
end

local function archive_env(req, id)
  local env = state.envs[id]
  if not env then return not_found(req, id) end
  if not is_archived(env) then  -- idempotent: the first archived_at stays
    env.archived_at = now()
    env.updated_at = env.archived_at
  end
  return 200, env
end

local function delete_env(req, id)
  if not state.envs[id] then return not_found(req, id) end
  state.envs[id], state.seq[id] = nil, nil
  return 200, { id = id, type = "environment_deleted" }
end

-- Listing order: newest first by created_at, ties broken by insertion order
-- (later first). A cursor names the last item of the previous page by its
-- (created_at, insertion number), so pages stay stable while items change.
local function sort_key(id)
  return tostring(state.envs[id].created_at or ""), state.seq[id]
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
  for id, env in pairs(state.envs) do
    if include_archived or not is_archived(env) then
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
  for i = 1, math.min(limit, #ids) do data[i] = state.envs[ids[i]] end
  local next_page = NULL
  if #ids > limit then
    local k, s = sort_key(ids[limit])
    next_page = "page_" .. hex(k .. "|" .. s)
  end
  return 200, { data = data, next_page = next_page }
end

-- Routes a /v1 request: returns status, value. Checks come in the API's
-- order: authentication, version, beta, route, body.
local function handle_api(req)
  local key, auth = header(req, "x-api-key"), header(req, "authorization")
  if (key == nil or key == "") and not (auth and auth:find("^[Bb]earer%s+%S")) then
    return 401, error_body(401, "x-api-key header is required", nil, req.request_id)
  end
  local version = header(req, "anthropic-version")
  if not version then
    return 400, error_body(400, "anthropic-version header is required", nil, req.request_id)
  elseif not VERSIONS[version] then
    return 400, error_body(400, "anthropic-version: unsupported version '" .. version .. "'",
      nil, req.request_id)
  end
  local has_beta = false
  for _, kv in ipairs(req.headers) do
    if kv[1] == "anthropic-beta" then
      for b in kv[2]:gmatch("[^,]+") do
        if b:match("^%s*(.-)%s*$") == BETA then has_beta = true end
      end
    end
  end
  if not has_beta then
    return 400, error_body(400, "anthropic-beta header must include " .. BETA, nil,
      req.request_id)
  end

  -- route
  local m, handler, id = req.method, nil, nil
  local rest = req.path:match("^/v1/environments(.*)$")
  local allowed
  if rest == "" then
    allowed = "GET, POST"
    handler = (m == "GET" and list_envs) or (m == "POST" and create_env)
  elseif rest and rest:sub(1, 1) == "/" then
    local raw_id, tail = rest:match("^/([^/]*)(.*)$")
    id = percent_decode(raw_id)
    if tail == "" then
      allowed = "GET, POST, DELETE"
      handler = (m == "GET" and retrieve_env) or (m == "POST" and update_env)
        or (m == "DELETE" and delete_env)
    elseif tail == "/archive" then
      allowed = "POST"
      handler = m == "POST" and archive_env
    end
  end
  if not allowed then
    return 404, error_body(404, "Not found: " .. m .. " " .. req.path, nil, req.request_id)
  elseif not handler then
    return 405, error_body(405, "Method " .. m .. " not allowed for " .. req.path, nil,
      req.request_id), { { "allow", allowed } }
  end

  -- body: any non-empty body must be JSON
  local body = {}
  if req.body:find("%S") then
    local err
    body, err = decode(req.body)
    if body == nil then
      return 400, error_body(400, "Invalid JSON in request body: " .. err, nil, req.request_id)
    end
  end

  local ok, status, value = pcall(function()
    if id then return handler(req, id, body) end
    return handler(req, body)
  end)
  if ok then return status, value end
  if type(status) == "table" and status.invalid then
    return 400, error_body(400, status.invalid, status.code, req.request_id)
  end
  error(status, 0)
end

------------------------------------------------------------------------------
-- Scripted responses and faults
------------------------------------------------------------------------------
local FAULTS = { close = true, reset = true, partial_body = true, stall = true, stall_body = true }

-- luasocket, if present, can set SO_LINGER=0 on the connection's descriptor
-- (cqueues has no such option) so that closing it sends a TCP RST.
local has_luasocket, luasocket = pcall(require, "socket")

local function set_linger_zero(sock)
  if not has_luasocket then return false end
  local t = luasocket.tcp()
  t:close()                   -- drop its own descriptor; we only want the object
  t:setfd(sock:pollfd())      -- borrow the connection's descriptor ...
  local ok = t:setoption("linger", { on = true, timeout = 0 })
  t:setfd(-1)                 -- ... and give it back, so only cqueues closes it
  return ok == 1 or ok == true
end

-- Ends the connection now, whatever was (or was not) written on it.
local function drop(stream, rst)
  local sock = stream.connection:take_socket()
  if not sock then return end
  if rst and not set_linger_zero(sock) then log("reset: cannot set SO_LINGER, closing instead") end
  cqueues.cancel(sock)  -- wake coroutines still polling it before it goes away
  sock:close()
end

-- Pieces of a generated body: body_size N gives a JSON object of exactly N
-- bytes; nested N gives N '[' then N ']'.
local function generated_pieces(item)
  local pieces = {}
  local function add(c, n)
    local full = string.rep(c, math.min(n, CHUNK))
    while n > 0 do
      pieces[#pieces + 1] = n >= CHUNK and full or string.rep(c, n)
      n = n - CHUNK
    end
  end
  if item.nested then
    local n = math.floor(item.nested)
    add("[", n)
    add("]", n)
  else
    local n = math.floor(item.body_size)
    local head, tail = '{"id":"env_x","pad":"', '"}'
    if n >= #head + #tail then
      pieces[1] = head
      add("a", n - #head - #tail)
      pieces[#pieces + 1] = tail
    elseif n >= 2 then
      pieces[1] = "{}" .. string.rep(" ", n - 2)  -- whitespace after JSON is allowed
    elseif n == 1 then
      pieces[1] = "0"
    end
  end
  return pieces
end

local function play(stream, req, item)
  if item.delay then cqueues.sleep(item.delay) end
  if item.pass then
    local status, value, extra = handle_api(req)
    local headers = { { "request-id", req.request_id } }
    for _, kv in ipairs(extra or {}) do headers[#headers + 1] = kv end
    return send(stream, status, encode(value), headers)
  end
  if item.fault == "close" or item.fault == "reset" then
    return drop(stream, item.fault == "reset")
  elseif item.fault == "stall" then
    cqueues.sleep(item.seconds or 30)
    return drop(stream)
  end

  local status = item.status or 200
  local headers = {}
  if not item.no_request_id then headers[1] = { "request-id", req.request_id } end
  local body = item.body
  if body == nil and item.json ~= nil then
    body = encode(item.json)
  elseif body == nil and status >= 400 and not (item.fault or item.body_size or item.nested) then
    if status == 502 or status == 503 then
      body = proxy_page(status)
      headers[#headers + 1] = { "content-type", "text/html" }
    else
      body = encode(error_body(status, "Scripted " .. status .. " error", nil,
        not item.no_request_id and req.request_id or nil))
    end
  end
  -- the item's own headers come last and override defaults; the framing
  -- headers are lua-http's business
  local custom = {}
  for name, value in pairs(item.headers or {}) do
    name = name:lower()
    if name ~= "content-length" and name ~= "transfer-encoding" then
      custom[name] = tostring(value)
    end
  end
  local list = {}
  for _, kv in ipairs(headers) do
    if not custom[kv[1]] then list[#list + 1] = kv end
  end
  for name, value in pairs(custom) do list[#list + 1] = { name, value } end

  if item.fault == "partial_body" or item.fault == "stall_body" then
    body = body or ""
    local promised = item.content_length or math.max(1000, #body + 1)
    local h = new_headers(status, list)
    h:append("content-length", string.format("%d", promised))
    if stream:write_headers(h, false) and #body > 0 then stream:write_chunk(body, false) end
    if item.fault == "stall_body" then cqueues.sleep(item.seconds or 30) end
    return drop(stream, item.reset)
  end

  if item.body_size or item.nested then
    local pieces = generated_pieces(item)
    local h = new_headers(status, list)
    if not item.chunked then
      local total = 0
      for _, p in ipairs(pieces) do total = total + #p end
      h:append("content-length", string.format("%d", total))
    end
    if not stream:write_headers(h, false) then return drop(stream) end
    for _, p in ipairs(pieces) do
      if not stream:write_chunk(p, false) then return drop(stream) end
    end
    return stream:write_chunk("", true)
  end

  return send(stream, status, body or "", list, item.chunked)
end

local function check_script_item(item)
  if not is_object(item) then return "each response must be an object" end
  if item.fault ~= nil and not FAULTS[item.fault] then
    return "unknown fault '" .. tostring(item.fault) .. "'"
  end
  if item.status ~= nil and (type(item.status) ~= "number" or item.status < 200
      or item.status > 599 or item.status % 1 ~= 0) then
    return "status must be an integer from 200 to 599"
  end
  for _, k in ipairs({ "delay", "seconds", "content_length", "body_size", "nested" }) do
    if item[k] ~= nil and (type(item[k]) ~= "number" or item[k] < 0) then
      return k .. " must be a non-negative number"
    end
  end
  for _, k in ipairs({ "body", "path", "method" }) do
    if item[k] ~= nil and type(item[k]) ~= "string" then return k .. " must be a string" end
  end
  if item.headers ~= nil and not is_object(item.headers) then return "headers must be an object" end
end

------------------------------------------------------------------------------
-- Request entry points
------------------------------------------------------------------------------
local function take_script_item(req)
  for i, item in ipairs(state.script) do
    if (item.path == nil or item.path == req.path)
        and (item.method == nil or item.method == req.method) then
      table.remove(state.script, i)
      return item
    end
  end
end

local function api_request(stream, req)
  counters.request = counters.request + 1
  req.request_id = "req_fake_" .. counters.request
  if state.config.record ~= false then
    state.requests[#state.requests + 1] = req
  end
  local item = take_script_item(req)
  local delay_ms = state.config.delay_ms
  if delay_ms and delay_ms > 0 then cqueues.sleep(delay_ms / 1000) end
  if item then return play(stream, req, item) end

  local status, value, extra = handle_api(req)
  local headers = { { "request-id", req.request_id } }
  for _, kv in ipairs(extra or {}) do headers[#headers + 1] = kv end
  return send(stream, status, encode(value), headers)
end

local function control_error(stream, status, message)
  return send_json(stream, status, { error = message })
end

local function control_request(stream, req)
  local m, path = req.method, req.path
  local body
  if req.body:find("%S") then
    local err
    body, err = decode(req.body)
    if body == nil then return control_error(stream, 400, "invalid JSON: " .. err) end
  end

  if path == "/_fake/health" and m == "GET" then
    return send_json(stream, 200, { ok = true })
  elseif path == "/_fake/reset" and m == "POST" then
    reset()
    return send_json(stream, 200, { ok = true })
  elseif path == "/_fake/requests" and m == "GET" then
    local list = array()
    for i, r in ipairs(state.requests) do
      local headers = array()
      for j, kv in ipairs(r.headers) do headers[j] = array({ kv[1], kv[2] }) end
      list[i] = { method = r.method, path = r.path, query = r.query, headers = headers,
                  body = r.body, request_id = r.request_id, connection = r.connection }
    end
    return send_json(stream, 200, list)
  elseif path == "/_fake/config" and m == "POST" then
    body = body or {}
    if not is_object(body) then return control_error(stream, 400, "expected an object") end
    if body.delay_ms ~= nil and (type(body.delay_ms) ~= "number" or body.delay_ms < 0) then
      return control_error(stream, 400, "delay_ms must be a non-negative number")
    end
    if body.record ~= nil and type(body.record) ~= "boolean" then
      return control_error(stream, 400, "record must be a boolean")
    end
    state.config = { delay_ms = body.delay_ms, record = body.record }
    return send_json(stream, 200, { ok = true })
  elseif path == "/_fake/script" and m == "POST" then
    local items = type(body) == "table" and body.responses
    -- an empty Lua table encoded by cjson arrives as {}: accept it as []
    if type(items) ~= "table" or (not is_array(items) and next(items) ~= nil) then
      return control_error(stream, 400, 'expected {"responses": [...]}')
    end
    for i, item in ipairs(items) do
      local err = check_script_item(item)
      if err then return control_error(stream, 400, "responses[" .. i .. "]: " .. err) end
    end
    for _, item in ipairs(items) do state.script[#state.script + 1] = item end
    return send_json(stream, 200, { ok = true, pending = #state.script })
  elseif path == "/_fake/script" and m == "GET" then
    return send_json(stream, 200, { pending = #state.script })
  end

  local raw_id = path:match("^/_fake/environments/(.+)$")
  if raw_id then
    local id = percent_decode(raw_id)
    if m == "GET" then
      if not state.envs[id] then return control_error(stream, 404, "no environment " .. id) end
      return send_json(stream, 200, state.envs[id])
    elseif m == "PUT" then
      if not is_object(body) then return control_error(stream, 400, "expected an environment object") end
      body.id = body.id == nil and id or body.id
      if body.id ~= id then return control_error(stream, 400, "id in body differs from path") end
      store_env(body)
      return send_json(stream, 200, body)
    end
    return control_error(stream, 405, "method not allowed")
  end
  return control_error(stream, 404, "unknown control endpoint " .. m .. " " .. path)
end

-- For a request that could not be read (malformed, timed out, hung up).
-- lua-http's own clean-up can loop forever on some of these (e.g. after an
-- invalid Content-Length), so answer 400 while a status line can still be
-- written and close the connection ourselves.
local function reject(stream)
  if stream.state ~= "idle" and stream.body_write_type == nil and stream.connection.socket then
    http_util.yieldable_pcall(send, stream, 400,
      encode(error_body(400, "Malformed HTTP request")))
  end
  drop(stream)
end

-- Reads one request and answers it.
local function serve(stream)
  local headers = stream:get_headers(READ_TIMEOUT)
  if not headers then return reject(stream) end
  local target = headers:get(":path") or ""
  local path, query = target:match("^([^?]*)%??(.*)$")
  local req = { method = headers:get(":method"), path = path, query = query, headers = {} }
  -- The client's port names the TCP connection, so tests can see reuse.
  local _, _, peer_port = stream.connection:peername()
  req.connection = peer_port
  -- arrival order is kept; lua-http turns Host into the :authority pseudo-header
  for name, value in headers:each() do
    if name == ":authority" then name = "host" end
    if name:sub(1, 1) ~= ":" then req.headers[#req.headers + 1] = { name, value } end
  end
  if header(req, "expect") == "100-continue" and stream.peer_version ~= 1.0 then
    stream:write_continue()
  end
  req.body = stream:get_body_as_string(READ_TIMEOUT)
  if not req.body then return reject(stream) end
  stream.fake_req = req  -- for the error report in onstream

  if path == "/_fake" or path:sub(1, 7) == "/_fake/" then
    return control_request(stream, req)
  end
  return api_request(stream, req)
end

-- lua-http calls this in a fresh coroutine for every request.
local function onstream(_, stream)
  stream.use_zlib = false  -- never gzip-encode: bodies go out byte for byte
  local ok, err = http_util.yieldable_pcall(serve, stream)
  if ok then return end
  local req = stream.fake_req or {}
  log("error handling ", tostring(req.method), " ", tostring(req.path), ": ", tostring(err))
  -- Answer 500 if nothing has been written yet (body_write_type is lua-http's
  -- record of having sent headers), then make sure the connection goes away
  -- unless the exchange finished cleanly.
  if stream.state ~= "idle" and stream.body_write_type == nil and stream.connection.socket then
    http_util.yieldable_pcall(send, stream, 500,
      encode(error_body(500, "Internal error in the fake server", nil, req.request_id)),
      req.request_id and { { "request-id", req.request_id } } or {})
  end
  if stream.state ~= "closed" then drop(stream) end
end

------------------------------------------------------------------------------
-- Main
------------------------------------------------------------------------------
local function parse_args(args)
  local opts = { host = "127.0.0.1", port = 0 }
  local i = 1
  while i <= #args do
    local a, v = args[i], args[i + 1]
    if a == "--host" and v then opts.host = v
    elseif a == "--port" and v and v:match("^%d+$") then opts.port = tonumber(v)
    elseif a == "--watch-pid" and v and v:match("^%d+$") then opts.watch_pid = v
    elseif a == "--tls-cert" and v then opts.tls_cert = v
    elseif a == "--tls-key" and v then opts.tls_key = v
    else
      io.stderr:write("usage: fake/server.lua [--host 127.0.0.1] [--port 0] [--watch-pid PID]"
        .. " [--tls-cert PEM --tls-key PEM]\n")
      os.exit(2)
    end
    i = i + 2
  end
  if not (opts.host == "localhost" or opts.host == "::1" or opts.host:match("^127%.%d+%.%d+%.%d+$")) then
    io.stderr:write("fake/server.lua: refusing to bind non-loopback host ", opts.host, "\n")
    os.exit(2)
  end
  return opts
end

-- True while the process exists and is not a zombie.
local function process_alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local stat = f:read("*a") or ""
  f:close()
  local st = stat:match("^%d+ %(.*%) (%a)")
  return st ~= nil and st ~= "Z" and st ~= "X"
end

local function own_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("*l"):match("^(%d+)")
  f:close()
  return pid
end

-- A TLS context from PEM files (luaossl, which lua-http itself uses).
local function tls_context(cert_file, key_file)
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
  end
  local ctx = require("openssl.ssl.context").new("TLS", true)
  ctx:setCertificate(require("openssl.x509").new(read(cert_file)))
  ctx:setPrivateKey(require("openssl.pkey").new(read(key_file)))
  return ctx
end

local function main()
  local opts = parse_args(arg)
  local tls = opts.tls_cert ~= nil and opts.tls_key ~= nil
  local cq = cqueues.new()
  local server = assert(http_server.listen {
    cq = cq,
    host = opts.host,
    port = opts.port,
    reuseaddr = true,
    tls = tls,
    ctx = tls and tls_context(opts.tls_cert, opts.tls_key) or nil,
    version = 1.1,            -- the faults work on HTTP/1 connections
    intra_stream_timeout = 30, -- idle keep-alive connections are closed after this
    onstream = onstream,
    onerror = function(_, context, op, err)
      log(tostring(op), " error: ", tostring(err), " (", tostring(context), ")")
    end,
  })
  assert(server:listen())
  local _, _, port = server:localname()
  io.stdout:write(string.format("listening %s %d %s\n", opts.host, port, own_pid()))
  io.stdout:flush()

  if opts.watch_pid then
    cq:wrap(function()
      while process_alive(opts.watch_pid) do cqueues.sleep(0.5) end
      log("watched process ", opts.watch_pid, " is gone; exiting")
      os.exit(0)
    end)
  end

  while true do
    local ok, err = cq:loop()
    if ok then break end
    log("event loop error: ", tostring(err))  -- the failing coroutine is dropped
  end
end

main()
