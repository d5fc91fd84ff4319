-- Standard Webhooks deliveries signed for the specs by the openssl command
-- (spec/support/fake.lua), never by the code under test.
local fake = require "spec.support.fake"
local hosts = require "spec.support.hosts"

local M = {
  SECRET = "whsec_c2VjcmV0LWZvci10aGUtd2ViaG9vay1zcGVjcy0xMjM0",
  OTHER = "whsec_b3RoZXItc2VjcmV0LW5vdC10aGUtcmlnaHQtb25lIQ==",
  ID = "msg_2xEnvArchived0001",
  BODY = '{"type":"event","id":"wevt_01","created_at":"2026-04-01T00:00:00Z",'
    .. '"data":{"type":"environment.archived","id":"env_011CZkZ9X2dpNyB7HsEFoRfW",'
    .. '"organization_id":"org_01","workspace_id":"wrkspc_01"}}',
}

-- The key's bytes: the base64 after "whsec_", decoded by the base64 command.
local function key_of(secret)
  local out, err, code = hosts.run("printf %s " .. hosts.shell_quote((secret:gsub("^whsec_", "")))
    .. " | base64 -d | od -An -v -tx1 | tr -d ' \\n'")
  assert(code == 0, "base64 failed: " .. tostring(err))
  return (out:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

--- webhook.sign(secret, id, timestamp, body) -> "v1,<base64 HMAC-SHA256>"
function M.sign(secret, id, timestamp, body)
  local out = fake.hmac_sha256_base64(key_of(secret), id .. "." .. timestamp .. "." .. body)
  assert(out:match("^[%w+/]+=*$"), "openssl failed")
  return "v1," .. out
end

return M
