-- The fake's webhook deliveries (fake/webhooks.lua): Standard Webhooks
-- signatures checked byte for byte against the openssl command line, and
-- deliveries received by a luasocket listener in this spec.
local cjson = require "cjson"
local socket = require "socket"
local fake = require "spec.support.fake"

local KEY = fake.WEBHOOK_KEY

local function signed_content(d)
  return d.headers["webhook-id"] .. "." .. d.headers["webhook-timestamp"] .. "." .. d.body
end

local function entries(d)
  local list = {}
  for e in d.headers["webhook-signature"]:gmatch("%S+") do list[#list + 1] = e end
  return list
end

-- Accepts one HTTP request on `listener`, answers it with `status`, and
-- returns {method, path, headers = {lower-case name -> value}, body}.
local function receive(listener, status)
  listener:settimeout(5)
  local c = assert(listener:accept())
  c:settimeout(5)
  local method, path = assert(c:receive("*l")):match("^(%u+) (%S+) HTTP/1%.1$")
  local req = { method = method, path = path, headers = {} }
  while true do
    local line = assert(c:receive("*l"))
    if line == "" then break end
    local name, value = line:match("^([^:]+):%s*(.*)$")
    req.headers[name:lower()] = value
  end
  req.body = assert(c:receive(tonumber(req.headers["content-length"])))
  assert(c:send("HTTP/1.1 " .. status .. " X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"))
  c:close()
  return req
end

describe("fake webhooks", function()
  local server

  setup(function() server = fake.start() end)
  teardown(function() if server then server:stop() end end)
  before_each(function() server:reset() end)

  it("signs an environment event as Standard Webhooks does", function()
    local before = os.time()
    local d = server:sign_webhook { event = { type = "environment.archived",
      environment_id = "env_x", workspace_id = "wrkspc_1" } }
    local event = cjson.decode(d.body)
    assert.are.same({ type = "event", id = event.id, created_at = event.created_at,
      data = { type = "environment.archived", id = "env_x", organization_id = "org_fake_1",
        workspace_id = "wrkspc_1" } }, event)
    assert.matches("^evt_fake_%d+$", event.id)
    assert.matches("^msg_fake_%d+$", d.headers["webhook-id"])
    local ts = tonumber(d.headers["webhook-timestamp"])
    assert.is_true(ts >= before - 1 and ts <= os.time() + 1)
    assert.are.equal("application/json", d.headers["content-type"])
    assert.are.same({ "v1," .. fake.hmac_sha256_base64(KEY, signed_content(d)) }, entries(d))
  end)

  it("signs with a given secret, id and timestamp", function()
    local key = "\0\1\2\255 any bytes"
    local secret = "whsec_AAEC/yBhbnkgYnl0ZXM="
    local d = server:sign_webhook { secret = secret, id = "msg_1", timestamp = 1700000000,
      body = '{"type":"event"}' }
    assert.are.equal("msg_1", d.headers["webhook-id"])
    assert.are.equal("1700000000", d.headers["webhook-timestamp"])
    assert.are.equal('{"type":"event"}', d.body)
    assert.are.equal("v1," .. fake.hmac_sha256_base64(key, 'msg_1.1700000000.{"type":"event"}'),
      d.headers["webhook-signature"])
  end)

  it("sends several signatures, only some of them right", function()
    local d = server:sign_webhook { secrets = { "whsec_d3Jvbmc=", fake.WEBHOOK_SECRET },
      extra_signatures = { "v2,whatever" } }
    local e = entries(d)
    assert.are.equal(3, #e)
    assert.are.equal("v1," .. fake.hmac_sha256_base64("wrong", signed_content(d)), e[1])
    assert.are.equal("v1," .. fake.hmac_sha256_base64(KEY, signed_content(d)), e[2])
    assert.are.equal("v2,whatever", e[3])
  end)

  it("tampers on request, for negative tests", function()
    local d = server:sign_webhook { tamper = "body", id = "m", timestamp = 5, body = "{}" }
    assert.are.equal("{} ", d.body)
    assert.are.equal("v1," .. fake.hmac_sha256_base64(KEY, "m.5.{}"), d.headers["webhook-signature"])
    d = server:sign_webhook { tamper = "signature", id = "m", timestamp = 5, body = "{}" }
    assert.are_not.equal("v1," .. fake.hmac_sha256_base64(KEY, "m.5.{}"), d.headers["webhook-signature"])
    d = server:sign_webhook { tamper = "id", id = "m", timestamp = 5, body = "{}" }
    assert.are.equal("v1," .. fake.hmac_sha256_base64(KEY, "mx.5.{}"), d.headers["webhook-signature"])
    d = server:sign_webhook { tamper = "timestamp", id = "m", timestamp = 5, body = "{}" }
    assert.are.equal("v1," .. fake.hmac_sha256_base64(KEY, "m.6.{}"), d.headers["webhook-signature"])
    d = server:sign_webhook { omit = { "webhook-signature" } }
    assert.is_nil(d.headers["webhook-signature"])
    assert.is_not_nil(d.headers["webhook-id"])
  end)

  it("refuses bad options", function()
    for _, o in ipairs({ '{"url":"http://example.com/"}', '{"secret":"nope"}',
        '{"secret":"whsec_!!"}', '{"tamper":"all"}', '{"colour":1}', '{"timestamp":1.5}' }) do
      local status, body = server:request("POST", "/_fake/webhooks/deliver", o)
      assert.are.equal(400, status, o)
      assert.is_string(cjson.decode(body).error)
    end
  end)

  it("POSTs a delivery to a listener and records the answer", function()
    local listener = assert(socket.bind("127.0.0.1", 0))
    local _, port = listener:getsockname()
    local d = server:deliver_webhook { url = "http://127.0.0.1:" .. port .. "/hooks/env",
      event = { type = "environment.deleted", environment_id = "env_gone" } }
    local req = receive(listener, 200)
    listener:close()
    assert.are.equal("POST", req.method)
    assert.are.equal("/hooks/env", req.path)
    assert.are.equal(d.body, req.body)
    for _, name in ipairs({ "webhook-id", "webhook-timestamp", "webhook-signature" }) do
      assert.are.equal(d.headers[name], req.headers[name])
    end
    assert.are.equal("v1," .. fake.hmac_sha256_base64(KEY, req.headers["webhook-id"] .. "."
      .. req.headers["webhook-timestamp"] .. "." .. req.body), req.headers["webhook-signature"])
    assert.are.equal("env_gone", cjson.decode(req.body).data.id)
    local done = server:wait_webhook(d.delivery)
    assert.are.equal(200, done.status)
    assert.are.equal("ok", done.response_body)
  end)

  it("records a receiver's refusal and an unreachable receiver", function()
    local listener = assert(socket.bind("127.0.0.1", 0))
    local _, port = listener:getsockname()
    local d = server:deliver_webhook { url = "http://127.0.0.1:" .. port .. "/", tamper = "body" }
    receive(listener, 400)
    assert.are.equal(400, server:wait_webhook(d.delivery).status)
    listener:close()
    d = server:deliver_webhook { url = "http://127.0.0.1:" .. port .. "/" }
    local done = server:wait_webhook(d.delivery)
    assert.are.equal(cjson.null, done.status)
    assert.is_string(done.error)
    assert.are.equal(2, #server:webhook_deliveries())
  end)

  it("sends events on environment changes to a registered URL", function()
    local listener = assert(socket.bind("127.0.0.1", 0))
    local _, port = listener:getsockname()
    server:register_webhook("http://127.0.0.1:" .. port .. "/", fake.WEBHOOK_SECRET)
    local status, body = server:api("POST", "/v1/environments", { name = "hooked" })
    assert.are.equal(200, status)
    local id = cjson.decode(body).id
    server:api("POST", "/v1/environments/" .. id .. "/archive")
    server:api("DELETE", "/v1/environments/" .. id)
    local types = {}
    for i = 1, 3 do
      local req = receive(listener, 204)
      local event = cjson.decode(req.body)
      assert.are.equal(id, event.data.id)
      types[i] = event.data.type
      assert.are.equal("v1," .. fake.hmac_sha256_base64(KEY, req.headers["webhook-id"] .. "."
        .. req.headers["webhook-timestamp"] .. "." .. req.body), req.headers["webhook-signature"])
    end
    listener:close()
    table.sort(types)
    assert.are.same({ "environment.archived", "environment.created", "environment.deleted" }, types)
  end)
end)
