-- anthropic.environments.options: the options of environments.new, of each
-- call and of the schedulers. Every options table is read once, raw (next,
-- rawget: no metamethod runs), into a private copy; only that copy is
-- checked and used, so nothing can change between the check and the use.
local check = require "anthropic.environments.check"
local extra = require "anthropic.environments.extra"
check.internal()

local type, next, tostring, rawget, format, floor =
      type, next, tostring, rawget, string.format, math.floor
local argerror, check_text = check.argerror, check.text

local M = {}

-- A raw copy of a table's own entries.
local function raw_copy(t)
  local copy = {}
  for k, v in next, t do copy[k] = v end
  return copy
end

-- option checkers: checker(where, name, value) -> the value to keep
local function of_type(expected)
  return function(where, name, value)
    if type(value) ~= expected then
      argerror(where, format("option '%s' must be a %s (got %s)", name, expected, type(value)))
    end
    return value
  end
end
M.of_type = of_type

local function seconds(where, name, value)
  if type(value) ~= "number" or not (value > 0) or value > 1e9 then
    argerror(where, format("option '%s' must be a positive number of seconds", name))
  end
  return value
end

local function whole(lo, hi)
  return function(where, name, value)
    if type(value) ~= "number" or not (value >= lo and value <= hi) or value ~= floor(value) then
      argerror(where, format("option '%s' must be a whole number from %d to %d", name, lo, hi))
    end
    return value
  end
end
M.whole = whole

local function text(where, name, value)
  return check_text(where, format("option '%s'", name), value)
end

-- An option that goes into a header line.
local function header_text(where, name, value)
  return check.header_value(where, format("option '%s'", name), value)
end

local function beta_list(where, name, value)
  if type(value) ~= "table" then
    argerror(where, format("option '%s' must be an array of strings", name))
  end
  local copy, n = raw_copy(value), 0
  for k in next, copy do
    if type(k) ~= "number" or k < 1 or k ~= floor(k) then
      argerror(where, format("option '%s' must be an array of strings", name))
    end
    n = n + 1
  end
  for i = 1, n do
    local beta = rawget(copy, i)
    if beta == nil then argerror(where, format("option '%s' must be an array of strings (it has holes)", name)) end
    check_text(where, format("%s[%d]", name, i), beta)
    if beta == "" or beta:find("[,%s]") then
      argerror(where, format("%s[%d] must be one beta name, without commas or spaces", name, i))
    end
  end
  return copy
end

local function one_of(...)
  local allowed, names = {}, {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    allowed[v] = true
    names[i] = format("%q", v)
  end
  local list = table.concat(names, " or ")
  return function(where, name, value)
    if not allowed[value] then
      argerror(where, format("option '%s' must be %s (got %s)", name, list, tostring(value)))
    end
    return value
  end
end

local function non_negative(where, name, value)
  if type(value) ~= "number" or not (value >= 0) or value == math.huge then
    argerror(where, format("option '%s' must be a non-negative number", name))
  end
  return value
end

--- Options every call takes (and new, as the client's defaults).
M.CALL = {
  betas = beta_list,
  workspace_id = header_text,
  headers = extra.header_table,
  timeout = seconds,
  max_retries = whole(0, 100),
  sleep = of_type("function"),
}

-- Options of a call only: not client defaults (see extra.lua).
local CALL_ONLY = {
  extra_body = extra.body,
  extra_query = extra.query,
  extra_headers = extra.header_table,
  with_response = of_type("boolean"),
}

--- Options of environments.new.
M.CLIENT = {
  api_key = header_text,
  auth_token = header_text,
  base_url = text,
  connect_timeout = seconds,
  stall_timeout = seconds,
  max_body = non_negative,
  proxy = text,
  ca_file = text,
  ca_path = text,
  insecure_skip_tls_verify = of_type("boolean"),
  max_idle_connections = whole(1, 100000),
  logger = of_type("function"),
  transport = one_of("curl", "ngx"),   -- nil: cosockets where nginx allows them
}

--- Options of the schedulers (archive_many and many).
M.MANY = {
  concurrency = whole(1, 1000),
  on_result = of_type("function"),
}

--- Options of the iterators over every page (each, each_work).
M.PAGES = {
  max_pages = whole(1, 1e9),
}

for name, checker in next, M.CALL do
  M.CLIENT[name] = checker
  M.MANY[name] = checker
  M.PAGES[name] = checker
end
for name, checker in next, CALL_ONLY do
  M.CALL[name] = checker
  M.MANY[name] = checker
  M.PAGES[name] = checker   -- each refuses with_response itself
end

-- Shared by every call given no options; never written to.
M.NONE = setmetatable({}, { __newindex = function() error("options.NONE is read-only", 2) end })

--- options.check(where, opts, allowed) -> a private, checked copy of opts
-- (options.NONE for nil). Unknown names raise.
function M.check(where, opts, allowed)
  if opts == nil then return M.NONE end
  if type(opts) ~= "table" then
    argerror(where, format("options must be a table (got %s)", type(opts)))
  end
  local copy = {}
  for name, value in next, opts do
    local checker = type(name) == "string" and rawget(allowed, name)
    if not checker then argerror(where, format("unknown option '%s'", tostring(name))) end
    copy[name] = checker(where, name, value)
  end
  return copy
end

--- options.pick(opts, allowed) -> the entries of opts whose names are in allowed.
function M.pick(opts, allowed)
  local out = {}
  for name in next, allowed do out[name] = opts[name] end
  return out
end

return M
