-- anthropic.environments.check: argument checks that raise at the caller's
-- line. Programmer mistakes (a wrong type, an unknown option, an empty id)
-- raise; nothing here is used for runtime failures, which are returned as
-- nil, err (see errors.lua, answer.lua).
--
-- The validation toolkit every module uses (rather than copies of it):
-- raw_copy (the raw-copy rule), whole, seconds, is_finite, one_of,
-- header_value, text, id, and `shown` for the "(got ...)" of a message.
-- Secrets are scrubbed from errors by errors.redact.
-- It needs nothing of the C core, so that the command-line tool checks its
-- arguments (ids) before the library is loaded.

local type, error, next, tostring, format, floor, concat, require =
      type, error, next, tostring, string.format, math.floor, table.concat, require

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
-- <message>" at the first caller outside the package. PUC Lua 5.1 leaves a
-- frame of its own where a function returned by a tail call ("(tail
-- call)", with no line): it is skipped too.
function M.argerror(where, message)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info or not (internal[info.source] or info.what == "tail") then break end
    level = level + 1
  end
  error(format("anthropic.environments.%s: %s", where, message), level)
end
local argerror = M.argerror

--- check.raw_copy(t) -> a copy of t's own entries, read raw (next: no
-- metamethod runs). Every table a caller hands in is read once this way,
-- and only the copy is checked and used: nothing can change between the
-- check and the use.
function M.raw_copy(t)
  local copy = {}
  for k, v in next, t do copy[k] = v end
  return copy
end

--- check.shown(v) -> v as a message shows it: a number or a quoted
-- string as it is, null as null, anything else as its type.
function M.shown(v)
  local tv = type(v)
  if tv == "number" then return tostring(v) end
  if tv == "string" then return format("'%s'", #v > 32 and v:sub(1, 32) .. "..." or v) end
  -- JSON null (a light userdata): the core is loaded by then, as only
  -- decoded values and environments.null carry it
  if tv == "userdata" and v == require("anthropic.environments.basics").null then return "null" end
  return tv
end
local shown = M.shown

--- check.is_whole(v, lo, hi) -> true if v is a whole number from lo to hi.
function M.is_whole(v, lo, hi)
  return type(v) == "number" and v == floor(v) and v >= lo and v <= hi
end
local is_whole = M.is_whole

--- check.whole(where, what, v, lo, hi [, show]) -> v, a whole number from
-- lo to hi; show: the message ends with what v was ("(got 1.5)").
function M.whole(where, what, v, lo, hi, show)
  if not is_whole(v, lo, hi) then
    argerror(where, format("%s must be a whole number from %.0f to %.0f%s", what, lo, hi,
      show and format(" (got %s)", type(v) == "string" and "string" or shown(v)) or ""))
  end
  return v
end

--- The longest wait any option takes, in seconds (about 31 years).
M.MAX_SECONDS = 1e9

--- check.is_finite(v) -> true if v is a number, neither NaN nor infinite.
function M.is_finite(v)
  return type(v) == "number" and v == v and v > -math.huge and v < math.huge
end

--- check.seconds(where, what, v) -> v, a positive number of seconds of at
-- most MAX_SECONDS.
function M.seconds(where, what, v)
  if type(v) ~= "number" or not (v > 0) or v > M.MAX_SECONDS then
    argerror(where, format("%s must be a positive number of seconds, at most %.0f (got %s)", what,
      M.MAX_SECONDS, shown(v)))
  end
  return v
end

--- check.is_one_of(v, values) -> true if v is one of the list values.
function M.is_one_of(v, values)
  for i = 1, #values do
    if v == values[i] then return true end
  end
  return false
end
local is_one_of = M.is_one_of

--- check.one_of(where, what, v, values) -> v, one of the list values.
function M.one_of(where, what, v, values)
  if is_one_of(v, values) then return v end
  argerror(where, format("%s must be '%s' (got %s)", what, concat(values, "' or '"), shown(v)))
end

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
-- line: not empty nor only blanks (libcurl would drop the header, and its own of that name
-- with it, where cosockets send it empty), and no control characters but
-- horizontal tab (no CR, LF, NUL, VT, DEL).
function M.header_value(where, what, value)
  if type(value) ~= "string" then
    argerror(where, format("%s must be a string (got %s)", what, type(value)))
  end
  if value:find("^[ \t]*$") then
    argerror(where, format("%s must not be empty%s", what, value == "" and "" or " (it is only blanks)"))
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
