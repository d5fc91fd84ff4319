-- anthropic.environments.cli: the command-line tool (bin/anthropic-environments
-- finds the library and calls main). Each group of commands is a module
-- under cli/ giving its commands' specs (flags, arguments, help) and runs.
-- The command line is parsed, and help and version printed, before the
-- library is loaded: they work without its C core.
local output = require "anthropic.environments.cli.output"
local args = require "anthropic.environments.cli.args"
local help = require "anthropic.environments.cli.help"

local M = {}

-- The command modules, in the order their help is shown.
local MODULES = {
  "anthropic.environments.cli.environment_commands",
  "anthropic.environments.cli.webhook_commands",
  "anthropic.environments.cli.work_commands",
}

local function load_commands()
  local modules, commands, groups = {}, {}, {}
  for i, name in ipairs(MODULES) do
    local module = require(name)
    modules[i] = module
    for _, command in ipairs(module.order) do
      commands[command] = module.commands[command]
      local group, sub = command:match("^(%S+) (%S+)$")
      if group then
        groups[group] = groups[group] or {}
        table.insert(groups[group], sub)
      end
    end
  end
  for _, subs in pairs(groups) do table.sort(subs) end
  return modules, commands, groups
end

-- The CLI's name for what the library calls a parameter.
local function flag_for(path)
  if path == "config" or path:find("^config%.") then return "--config: '" .. path .. "'" end
  local key = path:match("^metadata%.(.*)$")
  if key then return "--metadata '" .. key .. "'" end
  return "--" .. path:gsub("_", "-")
end

local IDS = { id = "ID", env_id = "ENV_ID", work_id = "WORK_ID" }

--- cli.library_error(command, message) -> the message of a Lua error the
-- library raised for a parameter it refuses, in the CLI's words: no file
-- and line, no library function, the parameter named by its flag.
function M.library_error(command, message)
  message = tostring(message):gsub("^[^\n]-:%d+: ", ""):gsub("^anthropic%.environments%.[%w_.:]+: ", "")
  message = message:gsub("unknown parameter '(config[^']*)'", "--config: unknown field '%1'")
    :gsub("parameter '([^']*)'", flag_for)
    :gsub("^(%l[%w_]*) ", function(word) return (IDS[word] or word) .. " " end)
    :gsub("environments%.null", "null"):gsub("%(got nil%)", "(missing)")
  return command .. ": " .. message
end

-- Library calls: a Lua error from the library here is a parameter it
-- refuses (credentials were checked before any command ran): a usage
-- error, not a crash.
local function caller(command)
  return function(f, ...)
    local results = { pcall(f, ...) }
    if not results[1] then output.usage_error(M.library_error(command, results[2])) end
    return results[2], results[3]
  end
end

-- The library, loaded once the command line asks for more than help.
local function default_load()
  local ok, lib = pcall(require, "anthropic.environments")
  if not ok then
    output.fail(output.EXIT_CONFIG, "cannot load the anthropic.environments library (install it with luarocks, "
      .. "or run `make all` in the checkout)\n" .. tostring(lib))
  end
  return lib
end

-- The client for the command: the base URL from --base-url or the
-- environment, and with ANTHROPIC_LOG=debug a logger that cleans what it
-- writes (a request id is the server's text).
local function new_client(environments, flags)
  local logger
  if os.getenv("ANTHROPIC_LOG") == "debug" then
    logger = function(line)
      io.stderr:write(output.clean((tostring(line):gsub("^anthropic%.environments: ", output.PROGRAM .. ": "))), "\n")
    end
  end
  local ok, client = pcall(environments.new, { base_url = flags["base-url"], logger = logger })
  if not ok then
    local message = M.library_error("", client):gsub("^: ", "")
    message = message:gsub("^base_url", flags["base-url"] and "--base-url" or "ANTHROPIC_BASE_URL")
    output.fail(output.EXIT_CONFIG, message)
  end
  if not client:has_credentials() then
    output.fail(output.EXIT_CONFIG, "no credentials: set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN")
  end
  return client
end

--- cli.main(argv [, load]): runs one command; exits the process with its
-- status. load: a function that loads the library and returns it (or exits
-- with status 3), called only when the command needs the library.
function M.main(argv, load)
  local modules, commands, groups = load_commands()
  local parsed = args.parse(argv, commands, groups)
  if parsed.help then
    io.stdout:write(parsed.spec and help.command(parsed.command, parsed.spec)
      or parsed.group and help.group(modules, parsed.group) or help.tool(modules))
    os.exit(output.EXIT_OK)
  end
  if parsed.version then
    io.stdout:write(output.PROGRAM, " ", help.version(), "\n")
    os.exit(output.EXIT_OK)
  end
  local spec, command = parsed.spec, parsed.command
  if spec.ids then
    -- the library's own rules (check.lua, plain Lua), checked up front so
    -- that `archive` refuses a bad id before it archives anything; named as
    -- the help names it when there are several (ENV_ID, WORK_ID)
    local check = require "anthropic.environments.check"
    for i, id in ipairs(parsed.args) do
      local valid, why = check.valid_id(id)
      if not valid then
        local what = #spec.params > 1 and spec.params[i] or "id"
        output.usage_error(string.format("%s: invalid %s '%s': %s", command, what, output.clean(id), why))
      end
    end
  end
  local environments = (load or default_load)()
  local ctx = { command = command, call = caller(command) }
  -- Every item of a paginated call (client:each, client:each_work), at
  -- most limit of them (nil: all); an API failure ends the tool.
  function ctx.collect(method, limit, ...)
    local items = {}
    for item, err in ctx.call(method, ctx.client, ...) do
      if not item then output.api_failure(err) end
      items[#items + 1] = item
      if limit and #items >= limit then break end
    end
    return items
  end
  if not spec.offline then ctx.client = new_client(environments, parsed.flags) end
  spec.run(ctx, parsed.flags, parsed.args)
  if ctx.client then ctx.client:close() end
  os.exit(output.EXIT_OK)
end

return M
