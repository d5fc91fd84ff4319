-- anthropic.environments.webhook: verifies Standard Webhooks deliveries
-- (the API's events about environments) and decodes them.
--
--   local event, err = webhook.unwrap(body, headers, { key =, tolerance =, now = })
--
-- A delivery has the headers webhook-id, webhook-timestamp (Unix seconds)
-- and webhook-signature (space-separated "v1,<base64>" entries). It is
-- authentic when one entry is base64(HMAC-SHA256(key, id.timestamp.body)),
-- where key is the base64 decoding of the secret "whsec_<base64>" (or of a
-- bare "<base64>"). The MAC, the base64 and the constant-time comparison
-- are in the C core (src/webhook.c): the decoded key never reaches Lua.
--
-- Failures return nil, err with err.kind == "webhook", err.message (for
-- people) and err.reason (for code), checked in this order:
--   "missing_header"       a header is absent or empty (err.header names it)
--   "invalid_header"       webhook-timestamp is not a decimal integer, or
--                          webhook-id / webhook-timestamp is repeated with
--                          different values (err.header names it)
--   "malformed_secret"     the key is not (whsec_)base64 of 1 to 768 bytes
--   "bad_signature"        no v1 entry matches (a forged or altered delivery,
--                          or the wrong secret)
--   "timestamp_too_old"    signed more than `tolerance` seconds before `now`
--   "timestamp_in_future"  signed more than `tolerance` seconds after `now`
--   "invalid_json"         authentic, but the body is not a JSON object
--   "crypto_failed"        libcrypto failed (out of memory)
-- The signature is checked before the time, so a stale reason means the
-- delivery was authentic (a replay, or a clock off by more than tolerance).
-- The secret never appears in an error, a message or a raised error.
local core = require "anthropic.environments.core"
local errors = require "anthropic.environments.errors"
local check = require "anthropic.environments.check"
check.internal()

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local format, concat = string.format, table.concat

local M = {
  DEFAULT_TOLERANCE = 300,   -- seconds either side of now
  KEY_ENV = "ANTHROPIC_WEBHOOK_SIGNING_KEY",
}

local argerror, finite = check.argerror, check.is_finite

local function fail(reason, message, fields)
  fields = fields or {}
  fields.reason = reason
  fields.message = message
  return nil, errors.new("webhook", fields)
end

local OPTIONS = { key = true, tolerance = true, now = true }

local function check_options(where, opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then argerror(where, format("opts must be a table (got %s)", type(opts))) end
  opts = check.raw_copy(opts)
  for k in pairs(opts) do
    if not OPTIONS[k] then argerror(where, format("unknown option '%s'", tostring(k))) end
  end
  if opts.key ~= nil and (type(opts.key) ~= "string" or opts.key == "") then
    argerror(where, format("option 'key' must be a non-empty string (got %s)",
      type(opts.key) == "string" and "an empty string" or type(opts.key)))
  end
  if opts.tolerance ~= nil and not (finite(opts.tolerance) and opts.tolerance > 0) then
    argerror(where, "option 'tolerance' must be a positive finite number of seconds")
  end
  if opts.now ~= nil and not finite(opts.now) then
    argerror(where, "option 'now' must be a finite number (Unix seconds)")
  end
  return opts
end

local function signing_key(where, opts)
  if opts.key then return opts.key end
  local key = os.getenv(M.KEY_ENV)
  if key == nil or key == "" then
    argerror(where, "no signing key: pass opts.key or set " .. M.KEY_ENV)
  end
  return key
end

local WANTED = { ["webhook-id"] = true, ["webhook-timestamp"] = true, ["webhook-signature"] = true }

-- The three headers' values from a table keyed in any case, where a value
-- is a string or (a repeated header, as nginx gives it) a list of strings.
-- Returns { [lower name] = { values... } }.
local function collect(where, headers)
  local found = {}
  for name, value in pairs(headers) do
    local lname = type(name) == "string" and name:lower()
    if lname and WANTED[lname] then
      local list = found[lname] or {}
      found[lname] = list
      if type(value) == "string" then
        list[#list + 1] = value
      elseif type(value) == "table" then
        for i, v in ipairs(value) do
          if type(v) ~= "string" then
            argerror(where, format("header '%s' value %d must be a string (got %s)", name, i, type(v)))
          end
          list[#list + 1] = v
        end
      else
        argerror(where, format("header '%s' must be a string or a list of strings (got %s)", name, type(value)))
      end
    end
  end
  return found
end

-- One value of a header that must not vary: nil, "" when absent or
-- empty, or false when repeated with different values.
local function single(list)
  local value
  for _, v in ipairs(list or {}) do
    if v ~= "" then
      if value ~= nil and v ~= value then return false end
      value = v
    end
  end
  return value
end

local function missing(name)
  return fail("missing_header", "the delivery has no " .. name .. " header", { header = name })
end

local function conflicting(name)
  return fail("invalid_header", "the delivery has several different " .. name .. " headers", { header = name })
end

--- Checks the delivery's signature and time. Returns true, or nil, err.
-- Arguments as for unwrap; `where` names the public function for raised
-- errors.
local function verify(where, body, headers, opts)
  if type(body) ~= "string" then argerror(where, format("body must be a string (got %s)", type(body))) end
  if type(headers) ~= "table" then argerror(where, format("headers must be a table (got %s)", type(headers))) end
  opts = check_options(where, opts)
  local key = signing_key(where, opts)
  local tolerance = opts.tolerance or M.DEFAULT_TOLERANCE
  local now = opts.now or os.time()

  local found = collect(where, headers)
  local id, timestamp = single(found["webhook-id"]), single(found["webhook-timestamp"])
  local signatures = {}
  for _, v in ipairs(found["webhook-signature"] or {}) do
    if v ~= "" then signatures[#signatures + 1] = v end
  end
  if id == nil then return missing("webhook-id") end
  if id == false then return conflicting("webhook-id") end
  if timestamp == nil then return missing("webhook-timestamp") end
  if timestamp == false then return conflicting("webhook-timestamp") end
  if #signatures == 0 then return missing("webhook-signature") end

  -- Signed as the integer's decimal form, as the Standard Webhooks
  -- libraries do (they parse, then print it): leading zeros go.
  local digits = timestamp:match("^0*(%d+)$")
  if not digits or #digits > 15 then
    return fail("invalid_header", "webhook-timestamp is not a whole number of seconds",
      { header = "webhook-timestamp" })
  end
  local ok, why = core.webhook_verify(key, id, digits, body, concat(signatures, " "))
  if not ok then
    if why == "malformed_secret" then
      return fail(why, "the signing key is not a Standard Webhooks secret (whsec_ then base64)")
    elseif why == "no_signature" then
      return fail("bad_signature", "webhook-signature holds no v1 signature")
    elseif why == "bad_signature" then
      return fail(why, "no signature in webhook-signature matches the signing key")
    end
    return fail("crypto_failed", "libcrypto could not compute the signature")
  end

  local signed_at = tonumber(digits)
  if signed_at < now - tolerance then
    return fail("timestamp_too_old", format("the delivery was signed %.0f s ago, more than the %g s tolerated",
      now - signed_at, tolerance), { timestamp = signed_at })
  elseif signed_at > now + tolerance then
    return fail("timestamp_in_future", format("the delivery was signed %.0f s ahead of this clock, more than the %g s tolerated",
      signed_at - now, tolerance), { timestamp = signed_at })
  end
  return true
end

--- webhook.unwrap(body, headers, opts) -> event  or  nil, err
-- body: the raw request body (a string, exactly as received).
-- headers: the request headers, as ngx.req.get_headers() gives them
--   (lower-case names, a repeated header as a list) or a plain table with
--   names in any case.
-- opts.key: the secret, "whsec_<base64>" or "<base64>"; defaults to
--   $ANTHROPIC_WEBHOOK_SIGNING_KEY (neither given raises).
-- opts.tolerance: seconds a timestamp may be off (default 300).
-- opts.now: the current Unix time (default os.time()), for tests.
-- Returns the decoded event ({ type = "event", id, created_at, data }).
function M.unwrap(body, headers, opts)
  local ok, err = verify("unwrap_webhook", body, headers, opts)
  if not ok then return nil, err end
  local event, why = core.decode(body)
  -- Arrays and objects both decode as plain tables (an empty array too):
  -- the body's first character tells them apart.
  if type(event) ~= "table" or not body:find("^[ \t\r\n]*{") then
    return fail("invalid_json", event == nil and "the body is not JSON: " .. tostring(why)
      or "the body is not a JSON object")
  end
  return event
end

--- webhook.verify(body, headers, opts) -> true  or  nil, err
-- unwrap without decoding: for a body that is not an event, or a tool that
-- prints the body as it came.
function M.verify(body, headers, opts)
  return verify("webhook.verify", body, headers, opts)
end

--- webhook.parse_headers(text) -> headers  or  nil, err
-- A delivery's header block as text ("Name: value" lines, CRLF or LF; a
-- leading request or status line and everything after the first empty line
-- are skipped), as a table shaped like ngx.req.get_headers(): lower-case
-- names, a repeated header as a list. For tools that read a saved
-- delivery (a file from curl -D, say).
function M.parse_headers(text)
  if type(text) ~= "string" then
    argerror("webhook.parse_headers", format("text must be a string (got %s)", type(text)))
  end
  local headers, n = {}, 0
  for line in (text:gsub("\r\n", "\n") .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if line == "" then break end
    local name, value = line:match("^([!#$%%&'*+%-.^_`|~%w]+):[ \t]*(.-)[ \t]*$")
    if name then
      name = name:lower()
      local old = headers[name]
      if old == nil then headers[name] = value
      elseif type(old) == "table" then old[#old + 1] = value
      else headers[name] = { old, value } end
    elseif not (n == 1 and line:find("^%u+ %S+ HTTP/%d") or n == 1 and line:find("^HTTP/%d")) then
      return fail("invalid_header", format("line %d is not a 'Name: value' header", n))
    end
  end
  return headers
end

return M
