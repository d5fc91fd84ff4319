-- anthropic.environments.check: argument checks that raise at the caller's
-- line. Programmer mistakes (a wrong type, an unknown option, an empty id)
-- raise; nothing here is used for runtime failures, which are returned as
-- nil, err (see errors.lua, answer.lua).
local type, error, format = type, error, string.format

local M = {}

-- The source names of this package's own files: argerror blames the first
-- stack frame outside them. Each module registers itself with M.internal().
local internal = {}

--- check.internal(): marks the calling file as part of the package.
function M.internal()
  internal[debug.getinfo(2, "S").source] = true
end
M.internal()

--- check.argerror(where, message): raises "anthropic.environments.<where>:
-- <message>" at the first caller outside the package.
function M.argerror(where, message)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info or not internal[info.source] then break end
    level = level + 1
  end
  error(format("anthropic.environments.%s: %s", where, message), level)
end
local argerror = M.argerror

--- check.text(where, what, value): a string without CR, LF or NUL.
function M.text(where, what, value)
  if type(value) ~= "string" then
    argerror(where, format("%s must be a string (got %s)", what, type(value)))
  end
  if value:find("[%z\r\n]") then
    argerror(where, format("%s must not contain CR, LF or NUL", what))
  end
  return value
end

--- check.header_value(where, what, value): a string fit for a header
-- line: no control characters but horizontal tab (no CR, LF, NUL, VT, DEL).
function M.header_value(where, what, value)
  if type(value) ~= "string" then
    argerror(where, format("%s must be a string (got %s)", what, type(value)))
  end
  if value:find("[%z\1-\8\10-\31\127]") then
    argerror(where, format("%s must not contain control characters (CR, LF, NUL, DEL, ...)", what))
  end
  return value
end

--- check.valid_id(id) -> true, or false and what is wrong ("must not be
-- empty", ...). Never raises; the CLI checks ids with it up front.
function M.valid_id(id)
  if type(id) ~= "string" then return false, format("must be a string (got %s)", type(id)) end
  if id == "" then return false, "must not be empty" end
  if id:find("%c") then return false, "must not contain control characters" end
  if id == "." or id == ".." then return false, format("must not be '%s'", id) end
  return true
end
local valid_id = M.valid_id

--- check.id(where, id [, what]): a non-empty path segment other than . and ..
function M.id(where, id, what)
  local ok, why = valid_id(id)
  if not ok then argerror(where, (what or "id") .. " " .. why) end
  return id
end

--- check.escape_segment(s): percent-encodes everything but RFC 3986's
-- unreserved characters, so an id can never add a path segment or a query.
local function percent(c) return format("%%%02X", c:byte()) end

function M.escape_segment(s)
  if not s:find("[^%w%-._~]") then return s end   -- the usual id: nothing to escape
  return (s:gsub("[^%w%-._~]", percent))
end

return M
