-- anthropic.environments.cli.output: how the command-line tool speaks:
-- exit codes, failures, tables and JSON. Nothing the API sends reaches the
-- terminal with its control characters (escape sequences included).
local environments = require "anthropic.environments"
local schema = require "anthropic.environments.schema"

local M = {
  PROGRAM = "anthropic-environments",
  EXIT_OK = 0,       -- everything asked for was done
  EXIT_API = 1,      -- the API answered with an error, or the network failed
  EXIT_USAGE = 2,    -- bad command line: unknown command or flag, bad value, unreadable file
  EXIT_CONFIG = 3,   -- no credentials, a bad ANTHROPIC_BASE_URL, or the library cannot be loaded
}

function M.fail(code, message)
  io.stderr:write(M.PROGRAM, ": ", message, "\n")
  os.exit(code)
end

function M.usage_error(message)
  M.fail(M.EXIT_USAGE, message .. " (see " .. M.PROGRAM .. " --help)")
end

--- output.clean(s): s with every control character shown as "?".
function M.clean(s)
  return (tostring(s):gsub("[%c\127]", "?"))
end
local clean = M.clean

function M.show(v)
  if v == nil or v == environments.null then return "-" end
  return clean(v)
end
local show = M.show

-- Display width, counting UTF-8 sequences rather than bytes.
local function width(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

local function pad(s, n)
  return s .. string.rep(" ", n - width(s))
end

function M.print_json(value)
  local text, err = environments.encode(value)
  if not text then M.fail(M.EXIT_API, "cannot write the answer as JSON: " .. tostring(err)) end
  io.stdout:write(text, "\n")
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  return keys
end

--- output.rows(rows): prints { {label, value}... } as two aligned columns.
function M.rows(rows)
  local w = 0
  for _, r in ipairs(rows) do w = math.max(w, #r[1]) end
  for _, r in ipairs(rows) do io.stdout:write(pad(r[1], w), "  ", r[2], "\n") end
end

--- output.metadata(t) -> "k=v, ..." (sorted), or "-".
function M.metadata(t)
  local meta = {}
  if type(t) == "table" then
    for _, k in ipairs(sorted_keys(t)) do meta[#meta + 1] = clean(k) .. "=" .. show(t[k]) end
  end
  return #meta > 0 and table.concat(meta, ", ") or "-"
end

local function config_summary(config)
  if type(config) ~= "table" then return "-" end
  local s = show(config.type)
  if type(config.networking) == "table" then s = s .. "/" .. show(config.networking.type) end
  return s
end

local function yes_no(v)
  if v == true then return "yes" elseif v == false then return "no" end
  return "-"
end

function M.environment(env)
  local rows = {
    { "id", show(env.id) },
    { "name", show(env.name) },
    { "description", show(env.description) },
    { "scope", show(env.scope) },
    { "config", config_summary(env.config) },
  }
  local config = type(env.config) == "table" and env.config or {}
  local net = config.networking
  if type(net) == "table" and net.type == "limited" then
    local hosts = {}
    for i, h in ipairs(type(net.allowed_hosts) == "table" and net.allowed_hosts or {}) do hosts[i] = clean(h) end
    rows[#rows + 1] = { "allowed hosts", #hosts > 0 and table.concat(hosts, ", ") or "-" }
    rows[#rows + 1] = { "mcp servers", yes_no(net.allow_mcp_servers) }
    rows[#rows + 1] = { "package managers", yes_no(net.allow_package_managers) }
  end
  if type(config.packages) == "table" then
    for _, m in ipairs(schema.PACKAGE_MANAGERS) do
      local list = config.packages[m]
      if type(list) == "table" and #list > 0 then
        local names = {}
        for i, n in ipairs(list) do names[i] = clean(n) end
        rows[#rows + 1] = { "packages " .. m, table.concat(names, ", ") }
      end
    end
  end
  rows[#rows + 1] = { "metadata", M.metadata(env.metadata) }
  rows[#rows + 1] = { "created", show(env.created_at) }
  rows[#rows + 1] = { "updated", show(env.updated_at) }
  rows[#rows + 1] = { "archived", show(env.archived_at) }
  M.rows(rows)
end

--- output.table(header, rows): a table with a header row, columns aligned.
function M.table(rows)
  local widths = {}
  for _, r in ipairs(rows) do
    for c, cell in ipairs(r) do widths[c] = math.max(widths[c] or 0, width(cell)) end
  end
  for _, r in ipairs(rows) do
    local cells = {}
    for c, cell in ipairs(r) do cells[c] = c < #r and pad(cell, widths[c]) or cell end
    io.stdout:write(table.concat(cells, "  "), "\n")
  end
end

function M.environments(envs)
  local rows = { { "ID", "NAME", "CONFIG", "CREATED", "ARCHIVED" } }
  for _, env in ipairs(envs) do
    rows[#rows + 1] = { show(env.id), show(env.name), config_summary(env.config),
                        show(env.created_at), show(env.archived_at) }
  end
  M.table(rows)
end

-- An error from the library, without its "anthropic.environments: " prefix
-- and with the API's text made safe for a terminal.
function M.describe_error(err)
  return clean((tostring(err):gsub("^anthropic%.environments: ", "")))
end

function M.api_failure(err)
  M.fail(M.EXIT_API, M.describe_error(err))
end

function M.error_json(err)
  return { kind = err.kind, status = err.status, type = err.type, error_code = err.error_code,
           message = err.message, request_id = err.request_id }
end

-- A progress line on stderr: "<verb>: D done, F failed, R remaining",
-- redrawn in place. Without a terminal it writes nothing at all.
local Progress = {}
Progress.__index = Progress

--- output.progress(tty, verb, total) -> progress with :update([ok]) (counts
-- one more result when ok is true or false, then redraws) and :clear().
function M.progress(tty, verb, total)
  return setmetatable({ tty = tty, verb = verb, total = total, done = 0, failed = 0 }, Progress)
end

function Progress:update(ok)
  if ok == true then self.done = self.done + 1 elseif ok == false then self.failed = self.failed + 1 end
  if not self.tty then return end
  io.stderr:write(string.format("\r\27[K%s: %d done, %d failed, %d remaining", self.verb, self.done,
    self.failed, self.total - self.done - self.failed))
  io.stderr:flush()
end

function Progress:clear()
  if self.tty then
    io.stderr:write("\r\27[K")
    io.stderr:flush()
  end
end

function M.stderr_is_terminal()
  local r = os.execute("test -t 2")
  return r == true or r == 0
end

return M
