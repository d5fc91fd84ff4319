-- Helpers shared by the specs: the repository root, files, the shell. Also
-- for the specs that drive other host programs (nginx with its Lua module,
-- examples/host): those test a process, not the interpreter busted runs
-- on, so they run once per `make test` (M.ONCE: under LuaJIT, the
-- interpreter nginx embeds).
local M = {}

M.ONCE = type(jit) == "table"

-- The repository root, as an absolute path (this file is spec/support/hosts.lua).
M.ROOT = (function()
  local source = debug.getinfo(1, "S").source:gsub("^@", "")
  local dir = source:match("^(.*)spec/support/hosts%.lua$")
  if dir == nil or dir == "" then dir = "./" end
  if dir:sub(1, 1) ~= "/" then dir = os.getenv("PWD") .. "/" .. dir end
  return (dir:gsub("/%./", "/"):gsub("/$", ""))
end)()

function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- Runs a shell command (without the sanitizer's LD_PRELOAD, which is for
-- our module inside an interpreter, not for other programs). Returns its
-- stdout, stderr and exit code.
function M.run(command)
  local out, err = os.tmpname(), os.tmpname()
  local p = assert(io.popen(string.format("env -u LD_PRELOAD sh -c %s >%s 2>%s </dev/null; echo $?",
    M.shell_quote(command), out, err)))
  local code = tonumber(p:read("*a"):match("(%d+)%s*$"))
  p:close()
  local stdout, stderr = M.read_file(out), M.read_file(err)
  os.remove(out)
  os.remove(err)
  return stdout, stderr, code
end

-- True if the command exists.
--- hosts.build(target): make's target in the checkout (say
-- "build/host/host"), raising with make's output when it fails.
function M.build(target)
  local out, err, code = M.run("make -s --no-print-directory -C " .. M.shell_quote(M.ROOT) .. " " .. target)
  assert(code == 0, "make " .. target .. " failed:\n" .. tostring(out) .. tostring(err))
end

function M.have(command)
  local _, _, code = M.run("command -v " .. M.shell_quote(command))
  return code == 0
end

return M
