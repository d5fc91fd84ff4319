-- Webhook deliveries signed as Standard Webhooks do: headers webhook-id,
-- webhook-timestamp and webhook-signature ("v1,<base64 HMAC-SHA256>" over
-- "<id>.<timestamp>.<body>", keyed with the base64-decoded part of the
-- "whsec_..." secret). Deliveries are POSTed in the background, so a test
-- can receive them on its own listener; their results are kept.
local cqueues = require "cqueues"
local http_request = require "http.request"
local http_util = require "http.util"
local hmac = require "openssl.hmac"
local json = require "fake.json"
local util = require "fake.util"
local store = require "fake.store"
local envs = require "fake.environments"

local NULL, is_array, is_object = json.null, json.is_array, json.is_object

local M = {}

-- base64 of "fake-webhook-signing-key-32bytes"
M.DEFAULT_SECRET = "whsec_" .. util.base64_encode("fake-webhook-signing-key-32bytes")
M.TIMEOUT = 10  -- seconds for one delivery
M.ORGANIZATION_ID, M.WORKSPACE_ID = "org_fake_1", "wrkspc_fake_1"

store.on_reset(function(state)
  state.deliveries, state.endpoints = {}, {}
end)

-- base64(HMAC-SHA256(key, id.ts.body)) for a "whsec_" secret, or nil, message.
function M.signature(secret, id, timestamp, body)
  local b64 = type(secret) == "string" and secret:match("^whsec_(.*)$")
  local key = b64 and util.base64_decode(b64)
  if not key or key == "" then return nil, "secret must be whsec_<base64>" end
  return util.base64_encode(hmac.new(key, "sha256"):final(id .. "." .. timestamp .. "." .. body))
end

-- The body of an environment event.
function M.event_body(ev)
  store.counters.delivery = store.counters.delivery + 1
  return json.encode {
    type = "event",
    id = ev.event_id or ("evt_fake_" .. store.counters.delivery),
    created_at = ev.created_at or util.now(),
    data = {
      type = ev.type or "environment.created",
      id = ev.environment_id or "env_011CZkZ9X2dpNyB7HsEFoRfW",
      organization_id = ev.organization_id or M.ORGANIZATION_ID,
      workspace_id = ev.workspace_id or M.WORKSPACE_ID,
    },
  }
end

local OPTIONS = { url = 1, body = 1, event = 1, secret = 1, secrets = 1, extra_signatures = 1,
  id = 1, timestamp = 1, tamper = 1, omit = 1, headers = 1 }
local TAMPER = { body = true, signature = true, id = true, timestamp = true }

local function string_list(v, name)
  if v == nil then return {} end
  if not is_array(v) then return nil, name .. " must be an array of strings" end
  for _, s in ipairs(v) do
    if type(s) ~= "string" then return nil, name .. " must be an array of strings" end
  end
  return v
end

local function check(o)
  if not is_object(o) then return "expected an object" end
  for k in pairs(o) do
    if not OPTIONS[k] then return "unknown option " .. tostring(k) end
  end
  for _, k in ipairs({ "url", "body", "secret", "id" }) do
    if o[k] ~= nil and type(o[k]) ~= "string" then return k .. " must be a string" end
  end
  if o.url ~= nil and not o.url:match("^http://127%.%d+%.%d+%.%d+[:/]")
      and not o.url:match("^http://localhost[:/]") and not o.url:match("^http://%[::1%][:/]") then
    return "url must be http:// on a loopback address"
  end
  if o.event ~= nil and not is_object(o.event) then return "event must be an object" end
  if o.timestamp ~= nil and (type(o.timestamp) ~= "number" or o.timestamp % 1 ~= 0) then
    return "timestamp must be an integer"
  end
  if o.tamper ~= nil and not TAMPER[o.tamper] then
    return "tamper must be body, signature, id or timestamp"
  end
  if o.headers ~= nil and not is_object(o.headers) then return "headers must be an object" end
end

