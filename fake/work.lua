-- The work queue of self-hosted environments: poll (with long-poll), ack,
-- heartbeat (leases with a TTL), stop, retrieve, update, list and stats.
-- Handlers return status, value. The lease model is described in
-- fake/README.md; fake/work_control.lua drives it from /_fake.
local condition = require "cqueues.condition"
local json = require "fake.json"
local util = require "fake.util"
local store = require "fake.store"
local respond = require "fake.respond"
local envs = require "fake.environments"
local check = require "fake.validate"

local NULL, array, is_object = json.null, json.array, json.is_object
local error_body, invalid, raw = respond.error_body, check.invalid, respond.raw
local clock, rfc3339, parse_query, header = util.clock, util.rfc3339, util.parse_query, util.header

local M = {}

M.NO_HEARTBEAT = "NO_HEARTBEAT"
M.DEFAULT_TTL, M.MAX_TTL = 30, 300      -- seconds; config can change both
M.WORKER_WINDOW = 60                    -- a worker counts as polling this long
local POLL_STEP = 0.05                  -- a long poll re-checks reclaim ages this often

local last_issued = 0  -- the time of the last last_heartbeat given out

-- Reset empties every queue and puts the clock back (nothing that read the
-- moved clock survives a reset).
store.on_reset(function(state)
  state.work = {}
  util.reset_clock()
  last_issued = 0
end)

local PUBLIC = { "id", "type", "environment_id", "state", "data", "metadata",
  "created_at", "acknowledged_at", "started_at", "latest_heartbeat_at",
  "stop_requested_at", "stopped_at" }


-- The queue of an environment: items (id -> item), order (ids, oldest
-- first), workers (worker id -> clock of its last poll, or true while it
-- polls), and a condition that wakes long polls.
function M.queue(env_id)
  local q = store.state.work[env_id]
  if not q then
    q = { items = {}, order = {}, workers = {}, named = false, cond = condition.new() }
    store.state.work[env_id] = q
  end
  return q
end

envs.on_change(function(kind, env)
  if kind == "environment.deleted" then store.state.work[env.id] = nil end
end)

-- A lease whose time is up ends here; a stopping item without a live lease
-- has finished its graceful stop.
local function refresh(item, now)
  local lease = item.lease
  if lease and not lease.expired and now >= lease.expires then lease.expired = true end
  if item.state == "stopping" and (not lease or lease.expired) then
    item.state = "stopped"
    item.stopped_at = rfc3339(lease and lease.expires or now)
  end
end

-- The API's view of an item: secret only when asked for (poll).
function M.view(item, with_secret)
  local v = {}
  for _, k in ipairs(PUBLIC) do v[k] = item[k] end
  v.metadata = {}
  for k, s in pairs(item.metadata) do v.metadata[k] = s end
  v.secret = with_secret and item.secret or NULL
  return v
end

local function not_self_hosted(req, env_id)
  return 400, error_body(400, "Environment '" .. env_id .. "' is not self-hosted", nil,
    req.request_id)
end

-- The queue of a known self-hosted environment, or nil, status, error value.
local function queue_for(req, env_id)
  local env = store.state.envs[env_id]
  if not env then return nil, envs.not_found(req, env_id) end
  if not store.is_self_hosted(env) then return nil, not_self_hosted(req, env_id) end
  return M.queue(env_id)
end

-- The item, refreshed, or nil, status, error value.
local function item_for(req, env_id, work_id)
  local q, status, value = queue_for(req, env_id)
  if not q then return nil, status, value end
  local item = q.items[work_id]
  if not item then
    return nil, 404, error_body(404, "Work '" .. work_id .. "' not found", nil, req.request_id)
  end
  refresh(item, clock())
  return item
end

local function integer_param(q, name, lo, hi)
  local s = q[name]
  if s == nil then return nil end
  local n = s:match("^%d+$") and tonumber(s)
  if not n or n < lo or (hi and n > hi) then
    invalid(name .. ": must be an integer " .. (hi and ("from " .. lo .. " to " .. hi)
      or ("of at least " .. lo)))
  end
  return n
end

local function no_body(body, where)
  if next(body) ~= nil then invalid(where .. " takes no request body") end
end

