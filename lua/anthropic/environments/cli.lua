-- anthropic.environments.cli: the command-line tool (bin/anthropic-environments
-- finds the library and calls main). Each group of commands is a module
-- under cli/ giving its usage lines and a table of commands.
local environments = require "anthropic.environments"
local check = require "anthropic.environments.check"
local output = require "anthropic.environments.cli.output"
local args = require "anthropic.environments.cli.args"

local M = {}

-- The command modules, in the order their usage is shown.
local MODULES = {
  "anthropic.environments.cli.environment_commands",
  "anthropic.environments.cli.webhook_commands",
  "anthropic.environments.cli.work_commands",
}

local HEADER = [[
Usage: anthropic-environments COMMAND [ARGS] [--json]

Commands:
]]

local FOOTER = [[

Options:
  --json            print the API's JSON instead of a readable table
  --help, -h        print this help
  --version         print the version

Environment:
  ANTHROPIC_API_KEY     API key (sent as x-api-key)
  ANTHROPIC_AUTH_TOKEN  bearer token, instead of a key
  ANTHROPIC_BASE_URL    API address (default https://api.anthropic.com)
  ANTHROPIC_WEBHOOK_SIGNING_KEY
                        the webhook signing secret (whsec_...), for webhook verify

Exit status:
  0  success
  1  the API answered with an error, or the network failed (for archive:
     at least one environment was not archived; for webhook verify: the
     delivery is not authentic)
  2  usage error: unknown command or flag, missing or invalid argument
  3  configuration error: no credentials (or no valid webhook signing key),
     bad ANTHROPIC_BASE_URL, library not found
]]

local function load_commands()
  local commands, groups, usage = {}, {}, { HEADER }
  for _, name in ipairs(MODULES) do
    local module = require(name)
    usage[#usage + 1] = module.USAGE
    for command, spec in pairs(module.commands) do
      commands[command] = spec
      local group, sub = command:match("^(%S+) (%S+)$")
      if group then
        groups[group] = groups[group] or {}
        table.insert(groups[group], sub)
      end
    end
  end
  for group, subs in pairs(groups) do   -- "work needs a subcommand: ack, get, ..."
    table.sort(subs)
    groups[group] = table.concat(subs, ", ")
  end
  usage[#usage + 1] = FOOTER
  return commands, groups, table.concat(usage)
end

-- Runs a library call. Credentials were checked before any command ran, so
-- a Lua error from the library here is a parameter it refuses: a usage
-- error, not a crash.
local function call(f, ...)
  local results = { pcall(f, ...) }
  if not results[1] then
    output.usage_error(output.clean((tostring(results[2]):gsub("^[^\n]-:%d+: ", "")
      :gsub("^anthropic%.environments%.", ""))))
  end
  return results[2], results[3]
end

--- cli.main(argv): runs one command; exits the process with its status.
function M.main(argv)
  local commands, groups, usage = load_commands()
  local parsed = args.parse(argv, commands, groups)
  if parsed.command == "help" then
    io.stdout:write(usage)
    os.exit(output.EXIT_OK)
  end
  if parsed.command == "version" then
    io.stdout:write(output.PROGRAM, " ", environments.VERSION, "\n")
    os.exit(output.EXIT_OK)
  end
  local spec = parsed.spec
  if spec.ids then
    for _, id in ipairs(parsed.args) do
      -- the library's own rules, checked up front so that `archive` refuses
      -- a bad id before it archives anything
      local valid, why = check.valid_id(id)
      if not valid then
        output.usage_error(string.format("%s: invalid id '%s': %s", parsed.command, output.clean(id), why))
      end
    end
  end
  local ctx = { call = call }
  -- Every item of a paginated call (client:each, client:each_work), at
  -- most limit of them (nil: all); an API failure ends the tool.
  function ctx.collect(method, limit, ...)
    local items = {}
    for item, err in call(method, ctx.client, ...) do
      if not item then output.api_failure(err) end
      items[#items + 1] = item
      if limit and #items >= limit then break end
    end
    return items
  end
  if not spec.offline then
    local ok, client = pcall(environments.new)
    if not ok then output.fail(output.EXIT_CONFIG, (tostring(client):gsub("^[^\n]-:%d+: ", ""))) end
    if not client:has_credentials() then
      output.fail(output.EXIT_CONFIG, "no credentials: set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN")
    end
    ctx.client = client
  end
  spec.run(ctx, parsed.flags, parsed.args)
  if ctx.client then ctx.client:close() end
  os.exit(output.EXIT_OK)
end

return M
