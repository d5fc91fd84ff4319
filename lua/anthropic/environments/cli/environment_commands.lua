-- anthropic.environments.cli.environment_commands: the commands over environments:
-- list, get, create, update, archive and delete.
local output = require "anthropic.environments.cli.output"
local args = require "anthropic.environments.cli.args"

local usage_error, show, clean, lib = output.usage_error, output.show, output.clean, output.lib

local EDIT = { name = "value", description = "value", scope = "value", config = "value", metadata = "multi" }

local M = {}

M.order = { "list", "get", "create", "update", "archive", "delete" }

local ID = { { "ID", "the environment's id (env_...)" } }

local EDIT_HELP = {
  { "--name NAME", "the name (1 to 256 characters)" },
  { "--description TEXT", "the description (at most 1024 characters)" },
  { "--scope SCOPE", "organization or account" },
  { "--config FILE.json", "the config, a JSON object read from FILE (\"-\": stdin),\nchecked by the library's rules" },
  { "--metadata KEY=VALUE", "a metadata entry (repeat for more)" },
}

local function read_config(command, path)
  local text
  if path == "-" then
    text = io.stdin:read("*a")
  else
    local f, err = io.open(path, "rb")
    if not f then usage_error(command .. ": --config: cannot read " .. tostring(err)) end
    text = f:read("*a")
    f:close()
  end
  local value, err = lib.environments.decode(text or "")
  if value == nil then usage_error(string.format("%s: --config %s: not valid JSON: %s", command, path, tostring(err))) end
  if type(value) ~= "table" then usage_error(string.format("%s: --config %s: expected a JSON object", command, path)) end
  return value
end

local function edit_params(command, flags)
  local params = {}
  params.name = flags.name
  params.description = flags.description
  if flags["clear-description"] then
    if flags.description then usage_error("update: --description and --clear-description together (give one)") end
    params.description = lib.environments.null
  end
  params.scope = flags.scope
  if flags.config then params.config = read_config(command, flags.config) end
  if #flags.metadata > 0 then params.metadata = args.metadata(command, flags.metadata) end
  return params
end

local function print_result(env, flags)
  if flags.json then output.print_json(lib.schema.mark_arrays(env)) else output.environment(env) end
end

M.commands = {}
local commands = M.commands

commands.list = {
  flags = { ["include-archived"] = "flag", limit = "value" },
  synopsis = "[--include-archived] [--limit N]",
  summary = "every environment, newest first (at most N with --limit)",
  about = "Lists every environment, newest first, following the pages to the end.",
  options = {
    { "--include-archived", "archived environments too" },
    { "--limit N", "at most N environments (N at least 1)" },
  },
}
function commands.list.run(ctx, flags)
  local limit = flags.limit and args.whole("list", "limit", flags.limit, 1)
  local params = { include_archived = flags["include-archived"] or nil,
                   limit = limit and math.min(limit, 1000) or 100 }
  local envs = ctx.collect(ctx.client.each, limit, params)
  if flags.json then
    local out = lib.environments.array()
    for i, env in ipairs(envs) do out[i] = lib.schema.mark_arrays(env) end
    output.print_json(out)
  elseif #envs == 0 then
    io.stdout:write("no environments\n")
  else
    output.environments(envs)
  end
end

commands.get = { params = { "ID" }, ids = true, synopsis = "ID", summary = "one environment",
                 about = "Prints one environment, a field per line.", arguments = ID }
function commands.get.run(ctx, flags, ids)
  local env, err = ctx.call(ctx.client.retrieve, ctx.client, ids[1])
  if not env then output.api_failure(err) end
  print_result(env, flags)
end

commands.create = {
  flags = EDIT,
  synopsis = "--name NAME [--description TEXT] [--scope organization|account]\n"
    .. "[--config FILE.json] [--metadata KEY=VALUE ...]",
  summary = "a new environment (FILE \"-\" reads the config from stdin)",
  about = "Creates an environment and prints it. --name is required.",
  options = EDIT_HELP,
}
function commands.create.run(ctx, flags)
  if not flags.name then usage_error("create needs --name") end
  local env, err = ctx.call(ctx.client.create, ctx.client, edit_params("create", flags))
  if not env then output.api_failure(err) end
  print_result(env, flags)
end

commands.update = {
  flags = { ["clear-description"] = "flag" }, params = { "ID" }, ids = true,
  synopsis = "ID [--name NAME] [--description TEXT | --clear-description]\n"
    .. "[--scope organization|account] [--config FILE.json] [--metadata KEY=VALUE ...]",
  summary = "change the fields given; --metadata KEY= deletes that key",
  about = "Changes the fields given (at least one) and prints the environment.",
  arguments = ID,
  options = {
    EDIT_HELP[1], EDIT_HELP[2],
    { "--clear-description", "remove the description" },
    EDIT_HELP[3], EDIT_HELP[4],
    { "--metadata KEY=VALUE", "set a metadata entry (repeat for more); KEY= deletes KEY" },
  },
}
for k, v in pairs(EDIT) do commands.update.flags[k] = v end
function commands.update.run(ctx, flags, ids)
  local params = edit_params("update", flags)
  if next(params) == nil then usage_error("update: nothing to change (give --name, --description, ...)") end
  local env, err = ctx.call(ctx.client.update, ctx.client, ids[1], params)
  if not env then output.api_failure(err) end
  print_result(env, flags)