------------------------------------------------------------------------------
-- poll
------------------------------------------------------------------------------
-- The oldest queued item no poll holds, or whose poll was not acknowledged
-- within `reclaim` seconds.
local function claimable(q, now, reclaim)
  for _, id in ipairs(q.order) do
    local item = q.items[id]
    refresh(item, now)
    if item.state == "queued" and (not item.claimed_at or now - item.claimed_at >= reclaim) then
      return item
    end
  end
end

-- What a poll answers when there is no work (config work_empty).
local function no_work()
  local mode = store.state.config.work_empty or "null"
  if mode == "empty" then return 200, raw("") end
  if mode == "no_content" then return 204, raw("") end
  return 200, raw("null")
end

function M.poll(req, env_id, body)
  local q, status, value = queue_for(req, env_id)
  if not q then return status, value end
  no_body(body, "poll")
  local params = parse_query(req.query)
  local block_ms = integer_param(params, "block_ms", 1, 999)
  local reclaim = (integer_param(params, "reclaim_older_than_ms", 0) or 5000) / 1000
  local worker = header(req, "anthropic-worker-id")
  if worker then q.named = true; q.workers[worker] = true end

  local deadline = clock() + (block_ms or 0) / 1000
  local item = claimable(q, clock(), reclaim)
  while not item and clock() < deadline do
    q.cond:wait(math.min(POLL_STEP, deadline - clock()))
    if store.state.work[env_id] ~= q then break end  -- reset or deleted meanwhile
    item = claimable(q, clock(), reclaim)
  end
  if worker then q.workers[worker] = clock() end
  if not item then return no_work() end
  item.claimed_at, item.worker = clock(), worker
  return 200, M.view(item, true)
end

------------------------------------------------------------------------------
-- ack, heartbeat, stop
------------------------------------------------------------------------------
function M.ack(req, env_id, body, work_id)
  local item, status, value = item_for(req, env_id, work_id)
  if not item then return status, value end
  no_body(body, "ack")
  if item.state == "stopped" then
    invalid("Work '" .. work_id .. "' is stopped and cannot be acknowledged")
  end
  if item.acknowledged_at == NULL then
    item.acknowledged_at = util.now()
    if item.state == "queued" then item.state = "starting" end
  end
  return 200, M.view(item)
end

-- A new last_heartbeat: RFC 3339 with microseconds, never the same twice.
function M.new_heartbeat()
  local t = math.max(clock(), last_issued + 1e-6)
  last_issued = t
  return rfc3339(t, true)
end

-- Takes or extends the lease for `ttl` seconds (a heartbeat that matched).
function M.extend(item, ttl, worker)
  local beat = M.new_heartbeat()
  item.lease = { last_heartbeat = beat, expires = clock() + ttl, worker = worker }
  item.latest_heartbeat_at = beat
  if item.state == "queued" or item.state == "starting" then
    item.state = "active"
    item.started_at = beat
  end
  return beat
end

local function heartbeat_answer(last, extended, state, ttl)
  return 200, { type = "work_heartbeat", last_heartbeat = last or NULL,
    lease_extended = extended, state = state, ttl_seconds = ttl }
end

function M.heartbeat(req, env_id, body, work_id)
  local item, status, value = item_for(req, env_id, work_id)
  if not item then return status, value end
  no_body(body, "heartbeat")
  local params = parse_query(req.query)
  local config = store.state.config
  local desired = integer_param(params, "desired_ttl_seconds", 1)
  local ttl = math.min(desired or config.work_default_ttl_seconds or M.DEFAULT_TTL,
    config.work_max_ttl_seconds or M.MAX_TTL)
  local expected = params.expected_last_heartbeat
  if expected == nil or expected == "" then invalid("expected_last_heartbeat: required") end

  local lease = item.lease
  if item.state == "stopped" then
    return heartbeat_answer(lease and lease.last_heartbeat, false, "stopped", 0)
  end
  local live = lease and not lease.expired
  local matches
  if expected == M.NO_HEARTBEAT then
    matches = not live
  else
    matches = lease ~= nil and lease.last_heartbeat == expected
  end
  if not matches then
    return 412, error_body(412, "expected_last_heartbeat '" .. expected
      .. "' does not match the lease of work '" .. work_id .. "'", nil, req.request_id)
  end
  if expected ~= M.NO_HEARTBEAT and not live then  -- our lease ran out
    return heartbeat_answer(lease.last_heartbeat, false, item.state, 0)
  end
  local beat = M.extend(item, ttl, header(req, "anthropic-worker-id") or item.worker)
  return heartbeat_answer(beat, true, item.state, ttl)