-- Builds a signed delivery from control options. Returns it, or nil, message.
function M.build(o)
  local err = check(o)
  if err then return nil, err end
  local secrets, extra, omit
  secrets, err = string_list(o.secrets, "secrets")
  if not secrets then return nil, err end
  if #secrets == 0 then secrets = { o.secret or M.DEFAULT_SECRET } end
  extra, err = string_list(o.extra_signatures, "extra_signatures")
  if not extra then return nil, err end
  omit, err = string_list(o.omit, "omit")
  if not omit then return nil, err end

  local body = o.body or M.event_body(o.event or {})
  store.counters.delivery = store.counters.delivery + 1
  local id = o.id or ("msg_fake_" .. store.counters.delivery)
  local ts = string.format("%d", o.timestamp or math.floor(util.clock()))
  -- what is signed may differ from what is sent, on purpose
  local s_id, s_ts = id, ts
  if o.tamper == "id" then s_id = id .. "x" end
  if o.tamper == "timestamp" then s_ts = string.format("%d", tonumber(ts) + 1) end
  local entries = {}
  for _, secret in ipairs(secrets) do
    local sig, serr = M.signature(secret, s_id, s_ts, body)
    if not sig then return nil, serr end
    if o.tamper == "signature" then
      sig = (sig:sub(1, 1) == "A" and "B" or "A") .. sig:sub(2)
    end
    entries[#entries + 1] = "v1," .. sig
  end
  for _, e in ipairs(extra) do entries[#entries + 1] = e end
  if o.tamper == "body" then body = body .. " " end

  local headers = { ["webhook-id"] = id, ["webhook-timestamp"] = ts,
    ["webhook-signature"] = table.concat(entries, " "), ["content-type"] = "application/json" }
  for _, name in ipairs(omit) do headers[name:lower()] = nil end
  for name, value in pairs(o.headers or {}) do headers[name:lower()] = tostring(value) end
  return { url = o.url or NULL, id = id, timestamp = ts, body = body, headers = headers }
end

-- POSTs a built delivery; records the outcome in it.
local function post(d)
  local req = http_request.new_from_uri(d.url)
  req.headers:upsert(":method", "POST")
  req:set_body(d.body)
  req.headers:delete("expect")  -- receivers need not speak 100-continue
  for name, value in pairs(d.headers) do req.headers:upsert(name, value) end
  local headers, stream = req:go(M.TIMEOUT)
  if not headers then
    d.error = tostring(stream)
  else
    d.status = tonumber(headers:get(":status"))
    d.response_body = stream:get_body_as_string(M.TIMEOUT) or ""
    stream:shutdown()
  end
  d.done = true
end

-- Records a delivery and, when it has a url, sends it in the background.
-- Returns the delivery (its number is `delivery`).
function M.deliver(d)
  local list = store.state.deliveries
  list[#list + 1] = d
  d.delivery, d.done, d.status, d.error = #list, d.url == NULL, NULL, NULL
  if d.url ~= NULL then
    cqueues.running():wrap(function()
      local ok, err = http_util.yieldable_pcall(post, d)  -- 5.1's pcall cannot yield
      if not ok then d.error, d.done = tostring(err), true end
    end)
  end
  return d
end

-- Endpoints registered with POST /_fake/webhooks get an event on every
-- environment change.
envs.on_change(function(kind, env)
  for _, ep in ipairs(store.state.endpoints) do
    local d = M.build { url = ep.url, secret = ep.secret,
      event = { type = kind, environment_id = env.id } }
    if d then M.deliver(d) end
  end
end)

function M.register(o)
  if not is_object(o) or type(o.url) ~= "string" then return nil, "expected {url, secret}" end
  local probe, err = M.build { url = o.url, secret = o.secret }
  if not probe then return nil, err end
  local eps = store.state.endpoints
  eps[#eps + 1] = { url = o.url, secret = o.secret }
  return { ok = true, endpoints = #eps }
end

return M
