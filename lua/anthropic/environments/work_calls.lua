-- anthropic.environments.work_calls: the work queue of a self-hosted
-- environment, as methods of the client (each with an _async form): work_poll,
-- work_ack, work_heartbeat, work_stop, work_retrieve, work_update,
-- work_list, work_stats; then each_work and collect_work.
--
-- The calls are declarations (see environment_calls.lua): methods.lua
-- installs them.
--
-- A work item's `secret` is a credential. Items come back as tables whose
-- `secret` is kept aside (item.secret still reads it): pairs(), encode and
-- tostring never show it, and errors never carry an answer that has it.
local check = require "anthropic.environments.check"
local options = require "anthropic.environments.options"
local schema = require "anthropic.environments.schema"
local errors = require "anthropic.environments.errors"
local answer = require "anthropic.environments.answer"
local listing = require "anthropic.environments.listing"
check.internal()

local type, next, rawget, setmetatable, getmetatable, format =
      type, next, rawget, setmetatable, getmetatable, string.format
local concat = table.concat
local argerror, check_id, escape_segment = check.argerror, check.id, check.escape_segment
local CALL = options.CALL

local M = {
  --- The expected_last_heartbeat that claims a lease nobody holds.
  NO_HEARTBEAT = "NO_HEARTBEAT",
  --- The header that names the polling worker.
  WORKER_HEADER = "Anthropic-Worker-ID",
}

---------------------------------------------------------------------------
-- Work items
---------------------------------------------------------------------------

-- item -> its secret (a string, or null), out of the item's own fields.
local secrets = setmetatable({}, { __mode = "k" })

local WorkItem = {}
M.WorkItem = WorkItem

function WorkItem.__index(item, key)
  if key == "secret" then return secrets[item] end
  return nil
end

function WorkItem.__tostring(item)
  local id, state = rawget(item, "id"), rawget(item, "state")
  return format("anthropic.environments work %s (%s)",
    type(id) == "string" and id or "?", type(state) == "string" and state or "?")
end

--- work.is_item(v) -> true if v is a work item this library returned.
function M.is_item(v) return getmetatable(v) == WorkItem end

-- A decoded work item, made a WorkItem: its secret moves aside.
local function item(t)
  if type(t) ~= "table" or getmetatable(t) ~= nil then return t end
  secrets[t] = rawget(t, "secret")
  t.secret = nil
  return setmetatable(t, WorkItem)
end
M.item = item

--- work.plain(item) -> a plain copy of the item with its secret, as the API
-- sent it (for printing it on purpose, as `work poll --json` does).
function M.plain(v)
  local out = check.raw_copy(v)
  if getmetatable(v) == WorkItem then out.secret = secrets[v] end
  return out
end

---------------------------------------------------------------------------
-- Reading answers
---------------------------------------------------------------------------

