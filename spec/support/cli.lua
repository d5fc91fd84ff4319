-- Runs bin/anthropic-environments as a process, under the Lua version
-- busted runs on, for the CLI specs:
--
--   local cli = require "spec.support.cli"
--   local out, err, code = cli.run({ "archive", "-" }, { env = "...", stdin = "..." })
--   local terminal, out, code = cli.on_terminal({ "archive", id }, { env = "..." })
local fake = require "spec.support.fake"
local hosts = require "spec.support.hosts"

local M = {}

M.CLI = hosts.ROOT .. "/bin/anthropic-environments"

-- Lua's own search paths are cleared, so the script has to find the
-- library from where it is; so are the variables the tool reads.
local CLEAN_ENV = "env -u LUA_PATH -u LUA_CPATH -u LUA_INIT"
for _, v in ipairs { "5_1", "5_2", "5_3", "5_4" } do
  CLEAN_ENV = CLEAN_ENV .. " -u LUA_PATH_" .. v .. " -u LUA_CPATH_" .. v .. " -u LUA_INIT_" .. v
end
CLEAN_ENV = CLEAN_ENV .. " -u ANTHROPIC_API_KEY -u ANTHROPIC_AUTH_TOKEN -u ANTHROPIC_BASE_URL -u ANTHROPIC_LOG"
  .. " -u ANTHROPIC_WEBHOOK_SIGNING_KEY"
M.CLEAN_ENV = CLEAN_ENV

local function command_line(args, opts)
  local words = {}
  for i, a in ipairs(args) do words[i] = fake.shell_quote(a) end
  return string.format("%s %s %s %s", CLEAN_ENV, opts.env or "",
    opts.command or (fake.interpreter() .. " " .. fake.shell_quote(M.CLI)), table.concat(words, " "))
end

--- cli.run(args, opts) -> stdout, stderr, exit code. opts: env (NAME=value
-- words), stdin (text), command (instead of "<lua> <CLI>"), dir (the
-- working directory; default the repository root).
function M.run(args, opts)
  opts = opts or {}
  local out, err, input = os.tmpname(), os.tmpname(), os.tmpname()
  hosts.write_file(input, opts.stdin or "")
  local p = io.popen(string.format("cd %s && %s <%s >%s 2>%s; echo $?", fake.shell_quote(opts.dir or hosts.ROOT),
    command_line(args, opts), input, out, err))
  local code = tonumber(p:read("*a"):match("(%d+)%s*$"))
  p:close()
  local stdout, stderr = hosts.read_file(out), hosts.read_file(err)
  os.remove(out); os.remove(err); os.remove(input)
  return stdout, stderr, code
end

--- cli.on_terminal(args, opts) -> what the terminal showed (stderr), stdout,
-- exit code: the tool runs on a pseudo-terminal made by script(1) (util-
-- linux), with stdout to a file and stdin from opts.stdin; nil when there
-- is no script command. With opts.typed, stdin is the terminal too, and
-- opts.typed is what is typed on it.
function M.on_terminal(args, opts)
  opts = opts or {}
  if not hosts.have("script") then return nil end
  local out, input = os.tmpname(), os.tmpname()
  hosts.write_file(input, opts.typed or opts.stdin or "")
  local inner = string.format("cd %s && %s %s >%s; echo \"rc=$?\"", fake.shell_quote(hosts.ROOT),
    command_line(args, opts), opts.typed and "" or "<" .. input, out)
  local p = io.popen("script -qfec " .. fake.shell_quote(inner) .. " /dev/null <" .. (opts.typed and input or "/dev/null"))
  local terminal = p:read("*a")
  p:close()
  local stdout = hosts.read_file(out)
  os.remove(out); os.remove(input)
  local code = tonumber(terminal:match("rc=(%d+)"))
  return (terminal:gsub("rc=%d+%s*$", "")), stdout, code
end

--- cli.runner(server, key) -> run(args [, opts]): cli.run with the fake's
-- URL and the key in the environment (opts.env, a string of NAME=value
-- words, replaces both).
function M.runner(server, key)
  return function(args, opts)
    opts = opts or {}
    opts.env = opts.env or ("ANTHROPIC_API_KEY=" .. key .. " ANTHROPIC_BASE_URL=" .. server.url)
    return M.run(args, opts)
  end
end

return M
