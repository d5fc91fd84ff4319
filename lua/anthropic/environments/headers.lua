-- anthropic.environments.headers: the request header lines of a client and
-- of each call. A client's lines are built once, at environments.new; a call
-- with no header options sends them as they are.
local core = require "anthropic.environments.core"
local check = require "anthropic.environments.check"
check.internal()

local next, ipairs, concat, sort = next, ipairs, table.concat, table.sort

local M = {}

-- A set keeps its headers in order: { order = { lname... }, lines = { lname = "Name: value" } }.
local function new_set() return { order = {}, lines = {} } end

local function set_header(set, name, value)
  local lname = name:lower()
  if not set.lines[lname] then set.order[#set.order + 1] = lname end
  set.lines[lname] = name .. ": " .. value
end

local function copy_set(set)
  local c = new_set()
  for i, lname in ipairs(set.order) do
    c.order[i] = lname
    c.lines[lname] = set.lines[lname]
  end
  return c
end

local function set_lines(set)
  local out = {}
  for i, lname in ipairs(set.order) do out[i] = set.lines[lname] end
  return out
end

local function add_headers(set, headers)
  local names = {}
  for name in next, headers do names[#names + 1] = name end
  sort(names)
  for _, name in ipairs(names) do set_header(set, name, headers[name]) end
end

-- The anthropic-beta value: the user's betas first, then the API's own.
local function beta_value(beta, user_betas)
  local list = {}
  for _, b in ipairs(user_betas or {}) do
    if b ~= beta then list[#list + 1] = b end
  end
  list[#list + 1] = beta
  return concat(list, ",")
end

local function has_credentials(set)
  return set.lines["x-api-key"] ~= nil or set.lines["authorization"] ~= nil
end

local NO_CREDENTIALS = "no credentials: set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN, or pass api_key or auth_token"

--- headers.client(c) -> the header state of a client, from
-- c = { api_key, auth_token, workspace_id, betas, headers, user_agent,
-- api_version, beta }: the lines of calls without and with a JSON body.
-- The client's own headers come after the defaults, so they can replace them.
function M.client(c)
  local base = new_set()
  set_header(base, "accept", "application/json")
  set_header(base, "anthropic-version", c.api_version)
  set_header(base, "user-agent", c.user_agent)
  if c.api_key then set_header(base, "x-api-key", c.api_key) end
  if c.auth_token then set_header(base, "authorization", "Bearer " .. c.auth_token) end
  if c.workspace_id then set_header(base, "anthropic-workspace-id", c.workspace_id) end
  set_header(base, "anthropic-beta", beta_value(c.beta, c.betas))
  local plain, with_body = copy_set(base), base
  set_header(with_body, "content-type", "application/json")
  if c.headers then
    add_headers(plain, c.headers)
    add_headers(with_body, c.headers)
  end
  return {
    beta = c.beta,
    betas = c.betas,
    plain = plain, plain_lines = set_lines(plain),
    body = with_body, body_lines = set_lines(with_body),
  }
end

--- headers.has_credentials(state) -> true if the client sends a key or token.
function M.has_credentials(state)
  return has_credentials(state.plain)
end

--- headers.lines(where, state, opts, has_body) -> the header lines of one
-- call: the client's, then the call's options (workspace_id, betas, headers,
-- then extra_headers). Raises when no credentials would be sent.
function M.lines(where, state, opts, has_body)
  local defaults = has_body and state.body or state.plain
  if not (opts.headers or opts.betas or opts.workspace_id or opts.extra_headers) then
    if not has_credentials(defaults) then check.argerror(where, NO_CREDENTIALS) end
    return has_body and state.body_lines or state.plain_lines
  end
  local set = copy_set(defaults)
  if opts.workspace_id then set_header(set, "anthropic-workspace-id", opts.workspace_id) end
  if opts.betas then
    local betas = {}
    for _, b in ipairs(state.betas or {}) do betas[#betas + 1] = b end
    for _, b in ipairs(opts.betas) do betas[#betas + 1] = b end
    set_header(set, "anthropic-beta", beta_value(state.beta, betas))
  end
  if opts.headers then add_headers(set, opts.headers) end
  if opts.extra_headers then add_headers(set, opts.extra_headers) end
  if not has_credentials(set) then check.argerror(where, NO_CREDENTIALS) end
  return set_lines(set)
end

-- Shorter credentials are not redacted: they are not real ones (a test's
-- "k"), and replacing them would mangle every error text.
local MIN_SECRET = 8

--- headers.prepared(state, lines) -> what the libcurl transport sends for
-- these lines: the client's own lines (the calls without header options)
-- as lists the core made once (core.headers: checked and built at the
-- first call, not at each), any others as they are.
function M.prepared(state, lines)
  local key
  if lines == state.plain_lines then key = "plain_list"
  elseif lines == state.body_lines then key = "body_list"
  else return lines end
  local list = state[key]
  if list == nil then
    list = core.headers(lines) or false   -- out of memory: the lines, each time
    state[key] = list
  end
  return list or lines
end

--- headers.secrets(lines) -> the credentials these header lines carry
-- (the key, the token and its "Bearer ..." form), longest first.
function M.secrets(lines)
  local out = {}
  for _, line in ipairs(lines) do
    local name, value = line:match("^([^:]+): (.*)$")
    name = name and name:lower()
    if name == "x-api-key" and value ~= "" then
      out[#out + 1] = value
    elseif name == "authorization" and value ~= "" then
      out[#out + 1] = value
      local token = value:match("^[Bb]earer%s+(.+)$")
      if token then out[#out + 1] = token end
    end
  end
  for i = #out, 1, -1 do
    if #out[i] < MIN_SECRET then table.remove(out, i) end
  end
  table.sort(out, function(a, b) return #a > #b end)
  return out
end

return M
