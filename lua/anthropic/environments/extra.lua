-- anthropic.environments.extra: the per-call options that send what this
-- library does not know yet (the API is a beta): extra_body, extra_query,
-- and the checks of header tables (headers and extra_headers). The checkers
-- run in options.check, so a mistake raises before anything is sent; the
-- merges run in client:_prepare, the one path every call goes through.
--
--   extra_body   a table of top-level JSON fields, merged shallowly into the
--                call's body (a field given here replaces the call's own);
--                only on POST calls, and a POST without a body gets one
--   extra_query  a table of name -> string, number or boolean, added to the
--                query string percent-encoded, names sorted; a name the call
--                sends itself is replaced
--   headers, extra_headers
--                name -> value; the headers that frame the request
--                (content-length, content-type, host, ...) are the
--                library's and refused
local basics = require "anthropic.environments.basics"
local check = require "anthropic.environments.check"
check.internal()

local type, next, ipairs, tostring, format, floor, sort, concat =
      type, next, ipairs, tostring, string.format, math.floor, table.sort, table.concat
local raw_copy, is_finite = check.raw_copy, check.is_finite
local getmetatable = debug.getmetatable   -- raw, as the encoder reads it
local argerror, escape = check.argerror, check.escape_segment

local M = {
  MAX_BODY = 1024 * 1024,     -- bytes of extra_body, encoded
  MAX_ENTRIES = 100,          -- entries of extra_query, headers, extra_headers
  MAX_NAME = 256,             -- bytes of a query parameter or header name
  MAX_VALUE = 8192,           -- bytes of a query parameter or header value
}

-- Header names the library sets itself (or that frame the request, which
-- only the transport may describe): a user value would desynchronise the
-- body or the connection.
M.OWNED_HEADERS = {
  ["content-length"] = true, ["content-type"] = true, ["transfer-encoding"] = true,
  host = true, connection = true, ["keep-alive"] = true, ["proxy-connection"] = true,
  te = true, trailer = true, upgrade = true, expect = true,
}

local function count_entries(where, name, t)
  local n = 0
  for _ in next, t do
    n = n + 1
    if n > M.MAX_ENTRIES then
      argerror(where, format("option '%s' has more than %d entries", name, M.MAX_ENTRIES))
    end
  end
end

--- extra.header_table(where, name, value) -> a raw copy of a table of
-- header names to values, checked: valid names (at most MAX_NAME bytes),
-- values not empty and without control characters (at most MAX_VALUE bytes), none of
-- OWNED_HEADERS, at most MAX_ENTRIES of them.
function M.header_table(where, name, value)
  if type(value) ~= "table" then
    argerror(where, format("option '%s' must be a table of header names to values", name))
  end
  count_entries(where, name, value)
  local copy = raw_copy(value)
  for k, v in next, copy do
    if type(k) ~= "string" or not k:find("^[%w!#$%%&'*+%-.^_`|~]+$") then
      argerror(where, format("header name %s is not a valid HTTP header name", tostring(k)))
    end
    if #k > M.MAX_NAME then
      argerror(where, format("header name '%s...' is longer than %d bytes", k:sub(1, 32), M.MAX_NAME))
    end
    if M.OWNED_HEADERS[k:lower()] then
      argerror(where, format("header '%s' is set by the library and cannot be given", k))
    end
    check.header_value(where, format("header '%s'", k), v)
    if #v > M.MAX_VALUE then
      argerror(where, format("header '%s' is longer than %d bytes", k, M.MAX_VALUE))
    end
  end
  return copy
end

-- A deep raw copy of a value the encoder accepted (so acyclic and of
-- bounded depth), keeping the array markers: nothing the caller changes
-- later reaches the request.
local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local copy = {}
  for k, x in next, v do copy[k] = deep_copy(x) end
  local mt = getmetatable(v)
  if mt ~= nil then setmetatable(copy, mt) end
  return copy
end

