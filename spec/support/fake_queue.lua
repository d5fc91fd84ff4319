-- The fake's work queue and webhook controls, as methods of the server
-- objects of spec/support/fake.lua (which installs them): enqueue work,
-- steal or expire leases, move the clock, sign and deliver webhooks.
local socket = require "socket"
local hosts = require "spec.support.hosts"

local shell_quote = hosts.shell_quote

return function(M, Server, control, percent_encode)

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

end
