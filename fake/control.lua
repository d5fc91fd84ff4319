-- The control protocol under /_fake (no auth, not recorded): reset, the
-- recorded requests, config, scripts, stored environments, the work queue,
-- the clock and webhook deliveries. See fake/README.md.
local json = require "fake.json"
local util = require "fake.util"
local store = require "fake.store"
local respond = require "fake.respond"
local faults = require "fake.faults"
local work_control = require "fake.work_control"
local webhooks = require "fake.webhooks"

local array, is_array, is_object, decode = json.array, json.is_array, json.is_object, json.decode
local percent_decode = util.percent_decode
local send_json = respond.send_json

local M = {}

local function control_error(stream, status, message)
  return send_json(stream, status, { error = message })
end

-- Sends what a control function returned: a value, or nil, status, message.
local function reply(stream, value, status, message)
  if value == nil then return control_error(stream, status, message) end
  return send_json(stream, 200, value)
end

local EMPTY_MODES = { null = true, empty = true, no_content = true }

local function set_config(body)
  body = body or {}
  if not is_object(body) then return nil, 400, "expected an object" end
  for _, k in ipairs({ "delay_ms", "work_default_ttl_seconds", "work_max_ttl_seconds" }) do
    if body[k] ~= nil and (type(body[k]) ~= "number" or body[k] < 0) then
      return nil, 400, k .. " must be a non-negative number"
    end
  end
  if body.record ~= nil and type(body.record) ~= "boolean" then
    return nil, 400, "record must be a boolean"
  end
  if body.work_empty ~= nil and not EMPTY_MODES[body.work_empty] then
    return nil, 400, "work_empty must be null, empty or no_content"
  end
  store.state.config = { delay_ms = body.delay_ms, record = body.record,
    work_empty = body.work_empty, work_default_ttl_seconds = body.work_default_ttl_seconds,
    work_max_ttl_seconds = body.work_max_ttl_seconds }
  return { ok = true }
end

local function add_script(body)
  local items = type(body) == "table" and body.responses
  -- an empty Lua table encoded by cjson arrives as {}: accept it as []
  if type(items) ~= "table" or (not is_array(items) and next(items) ~= nil) then
    return nil, 400, 'expected {"responses": [...]}'
  end
  for i, item in ipairs(items) do
    local err = faults.check(item)
    if err then return nil, 400, "responses[" .. i .. "]: " .. err end
  end
  local script = store.state.script
  for _, item in ipairs(items) do script[#script + 1] = item end
  return { ok = true, pending = #script }
end

local function recorded_requests()
  local list = array()
  for i, r in ipairs(store.state.requests) do
    local headers = array()
    for j, kv in ipairs(r.headers) do headers[j] = array({ kv[1], kv[2] }) end
    list[i] = { method = r.method, path = r.path, query = r.query, headers = headers,
                body = r.body, request_id = r.request_id, connection = r.connection }
  end
  return list
end

local function environment(m, id, body)
  local envs = store.state.envs
  if m == "GET" then
    if not envs[id] then return nil, 404, "no environment " .. id end
    return envs[id]
  elseif m == "PUT" then
    if not is_object(body) then return nil, 400, "expected an environment object" end
    body.id = body.id == nil and id or body.id
    if body.id ~= id then return nil, 400, "id in body differs from path" end
    store.store_env(body)
    return body
  end
  return nil, 405, "method not allowed"
end

-- /_fake/work/<env>[/<work>[/<action>]]
local WORK_ACTIONS = {
  stop = work_control.request_stop, steal = work_control.steal, expire = work_control.expire,
}

local function work_route(m, rest, body)
  local raw_env, raw_work, action = rest:match("^([^/]+)/?([^/]*)/?([^/]*)$")
  if not raw_env then return nil, 404, "unknown control endpoint" end
  local env_id, work_id = percent_decode(raw_env), percent_decode(raw_work)
  if work_id == "" then
    if m == "GET" then return work_control.state(env_id) end
    if m == "POST" then return work_control.enqueue(env_id, body) end
  elseif action == "" then
    if m == "GET" then return work_control.get(env_id, work_id) end
  elseif WORK_ACTIONS[action] then
    if m == "POST" then return WORK_ACTIONS[action](env_id, work_id, body) end
  else
    return nil, 404, "unknown work action " .. action
  end
  return nil, 405, "method not allowed"
end

local function advance_clock(body)
  local s = is_object(body) and body.advance_seconds
  if type(s) ~= "number" or s < 0 then
    return nil, 400, "expected {advance_seconds = non-negative number}"
  end
  util.advance_clock(s)
  return { now = util.rfc3339(util.clock(), true) }
end

local function deliver_webhook(body)
  local d, err = webhooks.build(body or {})
  if not d then return nil, 400, err end
  return webhooks.deliver(d)
end

local function delivery(n)
  local d = store.state.deliveries[tonumber(n)]
  if not d then return nil, 404, "no delivery " .. n end
  return d
end

local ROUTES = {
  ["GET /_fake/health"] = function() return { ok = true } end,
  ["POST /_fake/reset"] = function() store.reset(); return { ok = true } end,
  ["GET /_fake/requests"] = recorded_requests,
  ["POST /_fake/config"] = set_config,
  ["POST /_fake/script"] = add_script,
  ["GET /_fake/script"] = function() return { pending = #store.state.script } end,
  ["POST /_fake/clock"] = advance_clock,
  ["GET /_fake/clock"] = function() return { now = util.rfc3339(util.clock(), true) } end,
  ["POST /_fake/webhooks/deliver"] = deliver_webhook,
  ["GET /_fake/webhooks/deliveries"] = function()
    local list = array()
    for i, d in ipairs(store.state.deliveries) do list[i] = d end
    return list
  end,
  ["POST /_fake/webhooks"] = function(body)
    local r, err = webhooks.register(body)
    if not r then return nil, 400, err end
    return r
  end,
}

function M.handle(stream, req)
  local m, path = req.method, req.path
  local body
  if req.body:find("%S") then
    local err
    body, err = decode(req.body)
    if body == nil then return control_error(stream, 400, "invalid JSON: " .. err) end
  end

  local fn = ROUTES[m .. " " .. path]
  if fn then return reply(stream, fn(body)) end
  local raw_id = path:match("^/_fake/environments/(.+)$")
  if raw_id then return reply(stream, environment(m, percent_decode(raw_id), body)) end
  local rest = path:match("^/_fake/work/(.+)$")
  if rest then return reply(stream, work_route(m, rest, body)) end
  local n = path:match("^/_fake/webhooks/deliveries/(%d+)$")
  if n and m == "GET" then return reply(stream, delivery(n)) end
  return control_error(stream, 404, "unknown control endpoint " .. m .. " " .. path)
end

return M