end

commands.delete = {
  flags = { yes = "flag" }, params = { "ID" }, ids = true,
  synopsis = "ID [--yes]",
  summary = "delete an environment for good (asks first, unless --yes)",
  about = "Deletes an environment for good. On a terminal it first asks\n"
    .. "\"Delete environment ID? [y/N]\"; anything but y or yes leaves it (exit 1).\n"
    .. "Without a terminal to ask on (stdin and stderr: a script, a pipe), it does not ask.",
  arguments = ID,
  options = { { "--yes", "delete without asking" } },
}

-- Asks on the terminal; without one (a script, a pipe) there is no one to
-- ask, and scripts written before the question existed keep working.
local function confirmed(id)
  if not (output.is_terminal(0) and output.is_terminal(2)) then return true end
  io.stderr:write("Delete environment ", clean(id), "? [y/N] ")
  io.stderr:flush()
  local answer = io.stdin:read("*l")
  answer = answer and answer:lower():match("^%s*(.-)%s*$")
  return answer == "y" or answer == "yes"
end

function commands.delete.run(ctx, flags, ids)
  if not flags.yes and not confirmed(ids[1]) then
    output.fail(output.EXIT_API, "not deleted: " .. ids[1])
  end
  local deleted, err = ctx.call(ctx.client.delete, ctx.client, ids[1])
  if not deleted then output.api_failure(err) end
  if flags.json then output.print_json(deleted) else io.stdout:write("deleted ", show(deleted.id), "\n") end
end

commands.archive = {
  flags = { concurrency = "value" }, params = { "ID" }, rest = "(one or more, or - to read them from stdin)",
  ids = true,
  synopsis = "ID [ID ...] [--concurrency N]",
  summary = "archive each environment, N at a time (default 1); ID \"-\"\n"
    .. "reads ids from stdin, one a line (# comments and blank\n"
    .. "lines skipped); a summary goes to stderr",
  about = "Archives each environment (each id once), going on past a failure, and prints\n"
    .. "each result as it ends; a summary goes to stderr. Every id is checked before\n"
    .. "the first is archived. Exit 1 if any was not archived.",
  arguments = { { "ID", "an environment's id; \"-\" reads ids from stdin, one a line\n"
    .. "(spaces around, blank lines and # comments skipped)" } },
  options = { { "--concurrency N", "archive up to N at a time (1 to 1000, default 1)" } },
}

-- The ids to archive: the arguments in order, "-" standing for stdin's
-- lines (one id a line; surrounding spaces, blank lines and lines starting
-- with # skipped), each id once. A bad id is a usage error before anything
-- is archived.
local function archive_ids(given)
  local ids, seen, from_stdin = {}, {}, false
  local function add(id)
    if not seen[id] then
      seen[id] = true
      ids[#ids + 1] = id
    end
  end
  for _, arg in ipairs(given) do
    if arg == "-" then
      if from_stdin then usage_error("archive: - given twice") end
      from_stdin = true
      local n = 0
      for line in io.stdin:lines() do
        n = n + 1
        local id = line:match("^%s*(.-)%s*$")
        if id ~= "" and id:sub(1, 1) ~= "#" then
          local valid, why = lib.check.valid_id(id)
          if not valid then
            usage_error(string.format("archive: stdin line %d: invalid id '%s': %s", n, clean(id), why))
          end
          add(id)
        end
      end
    else
      add(arg)
    end
  end
  if #ids == 0 then usage_error("archive: no ids on stdin") end
  return ids
end

function commands.archive.run(ctx, flags, given)
  local concurrency = flags.concurrency and args.whole("archive", "concurrency", flags.concurrency, 1, 1000) or 1
  local ids = archive_ids(given)
  local progress = output.progress(output.stderr_is_terminal(), "archiving", #ids)
  local envs, errs = {}, {}
  local failed = 0
  local function on_result(id, env, err)
    progress:clear()
    if env then
      envs[id] = env
      if not flags.json then
        io.stdout:write("archived ", show(env.id), "  ", show(env.name), "  ", show(env.archived_at), "\n")
        io.stdout:flush()
      end
    else
      failed = failed + 1
      errs[id] = err
      io.stderr:write(output.PROGRAM, ": ", clean(id), ": ", output.describe_error(err), "\n")
    end
    progress:update(env ~= nil)
  end
  progress:update()
  ctx.call(ctx.client.archive_many, ctx.client, ids, { concurrency = concurrency, on_result = on_result })
  progress:clear()
  if flags.json then
    -- in the order given, whatever the order they ended in
    local results = lib.environments.array()
    for i, id in ipairs(ids) do
      results[i] = envs[id] and { id = id, environment = lib.schema.mark_arrays(envs[id]) }
                   or { id = id, error = output.error_json(errs[id]) }
    end
    output.print_json(results)
  end
  io.stderr:write(string.format("archived %d of %d environment%s%s\n", #ids - failed, #ids,
    #ids == 1 and "" or "s", failed > 0 and string.format(", %d failed", failed) or ""))
  if failed > 0 then os.exit(output.EXIT_API) end
end

return M
