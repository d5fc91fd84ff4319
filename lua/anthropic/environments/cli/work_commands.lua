-- anthropic.environments.cli.work_commands: the commands over the work queue of a
-- self-hosted environment: work poll, ack, heartbeat, stop, get, list and
-- stats. A work item's secret is a credential: the readable output never
-- prints it; --json gives the API's answer, secret included.
local environments = require "anthropic.environments"
local work = require "anthropic.environments.work_calls"
local output = require "anthropic.environments.cli.output"
local args = require "anthropic.environments.cli.args"

local show = output.show

local M = {}

M.USAGE = [[
  work poll ENV_ID [--block-ms N] [--reclaim-older-than-ms N] [--worker-id NAME]
                    claim the next work item of a self-hosted environment
                    ("no work" when there is none); its secret is printed
                    only with --json
  work ack ENV_ID WORK_ID
                    acknowledge a claimed item
  work heartbeat ENV_ID WORK_ID [--desired-ttl-seconds N]
         [--expected-last-heartbeat TIME]
                    extend the item's lease (default NO_HEARTBEAT: claim it)
  work stop ENV_ID WORK_ID [--force]
                    stop an item (--force: at once, no graceful shutdown)
  work get ENV_ID WORK_ID
                    one work item
  work list ENV_ID [--limit N]
                    every work item of the queue, newest first
  work stats ENV_ID
                    the queue's depth, pending items and polling workers
]]

-- A number as the API meant it: 30, not 30.0 (lua-cjson on Lua 5.3+).
local function number(v)
  if type(v) == "number" and v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then
    return string.format("%d", v)
  end
  return show(v)
end

local function yes_no(v)
  if v == true then return "yes" elseif v == false then return "no" end
  return show(v)
end

local function session(item)
  local data = item.data
  if type(data) ~= "table" then return "-" end
  return show(data.type) .. " " .. show(data.id)
end

-- The readable item. with_secret: a poll, whose answer has one.
local function print_item(item, with_secret)
  local rows = {
    { "id", show(item.id) },
    { "state", show(item.state) },
    { "environment", show(item.environment_id) },
    { "data", session(item) },
    { "metadata", output.metadata(item.metadata) },
  }
  if with_secret then
    rows[#rows + 1] = { "secret", type(item.secret) == "string" and "(hidden; --json shows it)" or "-" }
  end
  for _, r in ipairs {
    { "created", "created_at" }, { "acknowledged", "acknowledged_at" }, { "started", "started_at" },
    { "last heartbeat", "latest_heartbeat_at" }, { "stop requested", "stop_requested_at" },
    { "stopped", "stopped_at" },
  } do
    rows[#rows + 1] = { r[1], show(item[r[2]]) }
  end
  output.rows(rows)
end

local function item_result(item, flags)
  if flags.json then output.print_json(work.plain(item)) else print_item(item, false) end
end

local function whole(command, flags, name, min, max)
  return flags[name] and args.whole(command, name, flags[name], min, max)
end

M.commands = {}
local commands = M.commands

local ITEM = { min = 2, max = 2, args = "ENV_ID WORK_ID", ids = true }
local QUEUE = { min = 1, max = 1, args = "ENV_ID", ids = true }

local function spec(base, flags)
  local s = {}
  for k, v in pairs(base) do s[k] = v end
  s.flags = flags
  return s
end

commands["work poll"] = spec(QUEUE, { ["block-ms"] = "value", ["reclaim-older-than-ms"] = "value",
                                       ["worker-id"] = "value" })
commands["work poll"].run = function(ctx, flags, ids)
  local params = {
    block_ms = whole("work poll", flags, "block-ms", 1, 999),
    reclaim_older_than_ms = whole("work poll", flags, "reclaim-older-than-ms", 0),
    worker_id = flags["worker-id"],
  }
  local item, err = ctx.call(ctx.client.work_poll, ctx.client, ids[1], params)
  if item == nil then output.api_failure(err) end
  if flags.json then
    if item then output.print_json(work.plain(item)) else io.stdout:write("null\n") end
  elseif not item then
    io.stdout:write("no work\n")
  else
    print_item(item, true)
  end
end

commands["work ack"] = spec(ITEM)
commands["work ack"].run = function(ctx, flags, ids)
  local item, err = ctx.call(ctx.client.work_ack, ctx.client, ids[1], ids[2])
  if not item then output.api_failure(err) end
  item_result(item, flags)
end

commands["work heartbeat"] = spec(ITEM, { ["desired-ttl-seconds"] = "value",
                                          ["expected-last-heartbeat"] = "value" })
commands["work heartbeat"].run = function(ctx, flags, ids)
  local params = {
    desired_ttl_seconds = whole("work heartbeat", flags, "desired-ttl-seconds", 1),
    expected_last_heartbeat = flags["expected-last-heartbeat"] or environments.NO_HEARTBEAT,
  }
  local hb, err = ctx.call(ctx.client.work_heartbeat, ctx.client, ids[1], ids[2], params)
  if not hb then output.api_failure(err) end
  if flags.json then output.print_json(hb) return end
  output.rows {
    { "last heartbeat", show(hb.last_heartbeat) },
    { "lease extended", yes_no(hb.lease_extended) },
    { "state", show(hb.state) },
    { "ttl seconds", number(hb.ttl_seconds) },
  }
end

commands["work stop"] = spec(ITEM, { force = "flag" })
commands["work stop"].run = function(ctx, flags, ids)
  local item, err = ctx.call(ctx.client.work_stop, ctx.client, ids[1], ids[2],
    flags.force and { force = true } or nil)
  if not item then output.api_failure(err) end
  item_result(item, flags)
end

commands["work get"] = spec(ITEM)
commands["work get"].run = function(ctx, flags, ids)
  local item, err = ctx.call(ctx.client.work_retrieve, ctx.client, ids[1], ids[2])
  if not item then output.api_failure(err) end
  item_result(item, flags)
end

commands["work list"] = spec(QUEUE, { limit = "value" })
commands["work list"].run = function(ctx, flags, ids)
  local limit = whole("work list", flags, "limit", 1)
  local items = ctx.collect(ctx.client.each_work, limit, ids[1],
    { limit = limit and math.min(limit, 1000) or 100 })
  if flags.json then
    local out = environments.array()
    for i, item in ipairs(items) do out[i] = work.plain(item) end
    output.print_json(out)
  elseif #items == 0 then
    io.stdout:write("no work items\n")
  else
    local rows = { { "ID", "STATE", "DATA", "CREATED", "LAST HEARTBEAT" } }
    for _, item in ipairs(items) do
      rows[#rows + 1] = { show(item.id), show(item.state), session(item), show(item.created_at),
                          show(item.latest_heartbeat_at) }
    end
    output.table(rows)
  end
end

commands["work stats"] = spec(QUEUE)
commands["work stats"].run = function(ctx, flags, ids)
  local stats, err = ctx.call(ctx.client.work_stats, ctx.client, ids[1])
  if not stats then output.api_failure(err) end
  if flags.json then output.print_json(stats) return end
  output.rows {
    { "depth", number(stats.depth) },
    { "pending", number(stats.pending) },
    { "oldest queued", show(stats.oldest_queued_at) },
    { "workers polling", number(stats.workers_polling) },
  }
end

return M
