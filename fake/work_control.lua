-- Control of the work queue from tests (/_fake/work/...): enqueue items,
-- request a stop as the server would, steal or expire a lease, and read
-- the whole state, secrets and leases included. Each function returns a
-- value to answer with, or nil, status, message.
local json = require "fake.json"
local util = require "fake.util"
local store = require "fake.store"
local work = require "fake.work"

local NULL, is_object, is_array = json.null, json.is_object, json.is_array
local clock = util.clock

local M = {}

local function queue(env_id)
  local env = store.state.envs[env_id]
  if not env then return nil, 404, "no environment " .. env_id end
  if not store.is_self_hosted(env) then
    return nil, 400, "environment " .. env_id .. " is not self_hosted"
  end
  return work.queue(env_id)
end

local function item(env_id, work_id)
  local q, status, msg = queue(env_id)
  if not q then return nil, status, msg end
  local it = q.items[work_id]
  if not it then return nil, 404, "no work " .. work_id .. " in " .. env_id end
  work.refresh(it, clock())
  return it
end

-- The whole item: the API's fields, the secret, and the fake's own
-- bookkeeping (claimed: a poll holds it; lease: the current lease).
local function dump(it)
  local v = work.view(it, true)
  v.claimed = it.claimed_at ~= nil
  v.worker = it.worker or NULL
  if it.lease then
    v.lease = { last_heartbeat = it.lease.last_heartbeat, expired = it.lease.expired == true,
      expires_in = math.max(0, it.lease.expires - clock()), worker = it.lease.worker or NULL }
  else
    v.lease = NULL
  end
  return v
end

local SPEC_FIELDS = { id = 1, session_id = 1, metadata = 1, secret = 1, created_at = 1, data = 1 }

local function check_spec(spec, i)
  local where = "items[" .. i .. "]: "
  if not is_object(spec) then return where .. "expected an object" end
  for k in pairs(spec) do
    if not SPEC_FIELDS[k] then return where .. "unknown field " .. tostring(k) end
  end
  for _, k in ipairs({ "id", "session_id", "secret", "created_at" }) do
    if spec[k] ~= nil and type(spec[k]) ~= "string" then return where .. k .. " must be a string" end
  end
  if spec.metadata ~= nil then
    if not is_object(spec.metadata) then return where .. "metadata must be an object" end
    for k, s in pairs(spec.metadata) do
      if type(s) ~= "string" then return where .. "metadata." .. k .. " must be a string" end
    end
  end
  if spec.data ~= nil and not is_object(spec.data) then return where .. "data must be an object" end
end

-- body: {items = [spec, ...]} or one spec. Returns {data = [dump, ...]}.
function M.enqueue(env_id, body)
  local q, status, msg = queue(env_id)
  if not q then return nil, status, msg end
  body = body or {}
  local specs = body.items
  if specs == nil then specs = json.array({ body }) end
  if type(specs) ~= "table" or (not is_array(specs) and next(specs) ~= nil) then
    return nil, 400, "items must be an array"
  end
  for i, spec in ipairs(specs) do
    local err = check_spec(spec, i)
    if err then return nil, 400, err end
    if spec.id and q.items[spec.id] then return nil, 409, "work " .. spec.id .. " exists" end
  end
  local out = json.array()
  local counters = store.counters
  for _, spec in ipairs(specs) do
    counters.work = counters.work + 1
    local n = counters.work
    local metadata = {}
    for k, s in pairs(spec.metadata or {}) do metadata[k] = s end
    local it = {
      id = spec.id or ("work_fake_" .. n), type = "work", environment_id = env_id,
      state = "queued", metadata = metadata,
      data = spec.data or { type = "session", id = spec.session_id or ("session_fake_" .. n) },
      secret = spec.secret or ("wsec_fake_" .. n .. "_" .. util.hex(tostring(clock()))),
      created_at = spec.created_at or util.now(), acknowledged_at = NULL, started_at = NULL,
      latest_heartbeat_at = NULL, stop_requested_at = NULL, stopped_at = NULL,
      seq = n,
    }
    q.items[it.id] = it
    q.order[#q.order + 1] = it.id
    out[#out + 1] = dump(it)
  end
  q.cond:signal()  -- wake long polls
  return { data = out }
end

function M.state(env_id)
  local q, status, msg = queue(env_id)
  if not q then return nil, status, msg end
  local data = json.array()
  for _, id in ipairs(q.order) do
    local it = q.items[id]
    work.refresh(it, clock())
    data[#data + 1] = dump(it)
  end
  local workers = {}
  for w, seen in pairs(q.workers) do
    workers[w] = seen == true and "polling" or (clock() - seen)
  end
  return { data = data, workers = workers }
end

function M.get(env_id, work_id)
  local it, status, msg = item(env_id, work_id)
  if not it then return nil, status, msg end
  return dump(it)
end

-- The server asks the item to stop: the next heartbeat answers "stopping".
function M.request_stop(env_id, work_id)
  local it, status, msg = item(env_id, work_id)
  if not it then return nil, status, msg end
  if it.state == "stopped" then return nil, 409, "work " .. work_id .. " is stopped" end
  it.state, it.stop_requested_at = "stopping", util.now()
  return dump(it)
end

-- Another worker takes the lease (as a NO_HEARTBEAT claim after expiry
-- would): the old last_heartbeat no longer matches, so its owner gets 412.
function M.steal(env_id, work_id, body)
  local it, status, msg = item(env_id, work_id)
  if not it then return nil, status, msg end
  body = body or {}
  local ttl = body.ttl_seconds
  if ttl ~= nil and (type(ttl) ~= "number" or ttl <= 0) then
    return nil, 400, "ttl_seconds must be a positive number"
  end
  if body.worker ~= nil and type(body.worker) ~= "string" then
    return nil, 400, "worker must be a string"
  end
  if it.state == "stopped" then return nil, 409, "work " .. work_id .. " is stopped" end
  work.extend(it, ttl or work.DEFAULT_TTL, body.worker or "fake-thief")
  return dump(it)
end

-- The lease runs out now (as if its TTL had passed).
function M.expire(env_id, work_id)
  local it, status, msg = item(env_id, work_id)
  if not it then return nil, status, msg end
  if it.lease then it.lease.expires = clock() end
  work.refresh(it, clock())
  return dump(it)
end

return M
