-- anthropic.environments.cli.help: what `--help` prints (the whole tool, a
-- group such as `work`, or one command, from the help fields of the
-- commands' specs) and the version `--version` prints. Nothing here loads
-- the library's C core: help and version work before it is built.
local M = {}

M.PROGRAM = "anthropic-environments"

-- The flags every command takes, before or after the command's name (the
-- parser reads their kinds; help lists them).
M.GLOBAL_FLAGS = { json = "flag", ["base-url"] = "value", help = "flag", version = "flag" }

local GLOBAL_HELP = {
  { "--json", "print the API's JSON instead of a readable table" },
  { "--base-url URL", "the API's address (default: $ANTHROPIC_BASE_URL, else\nhttps://api.anthropic.com)" },
  { "--help, -h", "print help (a command's with COMMAND --help)" },
  { "--version", "print the version" },
}

local ENVIRONMENT = [[
Environment:
  ANTHROPIC_API_KEY     API key (sent as x-api-key)
  ANTHROPIC_AUTH_TOKEN  bearer token, instead of a key
  ANTHROPIC_BASE_URL    API address (default https://api.anthropic.com)
  ANTHROPIC_LOG         "debug": log each HTTP attempt to stderr (method, path,
                        status, request id, attempt, time)
  ANTHROPIC_WEBHOOK_SIGNING_KEY
                        the webhook signing secret (whsec_...), for webhook verify
]]

local EXIT_STATUS = [[
Exit status:
  0  success
  1  the API answered with an error, or the network failed (for archive:
     at least one environment was not archived; for webhook verify: the
     delivery is not authentic); delete was not confirmed
  2  usage error: unknown command or flag, missing or invalid argument
  3  configuration error: no credentials (or no valid webhook signing key),
     bad ANTHROPIC_BASE_URL or --base-url, library not found
]]

-- Two columns: a label, then its text (lines after the first indented to
-- the text's column; a long label puts the text on the next line).
local function columns(rows, indent)
  indent = indent or "  "
  local out = {}
  for _, row in ipairs(rows) do
    local label, text = row[1], row[2]
    local lines = {}
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
    if #label > 15 then
      out[#out + 1] = indent .. label .. "\n"
      label = ""
    end
    for i, line in ipairs(lines) do
      out[#out + 1] = indent .. (i == 1 and label or "") .. string.rep(" ", 18 - (i == 1 and #label or 0))
        .. line .. "\n"
    end
  end
  return table.concat(out)
end
M.columns = columns

-- The synopsis of a command after prefix (its name and what goes before),
-- its lines after the first indented to follow the prefix.
local function synopsis(prefix, spec)
  local lines = {}
  for line in (spec.synopsis .. "\n"):gmatch("([^\n]*)\n") do
    lines[#lines + 1] = (#lines == 0 and prefix or string.rep(" ", #prefix)) .. line
  end
  return table.concat(lines, "\n")
end

-- "  list [--limit N]\n                    every environment...\n"
local function entry(name, spec)
  local first = synopsis("  " .. name .. " ", spec)
  local out = {}
  for line in (spec.summary .. "\n"):gmatch("([^\n]*)\n") do
    if #out == 0 and #first <= 18 and not first:find("\n") then
      out[1] = first .. string.rep(" ", 20 - #first) .. line .. "\n"
    else
      if #out == 0 then out[1] = first .. "\n" end
      out[#out + 1] = string.rep(" ", 20) .. line .. "\n"
    end
  end
  return table.concat(out)
end

--- help.commands(modules) -> { { name, spec }... } in the order help shows
-- them (each module's `order`).
function M.commands(modules)
  local list = {}
  for _, module in ipairs(modules) do
    for _, name in ipairs(module.order) do list[#list + 1] = { name, module.commands[name] } end
  end
  return list
end

--- help.tool(modules) -> the whole tool's help.
function M.tool(modules)
  local out = { "Usage: ", M.PROGRAM, " [GLOBAL FLAGS] COMMAND [ARGS] [FLAGS]\n\nCommands:\n" }
  for _, c in ipairs(M.commands(modules)) do out[#out + 1] = entry(c[1], c[2]) end
  out[#out + 1] = "\nGlobal flags (before or after the command):\n" .. columns(GLOBAL_HELP)
  out[#out + 1] = "\nA command's arguments and flags: " .. M.PROGRAM .. " COMMAND --help (or "
    .. M.PROGRAM .. " help COMMAND).\n\n"
  out[#out + 1] = ENVIRONMENT .. "\n" .. EXIT_STATUS
  return table.concat(out)
end

--- help.group(modules, group) -> the help of a group of commands ("work").
function M.group(modules, group)
  local about
  local out = {}
  for _, module in ipairs(modules) do
    if module.GROUP == group then about = module.ABOUT end
  end
  for _, c in ipairs(M.commands(modules)) do
    if c[1]:match("^(%S+) ") == group then out[#out + 1] = entry(c[1], c[2]) end
  end
  return table.concat {
    "Usage: ", M.PROGRAM, " ", group, " SUBCOMMAND [ARGS] [FLAGS]\n\n", about or "", about and "\n" or "",
    "Subcommands:\n", table.concat(out),
    "\nGlobal flags (before or after the command):\n", columns(GLOBAL_HELP),
    "\nA subcommand's arguments and flags: ", M.PROGRAM, " ", group, " SUBCOMMAND --help.\n",
  }
end

--- help.command(name, spec) -> the help of one command: its synopsis, what
-- it does, its arguments and its flags.
function M.command(name, spec)
  local out = { synopsis("Usage: " .. M.PROGRAM .. " " .. name .. " ", spec), "\n\n", spec.about or spec.summary,
                "\n" }
  if spec.arguments then out[#out + 1] = "\nArguments:\n" .. columns(spec.arguments) end
  if spec.options then out[#out + 1] = "\nFlags:\n" .. columns(spec.options) end
  out[#out + 1] = "\nGlobal flags (before or after the command):\n" .. columns(GLOBAL_HELP)
  out[#out + 1] = "\nEnvironment variables and exit statuses: " .. M.PROGRAM .. " --help.\n"
  return table.concat(out)
end

--- help.version() -> the library's version, read without loading the
-- library (whose C core may not be built yet): version.lua holds it alone.
function M.version()
  return require "anthropic.environments.version"
end

return M