-- Every answer of the work queue: a 2xx that cannot be read loses its
-- body (a work item's, or an echo of one, may hold the secret).
local function interpret_body(status, headers, body, decoded, decode_err)
  local value, err = answer.interpret(status, headers, body, decoded, decode_err)
  if value == nil and status >= 200 and status < 300 then err.body = nil end
  return value, err
end

local function interpret_item(status, headers, body, decoded, decode_err)
  local value, err = interpret_body(status, headers, body, decoded, decode_err)
  if value == nil then return nil, err end
  return item(value)
end

-- A poll: no work is an empty body, `null` or a 204, read as false.
local function interpret_poll(status, headers, body, decoded, decode_err)
  if status >= 200 and status < 300 and (status == 204 or body:find("^%s*$") or body:find("^%s*null%s*$")) then
    return false
  end
  local value, err = interpret_body(status, headers, body, decoded, decode_err)
  if value == nil then return nil, err end
  if type(value.id) ~= "string" or value.id == "" then
    headers = answer.headers(headers)
    return nil, errors.new("decode", { status = status, headers = headers, request_id = headers["request-id"],
      message = "a work item without an 'id'" })
  end
  return item(value)
end

local function interpret_page(status, headers, body, decoded, decode_err)
  local page, err = answer.interpret_page(status, headers, body, decoded, decode_err)
  if not page then
    if status >= 200 and status < 300 then err.body = nil end
    return nil, err
  end
  for i = 1, #page.data do item(page.data[i]) end
  return page
end

---------------------------------------------------------------------------
-- Checking the arguments
---------------------------------------------------------------------------

-- Paths that would be read as another route: GET …/work/poll and …/work/stats.
local ROUTES = { poll = true, stats = true }

local function queue_path(where, env_id)
  check_id(where, env_id, "env_id")
  return "/v1/environments/" .. escape_segment(env_id) .. "/work"
end

local function work_path(where, env_id, work_id)
  local path = queue_path(where, env_id)
  check_id(where, work_id, "work_id")
  if ROUTES[work_id] then
    argerror(where, format("work_id must not be '%s' (that is another route of the work queue)", work_id))
  end
  return path .. "/" .. escape_segment(work_id)
end

local function whole(where, name, v, lo, hi)
  return format("%d", check.whole(where, format("parameter '%s'", name), v, lo, hi, true))
end

-- params (a table, or nil for none) -> a raw copy whose keys are all known.
local function known(where, params, keys)
  if params == nil then return {} end
  params = schema.params(where, params)
  schema.known(where, "", params, keys)
  return params
end

local function query(parts)
  if #parts == 0 then return "" end
  return "?" .. concat(parts, "&")
end

-- opts with the worker's header added to its `headers` (replacing any of
-- the same name, whatever its case): a fresh table, never options.NONE.
local function with_worker(opts, worker_id)
  local copy, headers = check.raw_copy(opts), {}
  for name, value in next, opts.headers or {} do
    if name:lower() ~= "anthropic-worker-id" then headers[name] = value end
  end
  headers[M.WORKER_HEADER] = worker_id
  copy.headers = headers
  return copy
end

local POLL_KEYS = { block_ms = true, reclaim_older_than_ms = true, worker_id = true }
local HEARTBEAT_KEYS = { desired_ttl_seconds = true, expected_last_heartbeat = true }
local STOP_KEYS = { force = true }
local UPDATE_KEYS = { metadata = true }
local LIST_KEYS = { limit = true, page = true }
local MAX_WHOLE = 2 ^ 53

local BUILD = {}

