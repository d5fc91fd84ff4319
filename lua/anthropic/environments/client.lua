-- anthropic.environments.client: a client holds one transport (its
-- connections), its default options and its header lines. The calls
-- themselves are declared in environment_calls.lua and work_calls.lua,
-- installed by methods.lua, and run on call.lua.
local core = require "anthropic.environments.core"
local check = require "anthropic.environments.check"
local options = require "anthropic.environments.options"
local headers = require "anthropic.environments.headers"
local transport = require "anthropic.environments.transport"
local common = require "anthropic.environments.transport.common"
local runtime = require "anthropic.environments.runtime"
local call = require "anthropic.environments.call"
local extra = require "anthropic.environments.extra"
local waiting = require "anthropic.environments.wait"
check.internal()

local type, tostring, ipairs, getmetatable, setmetatable, format =
      type, tostring, ipairs, getmetatable, setmetatable, string.format
local argerror = check.argerror

local M = {
  API_VERSION = "2023-06-01",
  BETA = "managed-agents-2026-04-01",
  DEFAULT_BASE_URL = "https://api.anthropic.com",
  -- the transports' limits, from their one source
  DEFAULT_TIMEOUT = common.DEFAULT_TIMEOUT,                   -- seconds, one attempt
  DEFAULT_CONNECT_TIMEOUT = common.DEFAULT_CONNECT_TIMEOUT,   -- seconds
  DEFAULT_MAX_RETRIES = 2,
  DEFAULT_MAX_BODY = common.DEFAULT_MAX_BODY,
  MAX_REQUEST_BODY = 32 * 1024 * 1024,   -- bytes of a request's JSON body (the API's own limit)
}

local Client = {}
Client.__index = Client
M.Client = Client

-- Per-client state that must not show up when a client is printed or
-- inspected: the header lines carry the credentials.
local private = setmetatable({}, { __mode = "k" })

-- tostring(client): its base URL (which cannot hold user information), its
-- transport and whether it has credentials; never a credential.
function Client.__tostring(self)
  local state = private[self]
  return format("anthropic.environments client %s (transport %s, %s%s)", self.base_url, state.mode,
    headers.has_credentials(state.headers) and "credentials set" or "no credentials",
    state.closed and ", closed" or "")
end

