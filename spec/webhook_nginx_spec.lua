-- Webhooks inside nginx with its Lua module: the /webhooks/environments
-- location of examples/openresty/nginx.conf, started on loopback with
-- ANTHROPIC_WEBHOOK_SIGNING_KEY set, answers 204 to authentic deliveries
-- (and logs the event) and 400 with the reason to forged, altered, stale or
-- incomplete ones. Signatures come from the openssl command. Runs once per
-- `make test`, in its LuaJIT run, like spec/nginx_spec.lua.
local hosts = require "spec.support.hosts"
local nginx = require "spec.support.nginx"
local socket = require "socket"

if not hosts.ONCE then return end

local SECRET = "whsec_bmdpbngtd2ViaG9vay1zcGVjLXNpZ25pbmcta2V5IQ=="
local OTHER = "whsec_Zm9yZ2VyLWtleS1ub3QtdGhlLXJlYWwtb25lLTEyMzQ="
local PATH = "/webhooks/environments"

local function body_of(kind, env_id)
  return string.format('{"type":"event","id":"wevt_%s","created_at":"2026-04-01T00:00:00Z",'
    .. '"data":{"type":"environment.%s","id":"%s","organization_id":"org_01","workspace_id":"wrkspc_01"}}',
    kind, kind, env_id)
end

-- "v1,<base64 HMAC-SHA256>" by the openssl command.
local function sign(secret, id, timestamp, body)
  local file = os.tmpname()
  hosts.write_file(file, id .. "." .. timestamp .. "." .. body)
  local out, err, code = hosts.run(string.format(
    "key=$(printf %%s %s | base64 -d | od -An -v -tx1 | tr -d ' \\n') && "
    .. "openssl dgst -sha256 -mac HMAC -macopt hexkey:$key -binary %s | base64 -w0",
    hosts.shell_quote((secret:gsub("^whsec_", ""))), hosts.shell_quote(file)))
  os.remove(file)
  assert(code == 0 and out:match("^[%w+/]+=*$"), "openssl failed: " .. tostring(err))
  return "v1," .. out
end

-- The example configuration with this checkout's paths, a free port, and
-- the notice-level log the location writes events to.
local function test_conf()
  local conf = assert(hosts.read_file(hosts.ROOT .. "/examples/openresty/nginx.conf"))
  local n
  conf = conf:gsub("/path/to/anthropic%-environments", hosts.ROOT)
  conf, n = conf:gsub("listen 127%.0%.0%.1:8080;", "listen 127.0.0.1:@PORT@;")
  assert(n == 1)
  conf, n = conf:gsub("\nhttp {\n", "\nhttp {\n"
    .. "    error_log @PREFIX@/logs/webhook.log notice;\n", 1)
  assert(n == 1)
  -- spec/support/nginx.lua gives the pid file with -g (the example's is under its prefix too)
  conf, n = conf:gsub("\npid logs/nginx%.pid;\n", "\n", 1)
  assert(n == 1)
  assert(conf:find("location = " .. PATH, 1, true), "the example has no " .. PATH .. " location")
  return conf
end

-- One request over a new connection; `headers` is a list of "Name: value"
-- lines. Returns status, body.
local function request(server, method, headers, body)
  local c = socket.tcp()
  c:settimeout(5, "t")
  assert(c:connect("127.0.0.1", server.port))
  local head = { method .. " " .. PATH .. " HTTP/1.0", "Host: 127.0.0.1",
                 "Content-Type: application/json", "Content-Length: " .. #body }
  for _, h in ipairs(headers) do head[#head + 1] = h end
  assert(c:send(table.concat(head, "\r\n") .. "\r\n\r\n" .. body))
  local response = assert(c:receive("*a"))
  c:close()
  local status, rest = response:match("^HTTP/1%.%d (%d+) .-\r\n\r\n(.*)$")
  return tonumber(status), rest
end

local missing = nginx.missing()

describe("webhooks inside nginx (lua-nginx-module)", function()
  if missing then
    pending("nginx with its Lua module is not installed: " .. missing)
    return
  end

  local server

  setup(function()
    server = nginx.start { conf = test_conf(), env = { ANTHROPIC_WEBHOOK_SIGNING_KEY = SECRET } }
  end)
  teardown(function() if server then server:stop() end end)

  local function events_log() return hosts.read_file(server.prefix .. "/logs/webhook.log") or "" end

  local function deliver(opts)
    local ts = tostring(opts.timestamp or os.time())
    local body = opts.body or body_of("archived", "env_011CZkZ9X2dpNyB7HsEFoRfW")
    local signature = opts.signature or sign(opts.secret or SECRET, "msg_nginx1", ts, body)
    local headers = { "Webhook-Id: msg_nginx1", "Webhook-Timestamp: " .. ts }
    if type(signature) == "table" then
      for _, s in ipairs(signature) do headers[#headers + 1] = "Webhook-Signature: " .. s end
    else
      headers[#headers + 1] = "Webhook-Signature: " .. signature
    end
    if opts.drop then
      for i = #headers, 1, -1 do
        if headers[i]:lower():find("^" .. opts.drop .. ":") then table.remove(headers, i) end
      end
    end
    return request(server, opts.method or "POST", headers, opts.tamper and opts.tamper(body) or body)
  end

  it("answers 204 to an authentic delivery and handles the event", function()
    local body = body_of("created", "env_nginxcreated01")
    local status, text = deliver { body = body }
    assert.are.equal(204, status, tostring(text) .. server:error_log())
    assert.matches("webhook: wevt_created environment.created env_nginxcreated01", events_log(), 1, true)
  end)

  it("answers 204 when one of repeated webhook-signature headers matches", function()
    local ts = tostring(os.time())
    local body = body_of("updated", "env_nginxupdated01")
    local status = deliver { timestamp = ts, body = body,
      signature = { sign(OTHER, "msg_nginx1", ts, body), sign(SECRET, "msg_nginx1", ts, body) } }
    assert.are.equal(204, status, server:error_log())
    assert.matches("environment.updated env_nginxupdated01", events_log(), 1, true)
  end)

  it("answers 400 to forged, altered, stale and incomplete deliveries", function()
    local cases = {
      { "bad_signature", { secret = OTHER } },
      { "bad_signature", { tamper = function(b) return (b:gsub("archived", "deleted")) end } },
      { "timestamp_too_old", { timestamp = os.time() - 600 } },
      { "timestamp_in_future", { timestamp = os.time() + 600 } },
      { "missing_header", { drop = "webhook%-signature" } },
      { "missing_header", { drop = "webhook%-id" } },
      { "missing_header", { drop = "webhook%-timestamp" } },
      { "invalid_json", { body = "not json" } },
    }
    for i, case in ipairs(cases) do
      local status, text = deliver(case[2])
      assert.are.equal(400, status, "case " .. i .. ": " .. tostring(text))
      assert.are.equal(case[1] .. "\n", text, "case " .. i)
    end
    local log = events_log()
    assert.matches("webhook refused: timestamp_too_old", log, 1, true)
    assert.is_nil(log:find(SECRET:sub(7), 1, true), "the secret is in the log")
    assert.is_nil(log:find("environment.deleted", 1, true), "an altered delivery was handled")
  end)

  it("answers 405 to other methods", function()
    assert.are.equal(405, (deliver { method = "PUT" }))
  end)
end)