function BUILD.work_poll(_, where, env_id, params, opts)
  local path = queue_path(where, env_id)
  params = known(where, params, POLL_KEYS)
  opts = options.check(where, opts, CALL)
  local parts = {}
  if params.block_ms ~= nil then parts[#parts + 1] = "block_ms=" .. whole(where, "block_ms", params.block_ms, 1, 999) end
  if params.reclaim_older_than_ms ~= nil then
    parts[#parts + 1] = "reclaim_older_than_ms="
      .. whole(where, "reclaim_older_than_ms", params.reclaim_older_than_ms, 0, MAX_WHOLE)
  end
  if params.worker_id ~= nil then
    local id = check.header_value(where, "parameter 'worker_id'", params.worker_id)
    opts = with_worker(opts, id)
  end
  return "GET", path .. "/poll" .. query(parts), nil, opts
end

function BUILD.work_ack(_, where, env_id, work_id, opts)
  return "POST", work_path(where, env_id, work_id) .. "/ack", nil, options.check(where, opts, CALL)
end

function BUILD.work_heartbeat(_, where, env_id, work_id, params, opts)
  local path = work_path(where, env_id, work_id)
  params = known(where, params, HEARTBEAT_KEYS)
  local parts = {}
  if params.desired_ttl_seconds ~= nil then
    parts[#parts + 1] = "desired_ttl_seconds="
      .. whole(where, "desired_ttl_seconds", params.desired_ttl_seconds, 1, MAX_WHOLE)
  end
  local expected = params.expected_last_heartbeat
  if expected ~= nil then
    schema.string(where, "expected_last_heartbeat", expected)
    if expected == "" then schema.param_error(where, "expected_last_heartbeat", "must not be empty") end
    parts[#parts + 1] = "expected_last_heartbeat=" .. escape_segment(expected)
  end
  return "POST", path .. "/heartbeat" .. query(parts), nil, options.check(where, opts, CALL)
end

function BUILD.work_stop(_, where, env_id, work_id, params, opts)
  local path = work_path(where, env_id, work_id)
  params = known(where, params, STOP_KEYS)
  local body = {}
  if params.force ~= nil then body.force = schema.boolean(where, "force", params.force) end
  return "POST", path .. "/stop", body, options.check(where, opts, CALL)
end

function BUILD.work_retrieve(_, where, env_id, work_id, opts)
  return "GET", work_path(where, env_id, work_id), nil, options.check(where, opts, CALL)
end

function BUILD.work_update(_, where, env_id, work_id, params, opts)
  local path = work_path(where, env_id, work_id)
  if params == nil then argerror(where, "params must be a table (got nil)") end
  params = known(where, params, UPDATE_KEYS)
  local body = {}
  if params.metadata ~= nil then body.metadata = schema.metadata(where, params.metadata, true) end
  return "POST", path, body, options.check(where, opts, CALL)
end

function BUILD.work_list(_, where, env_id, params, opts)
  local path = queue_path(where, env_id)
  local q = schema.list_query(where, params, LIST_KEYS)
  return "GET", path .. q, nil, options.check(where, opts, CALL)
end

function BUILD.work_stats(_, where, env_id, opts)
  return "GET", queue_path(where, env_id) .. "/stats", nil, options.check(where, opts, CALL)
end

M.BUILD = BUILD

--- The calls, declared as in environment_calls.lua; each one-liner runs
-- the whole build as its check.
local function call(name, interpret) return { name = name, build = BUILD[name], interpret = interpret } end
M.CALLS = {
  --- client:work_poll(env_id [, { block_ms, reclaim_older_than_ms, worker_id } [, opts]])
  --   -> work item, or false when there is no work;  or nil, err
  call("work_poll", interpret_poll),
  --- client:work_ack(env_id, work_id [, opts]) -> work item  or  nil, err
  call("work_ack", interpret_item),
  --- client:work_heartbeat(env_id, work_id [, { desired_ttl_seconds, expected_last_heartbeat } [, opts]])
  --   -> { type = "work_heartbeat", last_heartbeat, lease_extended, state, ttl_seconds }  or  nil, err
  call("work_heartbeat", answer.integers({ "ttl_seconds" }, interpret_body)),
  --- client:work_stop(env_id, work_id [, { force } [, opts]]) -> work item  or  nil, err
  call("work_stop", interpret_item),
  --- client:work_retrieve(env_id, work_id [, opts]) -> work item  or  nil, err
  call("work_retrieve", interpret_item),
  --- client:work_update(env_id, work_id, { metadata } [, opts]) -> work item  or  nil, err
  call("work_update", interpret_item),
  --- client:work_list(env_id [, { limit, page } [, opts]]) -> { data = { item... }, next_page }  or  nil, err
  call("work_list", interpret_page),
  --- client:work_stats(env_id [, opts]) -> { type = "work_queue_stats", depth, pending, oldest_queued_at,
  --   workers_polling }  or  nil, err
  call("work_stats", answer.integers({ "depth", "pending", "workers_polling" }, interpret_body)),
}

-- What each_work and collect_work go through: every item, page after page.
local EACH = { gives = "work items", list = "work_list" }
local COLLECT = { gives = "work items", list = "work_list", collect = true }

local function pages(self, where, what, env_id, params, opts)
  BUILD.work_list(nil, where, env_id, params, nil)
  return listing.each(self, where, what, queue_path(where, env_id), params, opts, function(base, call_opts)
    return self:work_list(env_id, base, call_opts)
  end)
end

--- client:each_work(env_id [, { limit, page } [, opts]]) -> iterator over every
-- work item of the queue, page after page, as client:each does (opts may
-- also give max_pages).
local function each_work(self, env_id, params, opts)
  return (pages(self, "each_work", EACH, env_id, params, opts))
end

--- client:collect_work(env_id [, { limit, page } [, opts]]) -> array of every
-- work item  or  nil, err, as client:collect does.
local function collect_work(self, env_id, params, opts)
  return listing.collect(pages(self, "collect_work", COLLECT, env_id, params, opts))
end

local function list_check(where, env_id, params) BUILD.work_list(nil, where, env_id, params, nil) end

--- The methods that are not one call, each with what its one-liner checks.
M.METHODS = {
  { name = "each_work", fn = each_work, check = list_check },
  { name = "collect_work", fn = collect_work, check = list_check },
}

return M
