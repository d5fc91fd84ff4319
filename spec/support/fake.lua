-- Starts and controls the fake Environments API (fake/server.lua) from the
-- busted specs. Works under lua5.1-5.4 and luajit (uses luasocket + cjson).
--
--   local fake = require "spec.support.fake"
--   local server = fake.start()          -- server.url = "http://127.0.0.1:<port>"
--   server:script{ { status = 500 }, { fault = "close" } }
--   ... server:requests() ... server:stop()
--
-- The server runs under $FAKE_LUA (default lua5.3) and watches our pid, so
-- it exits by itself if this process dies without calling stop().

local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"
local hosts = require "spec.support.hosts"

local M = {}

local Server = {}
Server.__index = Server

local START_TIMEOUT = 5 -- seconds to wait for the "listening" line

local shell_quote, read_file = hosts.shell_quote, hosts.read_file

local function own_pid()
  return assert(read_file("/proc/self/stat")):match("^(%d+)")
end

local function alive(pid)
  local st = (read_file("/proc/" .. pid .. "/stat") or ""):match("^%d+ %(.*%) (%a)")
  return st ~= nil and st ~= "Z" and st ~= "X"
end

local function percent_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

M.shell_quote = shell_quote
M.own_pid = own_pid

-- The command that runs this Lua (for specs that start child processes).
function M.interpreter()
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end
  if arg and arg[i] then return arg[i] end
  if type(jit) == "table" then return "luajit" end
  return "lua" .. _VERSION:match("%d+%.%d+")
end

-- A self-signed certificate for 127.0.0.1 and localhost, made once per
-- process with the openssl command. Returns the certificate and key paths.
local tls_files
local function self_signed()
  if tls_files then return tls_files.cert, tls_files.key end
  local base = os.tmpname()
  local cert, key = base .. "-cert.pem", base .. "-key.pem"
  local cmd = string.format("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
    .. " -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout %s -out %s >/dev/null 2>&1",
    shell_quote(key), shell_quote(cert))
  local ok = os.execute(cmd)
  if not (ok == true or ok == 0) then error("could not make a certificate: " .. cmd, 3) end
  os.remove(base)
  tls_files = { cert = cert, key = key }
  return cert, key
end

M.self_signed = self_signed

-- Starts a fresh server. Raises an error if it does not come up in time.
-- fake.start{ tls = true } serves HTTPS with a self-signed certificate whose
-- file is server.ca_file (tls = { cert =, key = }: that certificate). `into`, if given, is the table made the server.
function M.start(opts, into)
  opts = opts or {}
  local lua = os.getenv("FAKE_LUA") or "lua5.3"
  local out = os.tmpname()
  local extra, cert, key = "", nil, nil   -- luacheck: ignore key
  if opts.tls then
    if type(opts.tls) == "table" then cert, key = opts.tls.cert, opts.tls.key else cert, key = self_signed() end
    extra = " --tls-cert " .. shell_quote(cert) .. " --tls-key " .. shell_quote(key)
  end
  -- The server's stdout goes to a file we poll (so we can time out); its
  -- stderr stays ours, so its error messages show up in the test output.
  -- LD_PRELOAD is dropped: under `make sanitize` it loads ASan, which is
  -- for our module, not for the fake's interpreter. So are Lua's search
  -- paths: after `eval "$(luarocks path)"` they name another Lua's modules.
  local cmd = string.format("env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH -u LUA_INIT %s %s --host 127.0.0.1 --port 0 --watch-pid %s%s > %s & echo $!",
    lua, shell_quote(hosts.ROOT .. "/fake/server.lua"), own_pid(), extra, shell_quote(out))
  local p = assert(io.popen(cmd, "r"))
  local shell_pid = p:read("*l")
  p:close()

  local deadline = socket.gettime() + START_TIMEOUT
  local host, port, pid
  while true do
    host, port, pid = (read_file(out) or ""):match("^listening (%S+) (%d+) (%d+)\n")
    if host then break end
    local died = shell_pid and not alive(shell_pid)
    if died or socket.gettime() > deadline then
      if shell_pid and not died then os.execute("kill " .. shell_pid .. " 2>/dev/null") end
      os.remove(out)
      error(string.format("fake server (%s) %s (command: %s)", lua,
        died and "exited before listening; see its stderr above"
          or "did not print 'listening' within " .. START_TIMEOUT .. " s", cmd), 2)
    end
    socket.sleep(0.02)
  end
  os.remove(out)
  local scheme = opts.tls and "https" or "http"
  local server = into or {}
  server.url, server.pid, server.ca_file = scheme .. "://" .. host .. ":" .. port, pid, cert
  return setmetatable(server, Server)
end

-- The setup most spec files share, called inside their describe block: one
-- fake for the block, reset before each test. Returns the server (a table
-- filled in when the block starts), the list of retry waits the clients
-- were asked to sleep (emptied before each test), and new_client(opts),
-- which makes a client of that server with api_key `key`.
function M.suite(key, opts)
  local busted = require "busted"
  local server, sleeps = {}, {}
  busted.setup(function() M.start(opts, server) end)
  busted.teardown(function() server:stop() end)
  busted.before_each(function()
    server:reset()
    for i = #sleeps, 1, -1 do sleeps[i] = nil end
  end)
  return server, sleeps, function(client_opts) return server:client(key, sleeps, client_opts) end
end

