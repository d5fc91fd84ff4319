-- anthropic.environments.cli.output: how the command-line tool speaks:
-- exit codes, failures, tables and JSON. Nothing the API or the command
-- line sends reaches the terminal with its control characters: C0 and C1
-- controls (escape sequences included), DEL, bidirectional overrides and
-- bytes that are not UTF-8 are shown as "?" (output.clean); JSON output has
-- them escaped. The library is loaded on first use (output.lib), so that
-- help and version work before its C core is built.
local help = require "anthropic.environments.cli.help"

local M = {
  PROGRAM = help.PROGRAM,
  EXIT_OK = 0,       -- everything asked for was done
  EXIT_API = 1,      -- the API answered with an error, or the network failed; delete not confirmed
  EXIT_USAGE = 2,    -- bad command line: unknown command or flag, bad value, unreadable file
  EXIT_CONFIG = 3,   -- no credentials, a bad ANTHROPIC_BASE_URL, or the library cannot be loaded
}

--- output.lib.<name>: the library's module anthropic.environments.<name>
-- (output.lib.environments: anthropic.environments itself), required on
-- first use.
M.lib = setmetatable({}, { __index = function(t, name)
  local module = require(name == "environments" and "anthropic.environments" or "anthropic.environments." .. name)
  rawset(t, name, module)
  return module
end })
local lib = M.lib

-- Code points shown as "?": C1 controls, the bidirectional embeddings,
-- overrides and isolates (U+202A-U+202E, U+2066-U+2069) and marks (U+200E,
-- U+200F, U+061C).
local function unsafe(cp)
  return (cp >= 0x80 and cp <= 0x9F) or (cp >= 0x202A and cp <= 0x202E) or (cp >= 0x2066 and cp <= 0x2069)
    or cp == 0x200E or cp == 0x200F or cp == 0x061C
end

-- The UTF-8 sequence at s[i]: its length and code point, or nil when the
-- bytes there are not UTF-8 (overlong forms and surrogates included).
local function utf8_at(s, i)
  local b = s:byte(i)
  local n, cp, lo, hi
  if b >= 0xC2 and b <= 0xDF then n, cp = 2, b - 0xC0
  elseif b >= 0xE0 and b <= 0xEF then n, cp = 3, b - 0xE0
  elseif b >= 0xF0 and b <= 0xF4 then n, cp = 4, b - 0xF0
  else return nil end
  lo, hi = 0x80, 0xBF
  if b == 0xE0 then lo = 0xA0 elseif b == 0xED then hi = 0x9F
  elseif b == 0xF0 then lo = 0x90 elseif b == 0xF4 then hi = 0x8F end
  for j = 1, n - 1 do
    local c = s:byte(i + j)
    if not c or c < lo or c > hi then return nil end
    lo, hi = 0x80, 0xBF
    cp = cp * 64 + (c - 0x80)
  end
  return n, cp
end

-- s with each unsafe character (C0 controls, DEL, unsafe code points) and
-- each byte that is not UTF-8 replaced by replace(code point, or nil for
-- such a byte).
local function scrub(s, replace)
  if not s:find("[%c\127-\255]") then return s end
  local out, i, len = {}, 1, #s
  while i <= len do
    local b = s:byte(i)
    if b >= 0x20 and b < 0x7F then
      local j = s:find("[%c\127-\255]", i) or len + 1
      out[#out + 1] = s:sub(i, j - 1)
      i = j
    elseif b < 0x80 then
      out[#out + 1] = replace(b)
      i = i + 1
    else
      local n, cp = utf8_at(s, i)
      if n and not unsafe(cp) then
        out[#out + 1] = s:sub(i, i + n - 1)
      else
        out[#out + 1] = replace(cp)
      end
      i = i + (n or 1)
    end
  end
  return table.concat(out)
end

local function question() return "?" end

--- output.clean(s): s (tostring'd) with every C0 or C1 control character,
-- DEL, bidirectional control and byte that is not UTF-8 shown as "?".
function M.clean(s)
  return scrub(tostring(s), question)
end
local clean = M.clean

function M.fail(code, message)
  -- every line cleaned: a message may carry the API's text or an argument
  io.stderr:write(M.PROGRAM, ": ", (tostring(message):gsub("[^\n]+", clean)), "\n")
  os.exit(code)
end

-- The command being run, once the parser knows it (its help is the one a
-- usage error points to).
M.command = nil

function M.usage_error(message)
  M.fail(M.EXIT_USAGE, message .. " (see " .. M.PROGRAM .. (M.command and " " .. M.command or "") .. " --help)")
end

function M.show(v)
  if v == nil or v == lib.environments.null then return "-" end
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

-- In JSON text those characters can only be in strings (the encoder has
-- escaped C0 controls already): escaped as \uXXXX, they keep their value
-- and leave the terminal alone. Bytes that are not UTF-8 (which JSON text
-- cannot have) become U+FFFD.
local function json_escape(cp)
  return cp and string.format("\\u%04x", cp) or "\\ufffd"
end

local function escape_json(text)
  return scrub(text, json_escape)
end

function M.print_json(value)
  local text, err = lib.environments.encode(value)
  if not text then M.fail(M.EXIT_API, "cannot write the answer as JSON: " .. tostring(err)) end
  io.stdout:write(escape_json(text), "\n")
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
    for _, m in ipairs(lib.schema.PACKAGE_MANAGERS) do
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

--- output.is_terminal(fd) -> true if the file descriptor (0 stdin, 2
-- stderr) is a terminal.
function M.is_terminal(fd)
  local r = os.execute("test -t " .. fd)
  return r == true or r == 0
end

function M.stderr_is_terminal() return M.is_terminal(2) end

return M
