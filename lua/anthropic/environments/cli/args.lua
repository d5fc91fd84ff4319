-- anthropic.environments.cli.args: the command line, parsed against the
-- commands' specifications. A command is named by one word ("list") or two
-- ("work poll"); its spec gives flags (name -> "flag", "value" or "multi"),
-- the number of positional arguments (min, max) and how to name them (args).
local output = require "anthropic.environments.cli.output"

local usage_error = output.usage_error

local M = {}

-- Flags every command takes.
local COMMON = { json = "flag", help = "flag" }

--- args.parse(argv, commands, groups) -> { command = name, spec =, flags =, args = }
-- or { command = "help" } / { command = "version" }. groups: the first words
-- of two-word commands, each with the list of its second words.
function M.parse(argv, commands, groups)
  local name = argv[1]
  if name == nil then usage_error("no command given") end
  if name == "--help" or name == "-h" or name == "help" then return { command = "help" } end
  if name == "--version" then return { command = "version" } end
  local first = 2
  if argv[2] and commands[name .. " " .. argv[2]] then
    name, first = name .. " " .. argv[2], 3
  end
  local spec = commands[name]
  if not spec then
    if groups[name] then
      usage_error(string.format("%s needs a subcommand: %s", name, groups[name]))
    end
    usage_error(string.format("unknown command '%s'", output.clean(name)))
  end

  local flags, positional = {}, {}
  for flag, kind in pairs(spec.flags or {}) do
    if kind == "multi" then flags[flag] = {} end
  end
  local i, only_positional = first, false
  while i <= #argv do
    local a = argv[i]
    if only_positional or a == "-" or a:sub(1, 1) ~= "-" then
      positional[#positional + 1] = a
    elseif a == "--" then
      only_positional = true
    elseif a == "-h" then
      flags.help = true
    else
      local flag, value = a:match("^%-%-([%w-]+)=(.*)$")
      flag = flag or a:match("^%-%-([%w-]+)$")
      local kind = flag and (COMMON[flag] or (spec.flags or {})[flag])
      if not kind then usage_error(string.format("%s: unknown option '%s'", name, output.clean(a))) end
      if kind == "flag" then
        if value then usage_error(string.format("%s: --%s takes no value", name, flag)) end
        flags[flag] = true
      else
        if not value then
          i = i + 1
          value = argv[i]
          if value == nil then usage_error(string.format("%s: --%s needs a value", name, flag)) end
        end
        if kind == "multi" then
          flags[flag][#flags[flag] + 1] = value
        else
          if flags[flag] ~= nil then usage_error(string.format("%s: --%s given twice", name, flag)) end
          flags[flag] = value
        end
      end
    end
    i = i + 1
  end
  if flags.help then return { command = "help" } end
  local min, max = spec.min or 0, spec.max or 0
  if #positional < min or #positional > max then
    usage_error(spec.args and string.format("%s needs %s", name, spec.args)
      or string.format("%s takes no arguments (got '%s')", name, output.clean(positional[1])))
  end
  return { command = name, spec = spec, flags = flags, args = positional }
end

--- args.whole(command, flag, text, min, max) -> a whole number in range, or
-- a usage error naming the flag.
function M.whole(command, flag, text, min, max)
  local n = tonumber(text)
  if not n or not text:find("^%d+$") or n < min or (max and n > max) then
    usage_error(string.format("%s: --%s must be a whole number %s", command, flag,
      max and string.format("from %d to %d", min, max) or string.format("of at least %d", min)))
  end
  return n
end

return M