-- One HTTP request to the server. `body` is a string or nil, `headers` a
-- table of name -> value. Returns status, body, response headers (names
-- lower-cased by luasocket); raises on connection errors.
function Server:request(method, path, body, headers)
  local h = {}
  for k, v in pairs(headers or {}) do h[k] = v end
  if body then h["content-length"] = tostring(#body) end
  local chunks = {}
  -- Over HTTPS the control requests go through luasec, trusting the
  -- fake's own certificate.
  local client = http
  if self.ca_file then client = require "ssl.https" end
  local ok, status, resp_headers = client.request {
    url = self.url .. path,
    method = method,
    headers = h,
    source = body and ltn12.source.string(body) or nil,
    sink = ltn12.sink.table(chunks),
    cafile = self.ca_file,
    verify = self.ca_file and "peer" or nil,
    protocol = self.ca_file and "any" or nil,
  }
  if not ok then error("request to fake server failed: " .. tostring(status), 2) end
  return status, table.concat(chunks), resp_headers
end

-- Like request(), with the headers a well-behaved client sends to /v1.
M.API_HEADERS = {
  ["x-api-key"] = "sk-fake-test",
  ["anthropic-version"] = "2023-06-01",
  ["anthropic-beta"] = "managed-agents-2026-04-01",
}

function Server:api(method, path, body, headers)
  local h = {}
  for k, v in pairs(M.API_HEADERS) do h[k] = v end
  for k, v in pairs(headers or {}) do h[k] = v end
  if body ~= nil and type(body) ~= "string" then
    body = cjson.encode(body)
    h["content-type"] = h["content-type"] or "application/json"
  end
  return self:request(method, path, body, h)
end

-- Sends a control request and decodes its JSON answer.
local function control(self, method, path, value, ok_statuses)
  local body = value ~= nil and (type(value) == "string" and value or cjson.encode(value)) or nil
  local status, text = self:request(method, path, body,
    body and { ["content-type"] = "application/json" } or nil)
  if not (ok_statuses or { [200] = true })[status] then
    error(string.format("fake %s %s: %s %s", method, path, tostring(status), text), 3)
  end
  return cjson.decode(text), status
end

function Server:reset()
  control(self, "POST", "/_fake/reset")
end

-- Every /v1 request since the last reset: {method, path, query, headers =
-- {{name, value}, ...}, body, request_id, connection (the client's port)},
-- plus header_map (name -> value,
-- last one wins).
function Server:requests()
  local list = control(self, "GET", "/_fake/requests")
  for _, r in ipairs(list) do
    r.header_map = {}
    for _, kv in ipairs(r.headers) do r.header_map[kv[1]] = kv[2] end
  end
  return list
end

-- Appends scripted responses (see fake/README.md). Note that an empty Lua
-- table in a `json` item is sent as {}; use `body` for exact bytes.
function Server:script(items)
  return control(self, "POST", "/_fake/script", { responses = items })
end

-- How many scripted responses are still waiting.
function Server:pending()
  return control(self, "GET", "/_fake/script").pending
end

function Server:config(cfg)
  control(self, "POST", "/_fake/config", cfg or {})
end

-- Encodes an environment table, writing the fields the API defines as arrays
-- as [] even when they are empty Lua tables.
local EMPTY = "\0fake-empty-array\0"
local function encode_environment(env)
  local function fix(t, key)
    if type(t) == "table" and type(t[key]) == "table" and next(t[key]) == nil then
      t[key] = EMPTY
    end
  end
  local copy = cjson.decode(cjson.encode(env)) -- deep copy we may change
  local config = copy.config
  if type(config) == "table" then
    if type(config.packages) == "table" then
      for _, m in ipairs({ "apt", "cargo", "gem", "go", "npm", "pip" }) do fix(config.packages, m) end
    end
    fix(config.networking, "allowed_hosts")
  end
  return (cjson.encode(copy):gsub('"\\u0000fake%-empty%-array\\u0000"', "[]"))
end

-- Stores `env` (a full environment table; env.id required) in the fake.
function Server:put_environment(env)
  assert(type(env) == "table" and type(env.id) == "string", "environment needs an id")
  return control(self, "PUT", "/_fake/environments/" .. percent_encode(env.id),
    encode_environment(env))
end

-- The stored environment (decoded), or nil if there is none.
function Server:get_environment(id)
  local env, status = control(self, "GET", "/_fake/environments/" .. percent_encode(id), nil,
    { [200] = true, [404] = true })
  if status == 404 then return nil end
  return env
end

-- A client of the library for this server, with api_key `key`, whose retry
-- waits are appended to the list `sleeps` instead of slept; `opts` add to
-- or override those options.
function Server:client(key, sleeps, opts)
  local o = { base_url = self.url, api_key = key, sleep = function(s) sleeps[#sleeps + 1] = s end }
  for k, v in pairs(opts or {}) do o[k] = v end
  return require("anthropic.environments").new(o)
end

-- The one request recorded since the last reset; raises if there were
-- none or several.
function Server:only_request()
  local reqs = self:requests()
  if #reqs ~= 1 then error(string.format("expected exactly 1 request, the fake saw %d", #reqs), 2) end
  return reqs[1]
end

-- The work queue and webhook controls (spec/support/fake_queue.lua).
require("spec.support.fake_queue")(M, Server, control, percent_encode)

function Server:stop()
  if not self.pid then return end
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  local deadline = socket.gettime() + 2
  while alive(self.pid) and socket.gettime() < deadline do socket.sleep(0.01) end
  self.pid = nil
end

return M
