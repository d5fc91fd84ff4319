-- anthropic.environments.cli.work_commands: the commands over the work queue of a
-- self-hosted environment: work poll, ack, heartbeat, stop, get, update,
-- list and stats. A work item's secret is a credential: the readable output never
-- prints it; --json gives the API's answer, secret included.
local output = require "anthropic.environments.cli.output"
local args = require "anthropic.environments.cli.args"

local show, lib, usage_error = output.show, output.lib, output.usage_error

local M = {}

M.GROUP = "work"
M.ABOUT = "The work queue of a self-hosted environment: claim work items, keep their leases\n"
  .. "alive, stop them, and look at the queue.\n"
M.order = { "work poll", "work ack", "work heartbeat", "work stop", "work get", "work update", "work list",
            "work stats" }

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
  if flags.json then output.print_json(lib.work_calls.plain(item)) else print_item(item, false) end
end

local function whole(command, flags, name, min, max)
  return flags[name] and args.whole(command, name, flags[name], min, max)
end

M.commands = {}
local commands = M.commands

local ENV_ID = { "ENV_ID", "the self-hosted environment's id (env_...)" }
local WORK_ID = { "WORK_ID", "the work item's id (work_...)" }
local ITEM = { params = { "ENV_ID", "WORK_ID" }, ids = true, arguments = { ENV_ID, WORK_ID } }
local QUEUE = { params = { "ENV_ID" }, ids = true, arguments = { ENV_ID } }

-- A command's spec: base's fields and the given ones.
local function spec(base, fields)
  local s = {}
  for k, v in pairs(base) do s[k] = v end
  for k, v in pairs(fields) do s[k] = v end
  return s
end

commands["work poll"] = spec(QUEUE, {
  flags = { ["block-ms"] = "value", ["reclaim-older-than-ms"] = "value", ["worker-id"] = "value" },
  synopsis = "ENV_ID [--block-ms N] [--reclaim-older-than-ms N] [--worker-id NAME]",
  summary = "claim the next work item of a self-hosted environment\n"
    .. "(\"no work\" when there is none); its secret is printed\n"
    .. "only with --json",
  about = "Claims the next work item of the queue and prints it (\"no work\", or null with\n"
    .. "--json, when there is none: exit 0). The item's secret is printed only with --json.",
  options = {
    { "--block-ms N", "wait up to N ms for work (1 to 999)" },
    { "--reclaim-older-than-ms N", "reclaim unacknowledged items older than N ms" },
    { "--worker-id NAME", "this worker's name (the Anthropic-Worker-ID header)" },
  },
})
commands["work poll"].run = function(ctx, flags, ids)
  local params = {
    block_ms = whole("work poll", flags, "block-ms", 1, 999),
    reclaim_older_than_ms = whole("work poll", flags, "reclaim-older-than-ms", 0),
    worker_id = flags["worker-id"],
  }
  local item, err = ctx.call(ctx.client.work_poll, ctx.client, ids[1], params)
  if item == nil then output.api_failure(err) end
  if flags.json then
    if item then output.print_json(lib.work_calls.plain(item)) else io.stdout:write("null\n") end
  elseif not item then
    io.stdout:write("no work\n")
  else
    print_item(item, true)
  end
end

commands["work ack"] = spec(ITEM, { synopsis = "ENV_ID WORK_ID", summary = "acknowledge a claimed item",
  about = "Acknowledges a claimed work item and prints it." })
commands["work ack"].run = function(ctx, flags, ids)
  local item, err = ctx.call(ctx.client.work_ack, ctx.client, ids[1], ids[2])
  if not item then output.api_failure(err) end
  item_result(item, flags)
end

commands["work heartbeat"] = spec(ITEM, {
  flags = { ["desired-ttl-seconds"] = "value", ["expected-last-heartbeat"] = "value" },
  synopsis = "ENV_ID WORK_ID [--desired-ttl-seconds N]\n[--expected-last-heartbeat TIME]",
  summary = "extend the item's lease (default NO_HEARTBEAT: claim it)",
  about = "Extends the work item's lease and prints the answer: last heartbeat, lease\n"
    .. "extended, state, ttl seconds. A stale TIME is the API's 412 (exit 1).",
  options = {
    { "--desired-ttl-seconds N", "the lease's length asked for (N at least 1)" },
    { "--expected-last-heartbeat TIME", "the previous answer's last heartbeat, exactly\n"
      .. "(default NO_HEARTBEAT: claims a lease nobody holds)" },
  },
})
commands["work heartbeat"].run = function(ctx, flags, ids)
  local params = {
    desired_ttl_seconds = whole("work heartbeat", flags, "desired-ttl-seconds", 1),
    expected_last_heartbeat = flags["expected-last-heartbeat"] or lib.environments.NO_HEARTBEAT,
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

commands["work stop"] = spec(ITEM, {
  flags = { force = "flag" },
  synopsis = "ENV_ID WORK_ID [--force]",
  summary = "stop an item (--force: at once, no graceful shutdown)",
  about = "Stops a work item and prints it.",
  options = { { "--force", "stop at once, without a graceful shutdown" } },
})
commands["work stop"].run = function(ctx, flags, ids)
  local item, err = ctx.call(ctx.client.work_stop, ctx.client, ids[1], ids[2],
    flags.force and { force = true } or nil)
  if not item then output.api_failure(err) end
  item_result(item, flags)
end

commands["work get"] = spec(ITEM, { synopsis = "ENV_ID WORK_ID", summary = "one work item",
  about = "Prints one work item (its secret is never in the answer)." })
commands["work get"].run = function(ctx, flags, ids)
  local item, err = ctx.call(ctx.client.work_retrieve, ctx.client, ids[1], ids[2])
  if not item then output.api_failure(err) end
  item_result(item, flags)
end

commands["work update"] = spec(ITEM, {
  flags = { metadata = "multi" },
  synopsis = "ENV_ID WORK_ID --metadata KEY=VALUE [--metadata KEY=VALUE ...]",
  summary = "change the item's metadata; --metadata KEY= deletes that key",
  about = "Changes the work item's metadata (the other keys keep their values) and prints\n"
    .. "the item.",
  options = { { "--metadata KEY=VALUE", "set a metadata entry (repeat for more); KEY= deletes KEY" } },
})
commands["work update"].run = function(ctx, flags, ids)
  if #flags.metadata == 0 then usage_error("work update: nothing to change (give --metadata KEY=VALUE)") end
  local metadata = args.metadata("work update", flags.metadata, lib.environments.null)
  local item, err = ctx.call(ctx.client.work_update, ctx.client, ids[1], ids[2], { metadata = metadata })
  if not item then output.api_failure(err) end
  item_result(item, flags)
end

commands["work list"] = spec(QUEUE, {
  flags = { limit = "value" },
  synopsis = "ENV_ID [--limit N]",
  summary = "every work item of the queue, newest first",
  about = "Lists every work item of the queue, newest first, following the pages to the end.",
  options = { { "--limit N", "at most N items (N at least 1)" } },
})
commands["work list"].run = function(ctx, flags, ids)
  local limit = whole("work list", flags, "limit", 1)
  local items = ctx.collect(ctx.client.each_work, limit, ids[1],
    { limit = limit and math.min(limit, 1000) or 100 })
  if flags.json then
    local out = lib.environments.array()
    for i, item in ipairs(items) do out[i] = lib.work_calls.plain(item) end
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

commands["work stats"] = spec(QUEUE, { synopsis = "ENV_ID",
  summary = "the queue's depth, pending items and polling workers",
  about = "Prints the queue's statistics: depth, pending, oldest queued, workers polling." })
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
