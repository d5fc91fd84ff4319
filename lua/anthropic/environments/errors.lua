-- anthropic.environments.errors: the error object. Network, API and decode
-- failures come back from every call as nil, err: a table with `kind` and
-- the fields of its kind (see docs/reference.md), whose tostring never
-- shows a credential. How an answer becomes a value or an error is in
-- answer.lua.

local retry = require "anthropic.environments.retry"

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
  if type(e.reason) == "string" then parts[#parts + 1] = "(" .. e.reason .. ")" end
  local s = concat(parts, " ")
  if e.message then s = s .. ": " .. e.message end
  if e.request_id then s = s .. " [request-id " .. e.request_id .. "]" end
  if e.attempts and e.attempts > 1 then s = s .. format(" after %d attempts", e.attempts) end
  return s
end

-- The predicates: what kind of failure this is, at a glance, on either
-- transport. They read kind and status only; the SDKs' error classes map
-- the same way (NotFoundError 404, RateLimitError 429, AuthenticationError
-- 401 and PermissionDeniedError 403, ConflictError 409, InternalServerError
-- 500 and up, APIConnectionError and its APITimeoutError).
local function api_status(e) return e.kind == "api" and type(e.status) == "number" and e.status or nil end

--- err:is_retryable() -> true if the retry policy retries this failure
-- (retry.should: the one place that decides).
function Error.is_retryable(e) return retry.should(e) end

--- err:is_not_found() -> true for an API answer 404.
function Error.is_not_found(e) return api_status(e) == 404 end

--- err:is_rate_limited() -> true for an API answer 429.
function Error.is_rate_limited(e) return api_status(e) == 429 end

--- err:is_auth() -> true for an API answer 401 or 403.
function Error.is_auth(e)
  local status = api_status(e)
  return status == 401 or status == 403
end

--- err:is_conflict() -> true for an API answer 409.
function Error.is_conflict(e) return api_status(e) == 409 end

--- err:is_server_error() -> true for an API answer 500 or above.
function Error.is_server_error(e)
  local status = api_status(e)
  return status ~= nil and status >= 500
end

--- err:is_connection() -> true when no usable answer came: kind
-- "connection" or "timeout".
function Error.is_connection(e) return e.kind == "connection" or e.kind == "timeout" end

--- err:is_timeout() -> true for kind "timeout".
function Error.is_timeout(e) return e.kind == "timeout" end

--- errors.is_error(v): true if v is an error returned by this library.
function M.is_error(v) return getmetatable(v) == Error end

--- errors.new(kind, fields) -> fields, made an error of that kind.
local function new_error(kind, fields)
  fields.kind = kind
  return setmetatable(fields, Error)
end
M.new = new_error

local function scrub(s, secrets, mark)
  for _, secret in ipairs(secrets) do
    if secret ~= "" then
      local i, j = s:find(secret, 1, true)
      while i do
        s = s:sub(1, i - 1) .. mark .. s:sub(j + 1)
        i, j = s:find(secret, i + #mark, true)
      end
    end
  end
  return s
end

--- errors.redact(err, secrets [, mark]) -> err with every occurrence of each
-- secret (a credential the request carried, a work item's secret) replaced
-- by mark ("[redacted]" by default) in all of its string fields (message,
-- type, error_code, request_id, body, ...) and header values: an error page
-- that echoes the request back cannot hand a secret to whoever logs the
-- error. The one scrubbing path of the library.
function M.redact(err, secrets, mark)
  if #secrets == 0 or type(err) ~= "table" then return err end
  mark = mark or "[redacted]"
  for k, v in pairs(err) do
    if type(v) == "string" then err[k] = scrub(v, secrets, mark) end
  end
  if type(err.headers) == "table" then
    for name, v in pairs(err.headers) do
      if type(v) == "string" then
        err.headers[name] = scrub(v, secrets, mark)
      elseif type(v) == "table" then   -- a repeated header, as a list
        for i = 1, #v do
          if type(v[i]) == "string" then v[i] = scrub(v[i], secrets, mark) end
        end
      end
    end
  end
  return err
end

return M