local function getenv(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

-- The base URL, checked: http(s), a host, an optional path prefix, and
-- nothing that would change where requests go (user info, query, fragment).
local function base_url(url)
  if not url:find("^[hH][tT][tT][pP][sS]?://[^/]") then
    argerror("new", "base_url must be an http:// or https:// URL")
  end
  if url:find("[%s%z%c]") then argerror("new", "base_url must not contain spaces or control characters") end
  if url:find("[?#]") then argerror("new", "base_url must not have a query or a fragment") end
  local authority = url:match("^%a+://([^/]*)")
  if authority:find("@", 1, true) then argerror("new", "base_url must not have user information (user@host)") end
  return (url:gsub("/+$", ""))
end

--- M.new(opts, user_agent) -> client: environments.new.
function M.new(opts, user_agent)
  opts = options.check("new", opts, options.CLIENT)
  local url = base_url(opts.base_url or getenv("ANTHROPIC_BASE_URL") or M.DEFAULT_BASE_URL)
  local api_key = opts.api_key or getenv("ANTHROPIC_API_KEY")
  local auth_token = opts.auth_token or getenv("ANTHROPIC_AUTH_TOKEN")
  if api_key then check.header_value("new", "ANTHROPIC_API_KEY", api_key) end
  if auth_token then check.header_value("new", "ANTHROPIC_AUTH_TOKEN", auth_token) end

  local logger = opts.logger
  if not logger and getenv("ANTHROPIC_LOG") == "debug" then
    logger = function(line) io.stderr:write(line, "\n") end
  end

  local self = setmetatable({
    base_url = url,
    timeout = opts.timeout or M.DEFAULT_TIMEOUT,
    max_retries = opts.max_retries or M.DEFAULT_MAX_RETRIES,
  }, Client)
  local config = {
    connect_timeout = opts.connect_timeout or M.DEFAULT_CONNECT_TIMEOUT,
    stall_timeout = opts.stall_timeout,
    max_body = opts.max_body or M.DEFAULT_MAX_BODY,
    proxy = opts.proxy,
    ca_file = opts.ca_file,
    ca_path = opts.ca_path,
    insecure_skip_tls_verify = opts.insecure_skip_tls_verify,
    max_connections = opts.max_idle_connections,
  }
  -- Each transport is made when a call first needs it (transport.pick): a
  -- client used only over cosockets never makes a libcurl handle.
  private[self] = {
    mode = transport.mode(opts.transport, config),
    config = config,
    transports = {},   -- those made so far (transport.pick)
    sleep = opts.sleep or runtime.sleep,
    logger = logger,
    headers = headers.client {
      api_key = api_key, auth_token = auth_token, workspace_id = opts.workspace_id,
      betas = opts.betas, headers = opts.headers,
      user_agent = user_agent, api_version = M.API_VERSION, beta = M.BETA,
    },
  }
  return self
end

--- M.check(where, self): raises unless self is a client (a method called
-- with a dot instead of a colon, say).
function M.check(where, self)
  if getmetatable(self) ~= Client then
    argerror(where, "expected a client: call it as client:" .. where .. "(...), with a colon")
  end
end
local check_client = M.check

--- M.private(client) -> the client's private state.
function M.private(self) return private[self] end

--- client:_prepare(where, method, path, body, opts [, interpret]) -> url, p
-- Everything a call needs before its first attempt, checked (raising at the
-- caller's line): the header lines, the body (a table is merged with
-- opts.extra_body and encoded; a string is sent as it is), the URL with
-- opts.extra_query. opts is a checked copy (options.check). url and p are
-- what call.new takes (see call.lua); starting them later sends exactly this.
function Client:_prepare(where, method, path, body, opts, interpret)
  local state = private[self]
  if state.closed then argerror(where, "client is closed") end
  local extra_body = opts.extra_body
  if extra_body then
    if method ~= "POST" then
      argerror(where, format("option 'extra_body' is for calls that send a body (POST), not %s", method))
    end
    if type(body) == "string" then
      argerror(where, "option 'extra_body' cannot be merged into this call's body (already JSON text)")
    end
    body = extra.merge_body(body, extra_body)
  end
  if type(body) == "table" then
    local json, why = core.encode(body, M.MAX_REQUEST_BODY)
    -- Only a body over the cap fails here (it is the caller's): raise, send nothing.
    if not json then argerror(where, "could not encode the request body: " .. tostring(why)) end
    body = json
  end
  if opts.extra_query then path = extra.add_query(path, opts.extra_query) end
  local t, name = transport.pick(state, where)
  local lines = headers.lines(where, state.headers, opts, body ~= nil)
  local p = {
    owner = state,
    transport = t,
    transport_name = name,
    lines = lines,
    -- what the transport is given: libcurl takes the client's own lines
    -- as a list the core made once
    send = name == "curl" and headers.prepared(state.headers, lines) or lines,
    body = body,
    timeout = opts.timeout or self.timeout,
    max_retries = opts.max_retries or self.max_retries,
    sleep = opts.sleep or state.sleep,
    logger = state.logger,
    interpret = interpret,
  }
  -- Only when asked: a call without it carries nothing more.
  if opts.with_response then p.with_response = true end
  return self.base_url .. path, p
end

--- client:_start(where, method, path, body, opts [, interpret])
-- -> a new call, its first attempt started (see _prepare).
function Client:_start(where, method, path, body, opts, interpret)
  local url, p = self:_prepare(where, method, path, body, opts, interpret)
  return call.new(method, url, p)
end

--- client.calls: name -> the declaration of every call the client has
-- (see environment_calls.lua), filled by methods.lua; client:many runs them.
M.calls = {}

--- client:_lines(where, opts, has_body) -> the header lines a call with
-- these options would send; raises as a call would (no credentials).
function Client:_lines(where, opts, has_body)
  return headers.lines(where, private[self].headers, opts, has_body)
end

--- client:has_credentials() -> true if the client sends a key or a token.
function Client:has_credentials()
  check_client("has_credentials", self)
  return headers.has_credentials(private[self].headers)
end

--- client:drive([wait]) -> number of requests still in flight.
-- Does the network work that is ready for every call of this client,
-- waiting up to `wait` seconds (default 0: never blocks) for some, as
-- wait.lua says (yielding inside OpenResty handlers; woken by the first
-- request to end).
function Client:drive(wait)
  check_client("drive", self)
  if wait ~= nil and (type(wait) ~= "number" or not (wait >= 0)) then
    argerror("drive", "wait must be a non-negative number of seconds")
  end
  return waiting.drive(private[self].transports, wait)
end

--- client:fds() -> sockets, timeout
-- For event loops that wait on sockets themselves (luv, cqueues, a game
-- engine): the sockets the transport waits on, as { {fd =, read =, write =} },
-- and the seconds until it must be driven anyway (nil: no timer). Wait for
-- either, then call client:drive() and poll your calls.
function Client:fds()
  check_client("fds", self)
  local curl = private[self].curl
  if not curl then return {}, nil end
  return curl:fds()
end

--- client:close(): releases the connections now rather than at collection.
-- Calls in flight, and calls waiting to retry, end as cancelled; inside
-- nginx, from any light thread: whoever waits on them wakes at once.
function Client:close()
  local state = private[self]
  if state then
    state.closed = true
    for _, t in ipairs(state.transports) do t:close() end
  end
end

-- Lua 5.4: `local client <close> = environments.new {...}` closes it at the
-- end of the scope.
Client.__close = Client.close

--- M.user_agent(version) -> the User-Agent value of this build.
function M.user_agent(version)
  return format("anthropic-environments-lua/%s (%s; libcurl/%s)", version,
    (type(jit) == "table" and jit.version) or _VERSION, core.curl_version)
end

return M