end

-- Ends an item now.
function M.finish(item)
  local t = util.now()
  if item.stop_requested_at == NULL then item.stop_requested_at = t end
  item.state, item.stopped_at = "stopped", t
  if item.lease then item.lease.expired = true end
end

function M.stop(req, env_id, body, work_id)
  local item, status, value = item_for(req, env_id, work_id)
  if not item then return status, value end
  if not is_object(body) then invalid("request body must be a JSON object") end
  check.check_fields(body, { force = 1 }, "")
  if body.force ~= nil and type(body.force) ~= "boolean" then invalid("force: expected a boolean") end
  local live = item.lease and not item.lease.expired
  if item.state == "stopped" then
    return 200, M.view(item)
  elseif body.force or not live or item.state == "stopping" then
    M.finish(item)              -- nothing runs, or a second stop: done now
  else
    item.state, item.stop_requested_at = "stopping", util.now()  -- ends with its lease
  end
  return 200, M.view(item)
end

------------------------------------------------------------------------------
-- retrieve, update, list, stats
------------------------------------------------------------------------------
function M.retrieve(req, env_id, _, work_id)
  local item, status, value = item_for(req, env_id, work_id)
  if not item then return status, value end
  return 200, M.view(item)
end

function M.update(req, env_id, body, work_id)
  local item, status, value = item_for(req, env_id, work_id)
  if not item then return status, value end
  if not is_object(body) then invalid("request body must be a JSON object") end
  check.check_fields(body, { metadata = 1 }, "")
  if body.metadata ~= nil then
    if not is_object(body.metadata) then invalid("metadata: expected an object") end
    local metadata = {}
    for k, s in pairs(item.metadata) do metadata[k] = s end
    for k, s in pairs(body.metadata) do
      if s == NULL then
        metadata[k] = nil
      elseif type(s) == "string" then
        metadata[k] = s
      else
        invalid("metadata." .. k .. ": expected a string or null")
      end
    end
    item.metadata = metadata
  end
  return 200, M.view(item)
end

-- Newest first; a cursor names the insertion number of the page's last item.
function M.list(req, env_id, body)
  local q, status, value = queue_for(req, env_id)
  if not q then return status, value end
  no_body(body, "list")
  local params = parse_query(req.query)
  local limit = integer_param(params, "limit", 1, 1000) or 20
  local after
  if params.page ~= nil and params.page ~= "" then
    after = tonumber(params.page:match("^wpage_(%d+)$"))
    if not after then invalid("page: invalid cursor") end
  end
  local now, data, last = clock(), array(), nil
  local more = false
  for i = #q.order, 1, -1 do
    local item = q.items[q.order[i]]
    if not after or item.seq < after then
      if #data == limit then more = true; break end
      refresh(item, now)
      data[#data + 1] = M.view(item)
      last = item.seq
    end
  end
  return 200, { data = data, next_page = more and ("wpage_" .. last) or NULL }
end

function M.stats(req, env_id, body)
  local q, status, value = queue_for(req, env_id)
  if not q then return status, value end
  no_body(body, "stats")
  local now, depth, pending, oldest = clock(), 0, 0, NULL
  for _, id in ipairs(q.order) do
    local item = q.items[id]
    refresh(item, now)
    if item.state ~= "stopped" then depth = depth + 1 end
    if item.state == "queued" then
      pending = pending + 1
      if oldest == NULL then oldest = item.created_at end
    end
  end
  local polling = NULL
  if q.named then
    polling = 0
    for _, seen in pairs(q.workers) do
      if seen == true or now - seen <= M.WORKER_WINDOW then polling = polling + 1 end
    end
  end
  return 200, { type = "work_queue_stats", depth = depth, pending = pending,
    oldest_queued_at = oldest, workers_polling = polling }
end

M.refresh = refresh

return M
