-- anthropic.environments.errors: the error object. Network, API and decode
-- failures come back from every call as nil, err: a table with `kind` and
-- the fields of its kind (see docs/reference.md), whose tostring never
-- shows a credential. How an answer becomes a value or an error is in
-- answer.lua.

local type, tostring, pairs, ipairs, setmetatable, getmetatable =
      type, tostring, pairs, ipairs, setmetatable, getmetatable
local concat, format = table.concat, string.format

local M = {}

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

return M
