-- environments.unwrap_webhook and anthropic.environments.webhook: Standard
-- Webhooks deliveries verified by the C core. Expected signatures come from
-- the openssl command (and the published Standard Webhooks test vector),
-- never from the code under test.
local environments = require "anthropic.environments"
local webhook = require "anthropic.environments.webhook"
local hosts = require "spec.support.hosts"
local vectors = require "spec.support.webhook"
local fake = require "spec.support.fake"

local format = string.format
local shell_quote = hosts.shell_quote

-- The published Standard Webhooks test vector.
local VECTOR = {
  secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id = "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp = "1614265330",
  body = '{"test": 2432232314}',
  signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}

local SECRET = vectors.SECRET
local SECRET_B64 = SECRET:sub(7)
local OTHER = vectors.OTHER
local NOW = 1775000000
local ID = vectors.ID
local BODY = vectors.BODY

local sign = vectors.sign

-- A delivery signed at `timestamp` (default NOW).
local function delivery(timestamp, body, secret)
  timestamp = tostring(timestamp or NOW)
  body = body or BODY
  return body, {
    ["webhook-id"] = ID,
    ["webhook-timestamp"] = timestamp,
    ["webhook-signature"] = sign(secret or SECRET, ID, timestamp, body),
  }
end

local function refused(reason, event, err)
  assert.is_nil(event)
  assert.is_true(environments.is_error(err), "not a library error: " .. tostring(err))
  assert.are.equal("webhook", err.kind)
  assert.are.equal(reason, err.reason, tostring(err))
  assert.are.equal("string", type(err.message))
  for _, s in ipairs { SECRET, SECRET_B64, OTHER, OTHER:sub(7), VECTOR.secret, VECTOR.secret:sub(7) } do
    assert.is_nil(tostring(err):find(s, 1, true), "the secret is in tostring(err)")
    for k, v in pairs(err) do
      assert.is_nil(tostring(v):find(s, 1, true), "the secret is in err." .. tostring(k))
    end
  end
  return err
end

