-- anthropic.environments.cli.args: the command line, parsed against the
-- commands' specifications. A command is named by one word ("list") or two
-- ("work poll"); its spec gives flags (name -> "flag", "value" or "multi"),
-- its positional arguments (params, a list of names such as { "ENV_ID",
-- "WORK_ID" }; rest: the last one repeats) and its help (help.lua). The
-- global flags (help.GLOBAL_FLAGS) go before or after the command.
local output = require "anthropic.environments.cli.output"
local help = require "anthropic.environments.cli.help"

local usage_error, clean = output.usage_error, output.clean
local GLOBAL = help.GLOBAL_FLAGS

local M = {}

local function is_flag(a)
  return a:sub(1, 1) == "-" and a ~= "-"
end

local function list_words(words)
  if #words == 1 then return words[1] end
  return table.concat(words, ", ", 1, #words - 1) .. " and " .. words[#words]
end

-- Reads the flag argv[i] into flags (kinds: the flags allowed; where: the
-- command, or nil before it); returns the index of the next argument.
local function read_flag(argv, i, flags, kinds, where)
  local a = argv[i]
  local prefix = where and where .. ": " or ""
  if a == "-h" then
    flags.help = true
    return i + 1
  end
  local flag, value = a:match("^%-%-([%w-]+)=(.*)$")
  flag = flag or a:match("^%-%-([%w-]+)$")
  local kind = flag and kinds[flag]
  if not kind then
    if where then usage_error(string.format("%sunknown option '%s'", prefix, clean(a))) end
    usage_error(string.format("unknown option '%s' before the command (only the global flags go there: "
      .. "--json, --base-url URL, --help, --version)", clean(a)))
  end
  if kind == "flag" then
    if value then usage_error(string.format("%s--%s takes no value", prefix, flag)) end
    flags[flag] = true
    return i + 1
  end
  if not value then
    i = i + 1
    value = argv[i]
    if value == nil then usage_error(string.format("%s--%s needs a value", prefix, flag)) end
  end
  if kind == "multi" then
    flags[flag] = flags[flag] or {}
    flags[flag][#flags[flag] + 1] = value
  else
    if flags[flag] ~= nil then usage_error(string.format("%s--%s given twice", prefix, flag)) end
    flags[flag] = value
  end
  return i + 1
end

-- The command named by argv[i] (and argv[i + 1] for a group): name, spec,
-- the index after it; or, for a group without its subcommand, the group's
-- name and no spec.
local function command_at(argv, i, commands, groups, where)
  local word = argv[i]
  local sub = argv[i + 1]
  if groups[word] then
    output.command = word
    if sub and commands[word .. " " .. sub] then return word .. " " .. sub, commands[word .. " " .. sub], i + 2 end
    if sub and not is_flag(sub) then
      usage_error(string.format("%sunknown %s subcommand '%s' (%s has %s)", where or "", word, clean(sub), word,
        list_words(groups[word])))
    end
    return word, nil, i + 1
  end
  if commands[word] then return word, commands[word], i + 1 end
  usage_error(string.format("%sunknown command '%s'", where or "", clean(word)))
end

-- Does the rest of argv (up to a "--") ask for help?
local function wants_help(argv, i)
  for j = i, #argv do
    if argv[j] == "--" then return false end
    if argv[j] == "--help" or argv[j] == "-h" then return true end
  end
  return false
end

-- Checks the number of positional arguments against spec.params.
local function check_count(name, spec, positional)
  local params = spec.params or {}
  local n = #positional
  if n < #params then
    local missing = {}
    for j = n + 1, #params do missing[#missing + 1] = params[j] end
    usage_error(string.format("%s: missing %s%s", name, list_words(missing),
      spec.rest and " " .. spec.rest or ""))
  end
  if spec.rest or n <= #params then return end
  if #params == 0 then
    usage_error(string.format("%s takes no arguments (got '%s')", name, clean(positional[1])))
  end
  usage_error(string.format("%s takes %s (got %d arguments)", name,
    #params == 1 and "one " .. params[1] or "only " .. list_words(params), n))
end

--- args.parse(argv, commands, groups) -> one of
--   { command = name, spec =, flags =, args = }
--   { help = true [, command = name, spec =] [, group = name] }
--   { version = true }
-- groups: the first words of two-word commands, each with the list of its
-- second words.
function M.parse(argv, commands, groups)
  local flags = {}
  local i = 1
  -- global flags before the command
  while argv[i] and is_flag(argv[i]) and argv[i] ~= "--" do i = read_flag(argv, i, flags, GLOBAL) end
  if argv[i] == "help" then
    if argv[i + 1] == nil then return { help = true } end
    local name, spec, next_i = command_at(argv, i + 1, commands, groups, "help: ")
    if argv[next_i] ~= nil then
      usage_error(string.format("help takes a command's name (got '%s' after '%s')", clean(argv[next_i]), name))
    end
    return { help = true, command = spec and name, spec = spec, group = not spec and name or nil }
  end
  if argv[i] == nil or argv[i] == "--" then
    if flags.help then return { help = true } end
    if flags.version then return { version = true } end
    usage_error("no command given")
  end
  local name, spec, first = command_at(argv, i, commands, groups)
  if flags.help or wants_help(argv, first) then
    return { help = true, command = spec and name, spec = spec, group = not spec and name or nil }
  end
  output.command = name
  if not spec then
    usage_error(string.format("%s needs a subcommand: %s", name, list_words(groups[name])))
  end

  local kinds = {}
  for flag, kind in pairs(GLOBAL) do kinds[flag] = kind end
  for flag, kind in pairs(spec.flags or {}) do
    kinds[flag] = kind
    if kind == "multi" then flags[flag] = {} end
  end
  local positional, only_positional = {}, false
  i = first
  while i <= #argv do
    local a = argv[i]
    if only_positional or not is_flag(a) then
      positional[#positional + 1] = a
      i = i + 1
    elseif a == "--" then
      only_positional = true
      i = i + 1
    else
      i = read_flag(argv, i, flags, kinds, name)
    end
  end
  if flags.version then return { version = true } end
  check_count(name, spec, positional)
  return { command = name, spec = spec, flags = flags, args = positional }
end

--- args.whole(command, flag, text, min, max) -> a whole number in range, or
-- a usage error naming the flag.
function M.whole(command, flag, text, min, max)
  local n = tonumber(text)
  if not n or not text:find("^%d+$") or n < min or (max and n > max) then
    usage_error(string.format("%s: --%s must be a whole number %s (got '%s')", command, flag,
      max and string.format("from %d to %d", min, max) or string.format("of at least %d", min), clean(text)))
  end
  return n
end

--- args.metadata(command, list, deleted) -> { key = value } from the values
-- of --metadata KEY=VALUE; "KEY=" gives the key the value deleted (what
-- deletes a key in that call), or "" when deleted is nil.
function M.metadata(command, list, deleted)
  local metadata = {}
  for _, kv in ipairs(list) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then usage_error(string.format("%s: --metadata '%s': expected KEY=VALUE", command, clean(kv))) end
    if v == "" and deleted ~= nil then v = deleted end
    metadata[k] = v
  end
  return metadata
end

return M
