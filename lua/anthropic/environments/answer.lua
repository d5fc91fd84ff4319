-- anthropic.environments.answer: how an HTTP answer becomes the call's
-- value or its error (the error object itself is in errors.lua).
local basics = require "anthropic.environments.basics"
local errors = require "anthropic.environments.errors"

local type, tostring, format = type, tostring, string.format
local null = basics.null
local new_error = errors.new

local M = {}

-- A raw body kept on an error (an HTML page from a proxy, say) is cut here.
local ERROR_BODY_MAX = 4096

local function cap(body)
  if #body > ERROR_BODY_MAX then return body:sub(1, ERROR_BODY_MAX) end
  return body
end

local function string_field(t, key)
  local v = type(t) == "table" and t[key] or nil
  if type(v) == "string" then return v end
  return nil
end

--- answer.headers(h) -> the headers of an answer as a table: a transport
-- may give those of a 2xx answer as the block they came in (a string),
-- read only when something needs them.
function M.headers(h)
  if type(h) == "string" then return basics.header_table(h) end
  return h
end

--- answer.interpret(status, headers, body) -> the decoded answer of a 2xx,
-- or nil and the error it stands for.
function M.interpret(status, headers, body, value, decode_err)
  -- The transport may have decoded the body already (value, or decode_err).
  if value == nil and decode_err == nil then value, decode_err = basics.decode(body) end
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

-- Lua 5.3 and 5.4 only: Debian's lua-cjson decodes every number as a float.
local tointeger = math.tointeger

--- answer.integers(names [, interpret]) -> an interpret function for a call
-- whose answer has whole-number fields: interpret (answer.interpret by
-- default), then each named top-level field that holds a whole float made a
-- Lua integer (on Lua 5.3 and 5.4; elsewhere, where numbers stay as they
-- are, interpret itself).
function M.integers(names, interpret)
  interpret = interpret or M.interpret
  if not tointeger then return interpret end
  return function(status, headers, body, value, decode_err)
    local t, err = interpret(status, headers, body, value, decode_err)
    if t == nil then return nil, err end
    for i = 1, #names do
      local v = t[names[i]]
      if type(v) == "number" then t[names[i]] = tointeger(v) or v end
    end
    return t
  end
end

--- answer.interpret_page(status, headers, body [, value, decode_err]) -> a
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
