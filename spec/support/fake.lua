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
-- file is server.ca_file. `into`, if given, is the table made the server.
function M.start(opts, into)
  opts = opts or {}
  local lua = os.getenv("FAKE_LUA") or "lua5.3"
  local out = os.tmpname()
  local extra, cert, key = "", nil, nil   -- luacheck: ignore key
  if opts.tls then
    cert, key = self_signed()
    extra = " --tls-cert " .. shell_quote(cert) .. " --tls-key " .. shell_quote(key)
  end
  -- The server's stdout goes to a file we poll (so we can time out); its
  -- stderr stays ours, so its error messages show up in the test output.
  -- LD_PRELOAD is dropped: under `make sanitize` it loads ASan, which is
  -- for our module, not for the fake's interpreter.
  local cmd = string.format("env -u LD_PRELOAD %s %s --host 127.0.0.1 --port 0 --watch-pid %s%s > %s & echo $!",
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

------------------------------------------------------------------------------
-- The work queue of self-hosted environments (see fake/README.md). Items
-- come back as the fake stores them: the API's fields, `secret`, and the
-- fake's `claimed`, `worker` and `lease` ({last_heartbeat, expired,
-- expires_in, worker} or cjson.null).
------------------------------------------------------------------------------
local function work_path(env_id, work_id, action)
  local p = "/_fake/work/" .. percent_encode(env_id)
  if work_id then p = p .. "/" .. percent_encode(work_id) end
  if action then p = p .. "/" .. action end
  return p
end

-- Queues work items in `env_id` (a self-hosted environment, such as
-- "env_selfhosted01"). `items` is a list of specs, one spec, or nil for
-- one default item; a spec may give id, session_id, metadata, secret,
-- created_at, or data (the whole data object). Returns the list of items,
-- secrets included. Long polls waiting on the queue wake up.
function Server:enqueue_work(env_id, items)
  local body
  if items == nil then
    body = "{}"
  elseif items[1] ~= nil then
    body = { items = items }
  else
    body = items
  end
  return control(self, "POST", work_path(env_id), body).data
end

-- {data = [item...] oldest first, workers = {worker id -> seconds since its
-- last poll, or "polling"}}
function Server:work_state(env_id)
  return control(self, "GET", work_path(env_id))
end

-- One item, or nil if there is none.
function Server:work_item(env_id, work_id)
  local item, status = control(self, "GET", work_path(env_id, work_id), nil,
    { [200] = true, [404] = true })
  if status == 404 then return nil end
  return item
end

-- The server asks the item to stop: state "stopping", so the next
-- heartbeat answers state = "stopping" (the lease is still extended).
function Server:request_work_stop(env_id, work_id)
  return control(self, "POST", work_path(env_id, work_id, "stop"))
end

-- Another worker takes the lease: a new last_heartbeat (returned in
-- item.lease.last_heartbeat), so a heartbeat echoing the old one gets 412.
-- opts: worker (name), ttl_seconds.
function Server:steal_lease(env_id, work_id, opts)
  return control(self, "POST", work_path(env_id, work_id, "steal"), opts or "{}")
end

-- The item's lease runs out now: a heartbeat echoing its last_heartbeat
-- answers lease_extended = false, NO_HEARTBEAT may claim it again, and a
-- stopping item becomes stopped.
function Server:expire_lease(env_id, work_id)
  return control(self, "POST", work_path(env_id, work_id, "expire"))
end

-- Moves the fake's clock forward (leases, reclaim ages and timestamps all
-- follow it). Returns the fake's new time (RFC 3339, microseconds).
function Server:advance_clock(seconds)
  return control(self, "POST", "/_fake/clock", { advance_seconds = seconds }).now
end

------------------------------------------------------------------------------
-- Webhooks. opts (all optional): url (loopback http://; without it nothing
-- is sent), event = {type, environment_id, organization_id, workspace_id,
-- event_id, created_at}, body (exact bytes instead of an event), secret
-- ("whsec_<base64>", default M.WEBHOOK_SECRET), secrets (a list: one v1
-- entry each, in order), extra_signatures (entries appended verbatim), id,
-- timestamp (Unix seconds), tamper ("body", "signature", "id" or
-- "timestamp"), omit (header names to leave out), headers (extra ones).
------------------------------------------------------------------------------
M.WEBHOOK_KEY = "fake-webhook-signing-key-32bytes"
M.WEBHOOK_SECRET = "whsec_ZmFrZS13ZWJob29rLXNpZ25pbmcta2V5LTMyYnl0ZXM="

-- base64(HMAC-SHA256(key, message)) computed by the openssl command line,
-- for checking the fake's signatures independently. `key` is raw bytes.
function M.hmac_sha256_base64(key, message)
  local hexkey = key:gsub(".", function(c) return string.format("%02x", c:byte()) end)
  local file = os.tmpname()
  local f = assert(io.open(file, "wb"))
  f:write(message)
  f:close()
  local p = assert(io.popen("openssl dgst -sha256 -mac HMAC -macopt hexkey:" .. hexkey
    .. " -binary < " .. shell_quote(file) .. " | openssl base64 -A"))
  local out = p:read("*a")
  p:close()
  os.remove(file)
  return (out:gsub("%s+$", ""))
end

-- A signed delivery, not sent: {id, timestamp, body, headers = {name ->
-- value}} (header names lower-case).
function Server:sign_webhook(opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.url = nil
  return control(self, "POST", "/_fake/webhooks/deliver", next(o) and o or "{}")
end

-- Sends a signed delivery to opts.url in the background and returns it at
-- once (with its number, `delivery`); see wait_webhook for the outcome.
function Server:deliver_webhook(opts)
  assert(type(opts) == "table" and type(opts.url) == "string", "deliver_webhook needs opts.url")
  return control(self, "POST", "/_fake/webhooks/deliver", opts)
end

-- The delivery numbered `n` once it is done ({status, response_body,
-- error, ...}); raises after `timeout` seconds (default 5).
function Server:wait_webhook(n, timeout)
  local deadline = socket.gettime() + (timeout or 5)
  while true do
    local d = control(self, "GET", string.format("/_fake/webhooks/deliveries/%d", n))
    if d.done then return d end
    if socket.gettime() > deadline then error("webhook delivery " .. n .. " not done", 2) end
    socket.sleep(0.01)
  end
end

-- Every delivery since the last reset.
function Server:webhook_deliveries()
  return control(self, "GET", "/_fake/webhooks/deliveries")
end

-- From now on (until reset) every environment create, update, archive and
-- delete sends an event to `url`, signed with `secret`.
function Server:register_webhook(url, secret)
  return control(self, "POST", "/_fake/webhooks", { url = url, secret = secret })
end

function Server:stop()
  if not self.pid then return end
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  local deadline = socket.gettime() + 2
  while alive(self.pid) and socket.gettime() < deadline do socket.sleep(0.01) end
  self.pid = nil
end

return M