--- extra.body(where, name, value) -> a private deep copy of extra_body:
-- a table of string keys to values the JSON encoder takes, at most
-- MAX_BODY bytes encoded.
function M.body(where, name, value)
  if type(value) ~= "table" or getmetatable(value) == basics.array_mt then
    argerror(where, format("option '%s' must be a table of field names to JSON values (got %s)",
      name, type(value)))
  end
  for k in next, value do
    if type(k) ~= "string" then
      argerror(where, format("option '%s' must have string keys (got a %s key)", name, type(k)))
    end
  end
  -- The encoder stops at the cap, however much text the value stands for.
  local json, why = basics.encode(value, M.MAX_BODY)
  if not json and not why:find("JSON text would be over", 1, true) then
    argerror(where, format("option '%s' cannot be sent as JSON: %s", name, tostring(why)))
  end
  if not json then
    argerror(where, format("option '%s' is larger than %d bytes as JSON", name, M.MAX_BODY))
  end
  return deep_copy(value)
end

-- A query value as text.
local function query_value(where, name, k, v)
  local tv = type(v)
  if tv == "boolean" then return tostring(v) end
  if tv == "number" then
    if not is_finite(v) then
      argerror(where, format("%s['%s'] must be a finite number", name, k))
    end
    if v == floor(v) and v > -2^53 and v < 2^53 then return format("%d", v) end
    return format("%.17g", v)
  end
  if tv ~= "string" then
    argerror(where, format("%s['%s'] must be a string, number or boolean (got %s)", name, k, tv))
  end
  if v:find("[%z\1-\31\127]") then
    argerror(where, format("%s['%s'] must not contain control characters (CR, LF, NUL, ...)", name, k))
  end
  if #v > M.MAX_VALUE then
    argerror(where, format("%s['%s'] is longer than %d bytes", name, k, M.MAX_VALUE))
  end
  return v
end

--- extra.query(where, name, value) -> a checked raw copy of extra_query
-- (checking it again gives the same).
function M.query(where, name, value)
  if type(value) ~= "table" then
    argerror(where, format("option '%s' must be a table of parameter names to values (got %s)",
      name, type(value)))
  end
  count_entries(where, name, value)
  local copy = {}
  for k, v in next, value do
    if type(k) ~= "string" or k == "" or k:find("[%z\1-\31\127]") or #k > M.MAX_NAME then
      argerror(where, format("option '%s' has an invalid parameter name %s (a non-empty string "
        .. "of at most %d bytes, without control characters)", name,
        type(k) == "string" and format("'%s'", k:sub(1, 32)) or tostring(k), M.MAX_NAME))
    end
    query_value(where, name, k, v)
    copy[k] = v
  end
  return copy
end

--- extra.add_query(path, extra) -> path with the checked extra_query: the
-- parameters of path whose names extra gives are dropped, then extra's are
-- appended, percent-encoded, in name order.
function M.add_query(path, extra)
  local names = {}
  for k in next, extra do names[#names + 1] = k end
  if #names == 0 then return path end
  sort(names)
  local replaced, added = {}, {}
  for i, k in ipairs(names) do
    local encoded = escape(k)
    replaced[encoded] = true
    added[i] = encoded .. "=" .. escape(query_value("add_query", "extra_query", k, extra[k]))
  end
  local base, query = path:match("^([^?]*)%?(.*)$")
  local parts = {}
  if base then
    for part in query:gmatch("[^&]+") do
      if not replaced[part:match("^[^=]*")] then parts[#parts + 1] = part end
    end
  else
    base = path
  end
  for i = 1, #added do parts[#parts + 1] = added[i] end
  return base .. "?" .. concat(parts, "&")
end

--- extra.merge_body(body, extra) -> a new table: body's fields (body may be
-- nil), then extra's over them.
function M.merge_body(body, extra)
  local merged = body and raw_copy(body) or {}
  for k, v in next, extra do merged[k] = v end
  return merged
end

return M
