-- anthropic.environments.errors: network, API and decode failures, which
-- every call returns as nil, err. An error is a table with `kind` and the
-- fields of its kind (see docs/reference.md), whose tostring never shows a
-- credential.
local core = require "anthropic.environments.core"

local type, tostring, pairs, ipairs, setmetatable, getmetatable =
      type, tostring, pairs, ipairs, setmetatable, getmetatable
local concat, format = table.concat, string.format
local null = core.null

local M = {}

-- A raw body kept on an error (an HTML page from a proxy, say) is cut here.
local ERROR_BODY_MAX = 4096

local Error = {}
M.Error = Error
Error.__index = Error

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

--- errors.is_error(v): true if v is an error returned by this library.
function M.is_error(v) return getmetatable(v) == Error end

--- errors.new(kind, fields) -> fields, made an error of that kind.
local function new_error(kind, fields)
  fields.kind = kind
  return setmetatable(fields, Error)
end
M.new = new_error

local function cap(body)
  if #body > ERROR_BODY_MAX then return body:sub(1, ERROR_BODY_MAX) end
  return body
end

local function string_field(t, key)
  local v = type(t) == "table" and t[key] or nil
  if type(v) == "string" then return v end
  return nil
end

--- errors.headers(h) -> the headers of an answer as a table: a transport
-- may give those of a 2xx answer as the block they came in (a string),
-- read only when something needs them.
function M.headers(h)
  if type(h) == "string" then return core.header_table(h) end
  return h
end

--- errors.interpret(status, headers, body) -> the decoded answer of a 2xx,
-- or nil and the error it stands for.
function M.interpret(status, headers, body, value, decode_err)
  -- The transport may have decoded the body already (value, or decode_err).
  if value == nil and decode_err == nil then value, decode_err = core.decode(body) end
  if status >= 200 and status < 300 then
    -- Debian's lua-cjson gives arrays and objects alike as plain tables.
    if type(value) == "table" and body:find("^%s*{") then return value end
  end
  headers = M.headers(headers)
  local request_id = headers["request-id"]
  if status >= 200 and status < 300 then
    local kind_of = value == null and "null" or (type(value) == "table" and "an array") or type(value)
    return nil, new_error("decode", {
      status = status, request_id = request_id, headers = headers, body = cap(body),
      message = value == nil and ("invalid JSON in the answer: " .. tostring(decode_err))
                or ("expected a JSON object, got " .. kind_of),
    })
  end
  local decoded = value
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

local function scrub(s, secrets)
  for _, secret in ipairs(secrets) do
    local i, j = s:find(secret, 1, true)
    while i do
      s = s:sub(1, i - 1) .. "[redacted]" .. s:sub(j + 1)
      i, j = s:find(secret, i + 10, true)
    end
  end
  return s
end

--- errors.redact(err, secrets) -> err with every occurrence of each secret
-- (a credential the request carried) replaced by "[redacted]" in all of its
-- string fields and header values: an error page that echoes the request
-- back cannot hand the key to whoever logs the error.
function M.redact(err, secrets)
  if #secrets == 0 then return err end
  for k, v in pairs(err) do
    if type(v) == "string" then err[k] = scrub(v, secrets) end
  end
  if type(err.headers) == "table" then
    for name, v in pairs(err.headers) do
      if type(v) == "string" then err.headers[name] = scrub(v, secrets) end
    end
  end
  return err
end

--- errors.interpret_page(status, headers, body [, value, decode_err]) -> a
-- page of a list call, { data = {...}, next_page = cursor or nil }, or nil
-- and a decode error (an answer without a data array, or with an element
-- that is not an object). Serves every list call.
function M.interpret_page(status, headers, body, value, decode_err)
  local page, err = M.interpret(status, headers, body, value, decode_err)
  if not page then return nil, err end
  local data = page.data
  local bad
  if type(data) ~= "table" then
    bad = "a list answer without a 'data' array"
  else
    for i = 1, #data do
      if type(data[i]) ~= "table" then
        bad = format("a list answer whose data[%d] is %s, not an object",
          i, data[i] == null and "null" or type(data[i]))
        break
      end
    end
  end
  if bad then
    headers = M.headers(headers)
    return nil, new_error("decode", { status = status, headers = headers,
      request_id = headers["request-id"], message = bad })
  end
  if type(page.next_page) ~= "string" or page.next_page == "" then page.next_page = nil end
  return page
end

return M
