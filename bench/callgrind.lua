-- Reading callgrind's output files for bench/report.lua (loaded with
-- dofile: the report uses no modules). Returns { parse = parse_callgrind,
-- category = category }.

-- Reads a callgrind output file. Returns the total, the exclusive cost per
-- object file (basename), and per function the inclusive cost as its callers
-- saw it (the sum of the costs of the calls to it, recursion left out).
-- callgrind_annotate's inclusive view is not used: LuaJIT's machine code
-- calls and returns in ways callgrind cannot pair, which makes its inclusive
-- figures for the interpreter's own frames meaningless; the costs of calls
-- into ordinary C functions, read here, are exact.
local function parse_callgrind(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local names = { ob = {}, fn = {} }       -- compressed name tables
  local function name(kind, value)        -- "(id) name" defines, "(id)" refers
    local id, rest = value:match("^%((%d+)%)%s*(.*)$")
    if not id then return value end
    if rest ~= "" then names[kind][id] = rest end
    return names[kind][id] or ("#" .. id)
  end
  local total, objects, inclusive = 0, {}, {}
  local ob, fn, call_target, in_call = "?", "?", nil, false
  for line in f:lines() do
    local c = line:byte(1)
    if c and (c >= 48 and c <= 57 or c == 43 or c == 45 or c == 42) then   -- 0-9 + - *
      local ir = tonumber(line:match("^%S+%s+(%d+)")) or 0
      if in_call then
        if call_target ~= fn then inclusive[call_target] = (inclusive[call_target] or 0) + ir end
        in_call = false
      else
        objects[ob] = (objects[ob] or 0) + ir
        total = total + ir
      end
    else
      local key, value = line:match("^(%w+)=(.*)$")
      if key == "ob" then ob = name("ob", value):match("([^/]+)$")
      elseif key == "cob" then name("ob", value)
      elseif key == "fn" then fn = name("fn", value)
      elseif key == "cfn" then call_target = name("fn", value)
      elseif key == "calls" then in_call = true
      end
    end
  end
  f:close()
  return total, objects, inclusive
end

local CATEGORIES = {
  { "libcurl", { "^libcurl" } },
  { "OpenSSL", { "^libssl", "^libcrypto" } },
  { "libc (malloc, memcpy, ...)", { "^libc%.so", "^libm%.so", "^libgcc" } },
  { "lua-cjson", { "cjson" } },
  { "LuaSocket", { "socket" } },
  { "Lua VM (interpreter, tables, GC)", { "^luajit$", "^lua5%.%d$", "^libluajit", "^liblua5" } },
  { "this library's core.so", { "^core%.so$" } },
  { "LuaJIT machine code", { "^%?%?%?$" } },
}
local function category(obj)
  for _, c in ipairs(CATEGORIES) do
    for _, p in ipairs(c[2]) do
      if obj:find(p) then return c[1] end
    end
  end
  return "other (dynamic linker, ...)"
end

return { parse = parse_callgrind, category = category }
