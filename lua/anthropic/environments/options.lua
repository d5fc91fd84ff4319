-- anthropic.environments.options: the options of environments.new, of each
-- call and of the schedulers. Every options table is read once, raw (next,
-- rawget: no metamethod runs), into a private copy; only that copy is
-- checked and used, so nothing can change between the check and the use.
local check = require "anthropic.environments.check"
local extra = require "anthropic.environments.extra"
check.internal()

local type, next, tostring, rawget, format = type, next, tostring, rawget, string.format
local argerror, check_text, raw_copy, is_whole = check.argerror, check.text, check.raw_copy, check.is_whole

local M = {
  MAX_BODY = 1e15,   -- bytes: the largest max_body (the core's bound)
}

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

--- options.seconds: a positive number of seconds, at most check.MAX_SECONDS.
local function seconds(where, name, value)
  return check.seconds(where, format("option '%s'", name), value)
end
M.seconds = seconds

--- options.whole(lo, hi): a whole number from lo to hi.
local function whole(lo, hi)
  return function(where, name, value)
    return check.whole(where, format("option '%s'", name), value, lo, hi)
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
    if not is_whole(k, 1, math.huge) then
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
  local values, shown = { ... }, {}
  for i, v in ipairs(values) do shown[i] = format("%q", v) end
  local list = table.concat(shown, " or ")
  return function(where, name, value)
    if not check.is_one_of(value, values) then
      argerror(where, format("option '%s' must be %s (got %s)", name, list, tostring(value)))
    end
    return value
  end
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
  max_body = whole(0, M.MAX_BODY),
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

---- Options of the iterators over every page (each, each_work).
M.PAGES = {
  max_pages = whole(1, 1e9),
}

--- Options of collect and collect_work: those of each, and max_items.
M.COLLECT = {
  max_items = whole(1, 1e9),
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
for name, checker in next, M.PAGES do M.COLLECT[name] = checker end

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