describe("webhooks", function()
  describe("the signing helper of this spec", function()
    it("reproduces the published Standard Webhooks vector with openssl", function()
      assert.are.equal(VECTOR.signature, sign(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body))
    end)
  end)

  describe("unwrap_webhook", function()
    it("accepts the published Standard Webhooks test vector", function()
      local event, err = environments.unwrap_webhook(VECTOR.body, {
        ["webhook-id"] = VECTOR.id, ["webhook-timestamp"] = VECTOR.timestamp,
        ["webhook-signature"] = VECTOR.signature,
      }, { key = VECTOR.secret, now = tonumber(VECTOR.timestamp) })
      assert.is_nil(err)
      assert.are.equal(2432232314, event.test)
    end)

    it("verifies a delivery and returns the decoded environment event", function()
      local body, headers = delivery()
      local event, err = environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW })
      assert.is_nil(err)
      assert.are.same({
        type = "event", id = "wevt_01", created_at = "2026-04-01T00:00:00Z",
        data = { type = "environment.archived", id = "env_011CZkZ9X2dpNyB7HsEFoRfW",
                 organization_id = "org_01", workspace_id = "wrkspc_01" },
      }, event)
    end)

    it("is the module's unwrap", function()
      assert.are.equal(webhook.unwrap, environments.unwrap_webhook)
    end)

    it("accepts a raw base64 secret without the whsec_ prefix", function()
      local body, headers = delivery()
      assert.is_table((environments.unwrap_webhook(body, headers, { key = SECRET_B64, now = NOW })))
    end)

    it("accepts a delivery when one of several signatures matches", function()
      local body, headers = delivery()
      local right = headers["webhook-signature"]
      local wrong = sign(OTHER, ID, tostring(NOW), body)
      for _, header in ipairs {
        wrong .. " " .. right,
        right .. " " .. wrong,
        "v2,c29tZXRoaW5nLWVsc2U= " .. wrong .. " v1,not-base64!! v1, " .. right .. "  ",
      } do
        headers["webhook-signature"] = header
        local event, err = environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW })
        assert.is_nil(err, header)
        assert.are.equal("wevt_01", event.id)
      end
    end)

    it("refuses a tampered body", function()
      local body, headers = delivery()
      refused("bad_signature", environments.unwrap_webhook(body:gsub("archived", "deleted"), headers,
        { key = SECRET, now = NOW }))
      refused("bad_signature", environments.unwrap_webhook(body .. " ", headers, { key = SECRET, now = NOW }))
    end)

    it("refuses a tampered id or timestamp", function()
      local body, headers = delivery()
      headers["webhook-id"] = ID .. "x"
      refused("bad_signature", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
      body, headers = delivery()
      headers["webhook-timestamp"] = tostring(NOW + 1)
      refused("bad_signature", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
    end)

    it("refuses a delivery signed with another secret", function()
      local body, headers = delivery(NOW, BODY, OTHER)
      local err = refused("bad_signature", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
      assert.are.equal("anthropic.environments: webhook error (bad_signature): "
        .. "no signature in webhook-signature matches the signing key", tostring(err))
    end)

    it("refuses a header with only signatures of other schemes or forms", function()
      local body, headers = delivery()
      local b64 = headers["webhook-signature"]:sub(4)
      for _, header in ipairs { "v2," .. b64, b64, "v1" .. b64, "v1,", "V1," .. b64,
                                "v1," .. b64:gsub("=$", ""), "v1," .. b64 .. "=", "v1," .. b64 .. ",x" } do
        headers["webhook-signature"] = header
        refused("bad_signature", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
      end
    end)

    it("refuses a timestamp older than 300 s and accepts one exactly 300 s old", function()
      local body, headers = delivery(NOW - 301)
      local err = refused("timestamp_too_old", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
      assert.are.equal(NOW - 301, err.timestamp)
      assert.matches("signed 301 s ago", err.message, 1, true)
      body, headers = delivery(NOW - 300)
      assert.is_table((environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW })))
    end)

    it("refuses a timestamp more than 300 s ahead and accepts one exactly 300 s ahead", function()
      local body, headers = delivery(NOW + 301)
      refused("timestamp_in_future", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
      body, headers = delivery(NOW + 300)
      assert.is_table((environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW })))
    end)

    it("checks the signature before the time: a stale forgery is a bad signature", function()
      local body, headers = delivery(NOW - 3600, BODY, OTHER)
      refused("bad_signature", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
    end)

    it("takes the tolerance option", function()
      local body, headers = delivery(NOW - 11)
      refused("timestamp_too_old", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW, tolerance = 10 }))
      body, headers = delivery(NOW + 11)
      refused("timestamp_in_future", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW, tolerance = 10 }))
      body, headers = delivery(NOW - 10)
      assert.is_table((environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW, tolerance = 10 })))
      body, headers = delivery(NOW - 3000)
      assert.is_table((environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW, tolerance = 3600 })))
    end)

    it("uses the clock when now is not given", function()
      local body, headers = delivery(os.time())
      assert.is_table((environments.unwrap_webhook(body, headers, { key = SECRET })))
      body, headers = delivery(os.time() - 600)
      refused("timestamp_too_old", environments.unwrap_webhook(body, headers, { key = SECRET }))
    end)

    it("names each missing or empty header", function()
      for _, name in ipairs { "webhook-id", "webhook-timestamp", "webhook-signature" } do
        for _, value in ipairs { false, "", { "" }, {} } do
          local body, headers = delivery()
          headers[name] = value or nil
          local err = refused("missing_header", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
          assert.are.equal(name, err.header)
          assert.are.equal("the delivery has no " .. name .. " header", err.message)
        end
      end
      local err = refused("missing_header", environments.unwrap_webhook(BODY, {}, { key = SECRET, now = NOW }))
      assert.are.equal("webhook-id", err.header)
    end)

    it("refuses a timestamp that is not a whole number of seconds", function()
      for _, ts in ipairs { "abc", "-5", "1e9", tostring(NOW) .. ".5", " " .. NOW, "0x10", "1234567890123456" } do
        local body = BODY
        local headers = { ["webhook-id"] = ID, ["webhook-timestamp"] = ts,
                          ["webhook-signature"] = sign(SECRET, ID, ts, body) }
        local err = refused("invalid_header", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
        assert.are.equal("webhook-timestamp", err.header)
      end
    end)

    it("signs the timestamp as its integer, as the Standard Webhooks libraries do", function()
      local body = BODY
      local headers = { ["webhook-id"] = ID, ["webhook-timestamp"] = "00" .. NOW,
                        ["webhook-signature"] = sign(SECRET, ID, tostring(NOW), body) }
      assert.is_table((environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW })))
    end)

    it("refuses a malformed secret", function()
      local body, headers = delivery()
      for _, key in ipairs { "whsec_", "whsec_!!!!", "whsec_abcde", "whsec_YWJj ZA==", "whsec_YW==Jj",
                             "whsec_" .. SECRET_B64 .. "\n", "whsec_" .. ("A"):rep(1028), "=", "whsec_====" } do
        local err = refused("malformed_secret", environments.unwrap_webhook(body, headers, { key = key, now = NOW }))
        if #key > 8 then assert.is_nil(tostring(err):find(key:sub(7), 1, true)) end
      end
    end)

    it("refuses an authentic body that is not a JSON object", function()
      for _, text in ipairs { "not json", "", '{"a":', "[1,2]", "42", '"event"', "[]", " [ ] ", "null", "true",
                              '[{"type":"event"}]' } do
        local body, headers = delivery(NOW, text)
        local err = refused("invalid_json", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
        assert.matches("^the body is not", err.message)
      end
    end)

    it("takes an object with whitespace around it, and an empty object", function()
      for _, text in ipairs { ' \n {"type":"event","id":"evt_1"} \n', "{}" } do
        local body, headers = delivery(NOW, text)
        local event = environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW })
        assert.is_table(event, text)
      end
    end)

    it("takes nginx's headers: lower-case names, a repeated header as a list", function()
      local body, headers = delivery()
      local right = headers["webhook-signature"]
      headers["webhook-signature"] = { sign(OTHER, ID, tostring(NOW), body), right }
      headers["content-type"] = "application/json"
      headers["x-forwarded-for"] = { "10.0.0.1", "10.0.0.2" }
      assert.is_table((environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW })))
      headers["webhook-id"] = { ID, ID }   -- repeated, the same
      assert.is_table((environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW })))
      headers["webhook-id"] = { ID, "msg_other" }
      local err = refused("invalid_header", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
      assert.are.equal("webhook-id", err.header)
    end)

    it("takes a plain table with names in any case", function()
      local body, h = delivery()
      local headers = { ["Webhook-Id"] = h["webhook-id"], ["WEBHOOK-TIMESTAMP"] = h["webhook-timestamp"],
                        ["webhook-Signature"] = "v1,AAAA", ["Webhook-Signature"] = h["webhook-signature"] }
      assert.is_table((environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW })))
    end)

    it("reads the key from ANTHROPIC_WEBHOOK_SIGNING_KEY", function()
      local body, headers = delivery()
      local code = format([[
        local e = require "anthropic.environments"
        local event, err = e.unwrap_webhook(%q, { ["webhook-id"] = %q, ["webhook-timestamp"] = %q,
          ["webhook-signature"] = %q }, { now = %d })
        io.write(event and event.data.type or err.reason)]],
        body, headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"], NOW)
      local function child(key)
        local p = io.popen(format("cd %s && env %s LUA_PATH=%s LUA_CPATH=%s %s -e %s 2>&1",
          shell_quote(hosts.ROOT), key and "ANTHROPIC_WEBHOOK_SIGNING_KEY=" .. shell_quote(key)
          or "-u ANTHROPIC_WEBHOOK_SIGNING_KEY",
          shell_quote(hosts.ROOT .. "/lua/?.lua;" .. package.path), shell_quote(package.cpath),
          fake.interpreter(), shell_quote(code)))
        local out = p:read("*a")
        p:close()
        return out
      end
      assert.are.equal("environment.archived", child(SECRET))
      assert.are.equal("bad_signature", child(OTHER))
      local out = child(nil)
      assert.matches("anthropic.environments.unwrap_webhook: no signing key: pass opts.key or set "
        .. "ANTHROPIC_WEBHOOK_SIGNING_KEY", out, 1, true)
      assert.matches("%(command line%):2:", out)
      assert.are.equal(out:match("^[^\n]*"), child(""):match("^[^\n]*"))
    end)

    it("stays linear: 10,000 signatures, a 20 MB body", function()
      local body, headers = delivery()
      local right = headers["webhook-signature"]
      local many = {}
      for i = 1, 10000 do many[i] = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" .. (i % 10) end
      headers["webhook-signature"] = table.concat(many, " ")
      refused("bad_signature", environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
      headers["webhook-signature"] = table.concat(many, " ") .. " " .. right
      assert.is_table((environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW })))

      local big = '{"type":"event","pad":"' .. ("x"):rep(20 * 1024 * 1024) .. '"}'
      body, headers = delivery(NOW, big)
      local event = assert(environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW }))
      assert.are.equal(20 * 1024 * 1024, #event.pad)
      refused("bad_signature", environments.unwrap_webhook(body .. "x", headers, { key = SECRET, now = NOW }))
    end)
  end)

  describe("programmer mistakes raise at the caller's line", function()
    local body, headers
    setup(function() body, headers = delivery() end)

    local function raises(message, ...)
      local ok, err = pcall(environments.unwrap_webhook, ...)
      assert.is_false(ok)
      assert.matches("anthropic.environments.unwrap_webhook: " .. message, err, 1, true)
      -- and from a Lua caller, at its line
      local line = debug.getinfo(1, "l").currentline + 1
      ok, err = pcall(function(...) return (environments.unwrap_webhook(...)) end, ...)
      assert.is_false(ok)
      assert.matches("webhook_spec.lua:" .. line .. ": ", err, 1, true)
      assert.is_nil(err:find(SECRET_B64, 1, true))
    end

    it("checks body, headers and options", function()
      raises("body must be a string (got nil)", nil, headers, { key = SECRET })
      raises("body must be a string (got table)", {}, headers, { key = SECRET })
      raises("headers must be a table (got string)", body, "webhook-id: x", { key = SECRET })
      raises("opts must be a table (got string)", body, headers, SECRET)
      raises("unknown option 'secret'", body, headers, { secret = SECRET })
      raises("unknown option 'tolerence'", body, headers, { key = SECRET, tolerence = 5 })
      raises("option 'key' must be a non-empty string (got number)", body, headers, { key = 42 })
      raises("option 'key' must be a non-empty string (got an empty string)", body, headers, { key = "" })
      for _, t in ipairs { 0, -1, 0 / 0, math.huge, "300" } do
        raises("option 'tolerance' must be a positive finite number of seconds", body, headers,
          { key = SECRET, tolerance = t })
      end
      raises("option 'now' must be a finite number (Unix seconds)", body, headers, { key = SECRET, now = "1" })
      raises("header 'webhook-id' must be a string or a list of strings (got number)", body,
        { ["webhook-id"] = 5 }, { key = SECRET })
      raises("header 'Webhook-Signature' value 2 must be a string (got boolean)", body,
        { ["Webhook-Signature"] = { "v1,x", true } }, { key = SECRET })
    end)
  end)

  describe("webhook.verify", function()
    it("verifies without decoding", function()
      local body, headers = delivery(NOW, "plain text, not JSON")
      assert.is_true(webhook.verify(body, headers, { key = SECRET, now = NOW }))
      refused("bad_signature", webhook.verify(body .. "!", headers, { key = SECRET, now = NOW }))
    end)
  end)

  describe("webhook.parse_headers", function()
    it("reads a saved header block into nginx's shape, which unwrap takes", function()
      local body, h = delivery()
      local text = "POST /webhooks HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\n"
        .. "Webhook-Id: " .. h["webhook-id"] .. "\r\nWebhook-Timestamp:  " .. h["webhook-timestamp"] .. " \r\n"
        .. "Webhook-Signature: v1,AAAA\r\nwebhook-signature: " .. h["webhook-signature"] .. "\r\n\r\n" .. body
      local headers = assert(webhook.parse_headers(text))
      assert.are.same({
        host = "example.com", ["content-type"] = "application/json",
        ["webhook-id"] = h["webhook-id"], ["webhook-timestamp"] = h["webhook-timestamp"],
        ["webhook-signature"] = { "v1,AAAA", h["webhook-signature"] },
      }, headers)
      assert.is_table((environments.unwrap_webhook(body, headers, { key = SECRET, now = NOW })))
      assert.are.same({ a = "1" }, webhook.parse_headers("HTTP/1.1 200 OK\na: 1\n"))
    end)

    it("refuses a line that is not a header", function()
      local err = refused("invalid_header", webhook.parse_headers("a: 1\nnot a header\n"))
      assert.are.equal("line 2 is not a 'Name: value' header", err.message)
      local ok, msg = pcall(webhook.parse_headers, nil)
      assert.is_false(ok)
      assert.matches("anthropic.environments.webhook.parse_headers: text must be a string (got nil)", msg, 1, true)
    end)
  end)
end)
