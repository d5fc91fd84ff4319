-- Turns bench/run's raw results (one "key value" line each) into the table
-- `make bench` prints, and writes it with the machine, the versions and the
-- date to bench/results.md.
--   report.lua RESULTS_FILE RESULTS_MD
-- Plain Lua (5.1 to 5.4, LuaJIT), no modules: its two helpers beside it
-- (callgrind.lua, report_openresty.lua) are loaded with dofile.
local results_file, md_file = arg[1], arg[2]

local R = {}
for line in io.lines(results_file) do
  local k, v = line:match("^(%S+) (.*)$")
  if k then R[k] = v end
end
local function num(key) return tonumber(R[key]) end

---------------------------------------------------------------------------
-- Formatting.
---------------------------------------------------------------------------

local function thousands(n)
  local s = string.format("%d", math.floor(n + 0.5))
  local sign, digits = s:match("^(-?)(%d+)$")
  digits = digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. digits
end
local function x(r)
  if not r then return "n/a" end
  return string.format(r < 0.1 and "%.3f×" or "%.2f×", r)
end
local function pct(part, whole) return string.format("%.0f%%", 100 * part / whole) end
local function secs(s) return string.format("%.3f s", s) end
local function kib(k) return string.format("%.1f MiB", k / 1024) end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

local rows = {}
local function row(section, what, result, ratio, target, verdict)
  rows[#rows + 1] = { section, what, result or "", ratio or "", target or "", verdict or "" }
end
local verdicts = {}
local function judge(name, ok)
  verdicts[#verdicts + 1] = { name, ok }
  return ok and "met" or "**missed**"
end

---------------------------------------------------------------------------
-- 1. Sequential.
---------------------------------------------------------------------------

local rounds = 0
while R["seq.wrk." .. (rounds + 1)] do rounds = rounds + 1 end

local function per_round(name) -- calls per second, one per round
  local t = {}
  for r = 1, rounds do t[#t + 1] = num("seq." .. name .. "." .. r) end
  return t
end
local function ratio_per_round(a, b) -- median over rounds of a_r / b_r
  local t = {}
  for r = 1, rounds do
    local va, vb = num("seq." .. a .. "." .. r), num("seq." .. b .. "." .. r)
    if va and vb and vb > 0 then t[#t + 1] = va / vb end
  end
  return median(t)
end

local SEQ = {
  { "wrk", "`wrk -t1 -c1`: the server's ceiling for one connection (no decoding)" },
  { "ours_jit", "**this library, LuaJIT**" },
  { "ours_54", "**this library, Lua 5.4**" },
  { "ts", "official TypeScript SDK, `client.beta.environments.archive` (" .. (R["info.sdk"] or "?") .. ", " .. (R["info.node"] or "?") .. ")" },
  { "python", "Python `http.client` + `json`, kept-alive (" .. (R["info.python"] or "?") .. ")" },
  { "luasocket", "hand-written LuaSocket keep-alive + cjson, LuaJIT" },
  { "luasocket_http", "LuaSocket `socket.http.request` + cjson, LuaJIT (a connection per call)" },
  { "curl_popen", "`curl` command per call via `io.popen` + cjson, LuaJIT" },
}
local seq_median = {}
for _, s in ipairs(SEQ) do seq_median[s[1]] = median(per_round(s[1])) end

if rounds > 0 then
  for _, s in ipairs(SEQ) do
    local name, label = s[1], s[2]
    local cps = seq_median[name]
    local result = cps and (thousands(cps) .. " calls/s") or "n/a"
    -- The client's own CPU per call (not for curl: its processes are children).
    local cpu_t = {}
    for r = 1, rounds do cpu_t[#cpu_t + 1] = num("cpu." .. name .. "." .. r) end
    local cpu = median(cpu_t)
    if cpu and name ~= "curl_popen" then result = string.format("%s, %.0f µs CPU/call", result, cpu) end
    if name == "wrk" then
      row("1", label, thousands(cps) .. " req/s", "1.00× wrk")
    elseif name == "ours_jit" then
      local r = ratio_per_round("ours_jit", "wrk")
      row("1", label, result, x(r) .. " wrk", "≥ 0.6× wrk", judge("sequential LuaJIT ≥ 0.6 × wrk", r and r >= 0.6))
      local t = ratio_per_round("ours_jit", "ts")
      row("1", label, "", x(t) .. " TypeScript SDK", "≥ 10× TS SDK", judge("sequential LuaJIT ≥ 10 × TypeScript SDK", t and t >= 10))
    else
      local vs_ours = ratio_per_round("ours_jit", name)
      row("1", label, result, x(ratio_per_round(name, "wrk")) .. " wrk",
          name ~= "ours_54" and string.format("LuaJIT library is %s this", x(vs_ours)) or "")
    end
  end
end

---------------------------------------------------------------------------
-- 2. Instructions per call (callgrind).
---------------------------------------------------------------------------

-- callgrind's files are read by bench/callgrind.lua, beside this script.
local callgrind = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/callgrind.lua")
local parse_callgrind, category = callgrind.parse, callgrind.category

local cg_calls = num("cg.calls")
local cg = {}
for _, name in ipairs { "ours_jit", "ours_54", "luasocket" } do
  local prefix = R["cg." .. name .. ".files"]
  if prefix and cg_calls then
    local t0, o0, f0 = parse_callgrind(prefix .. ".0.out")
    local tn, on, fn = parse_callgrind(prefix .. "." .. R["cg.calls"] .. ".out")
    if t0 and tn then
      local per = { total = (tn - t0) / cg_calls, objects = {}, functions = {} }
      for obj, ir in pairs(on) do
        local c = category(obj)
        per.objects[c] = (per.objects[c] or 0) + (ir - (o0[obj] or 0)) / cg_calls
      end
      for f, ir in pairs(fn or {}) do per.functions[f] = (ir - ((f0 or {})[f] or 0)) / cg_calls end
      cg[name] = per
    end
  end
end

local function object_breakdown(per)
  local list = {}
  for c, ir in pairs(per.objects) do
    if ir >= 0.005 * per.total then list[#list + 1] = { c, ir } end
  end
  table.sort(list, function(a, b) return a[2] > b[2] end)
  local parts = {}
  for _, e in ipairs(list) do parts[#parts + 1] = string.format("%s %s", e[1], pct(e[2], per.total)) end
  return table.concat(parts, ", ")
end

for _, name in ipairs { "ours_jit", "ours_54" } do
  local per = cg[name]
  if per then
    local label = name == "ours_jit" and "LuaJIT" or "Lua 5.4"
    local vs = cg.luasocket and name == "ours_jit"
               and string.format("%s hand-written LuaSocket + cjson (%s)", x(per.total / cg.luasocket.total),
                                 thousands(cg.luasocket.total))
    row("2", "instructions per archive, this library, " .. label, thousands(per.total) .. " Ir", vs or "")
    row("2", "… by object file (" .. label .. ")", object_breakdown(per))
    local f = per.functions
    local drive, start = f.transport_drive or 0, f.transfer_start or 0
    local cleanup = f.curl_easy_cleanup or 0
    -- The body is decoded inside request:result (json_bridge_decode), or
    -- by core.decode: both are counted as decoding.
    local decode = f.json_bridge_decode or 0
    local answer = (f.request_result or 0) + (f.core_decode or 0)
    local stages = {
      { "libcurl HTTP exchange (poll, socket_action: request formatting, send, receive, parse)", drive - cleanup },
      { "libcurl easy handle per call (init, options, header list, cleanup)", start + cleanup },
      { "answer to Lua (status, headers, body string)", answer - decode },
      { "JSON decode into Lua tables (lua-cjson)", decode },
      { "Lua layer (checks, URL, headers, the call's state, GC)", per.total - drive - start - answer },
    }
    local parts = {}
    for _, s in ipairs(stages) do
      parts[#parts + 1] = string.format("%s %s (%s)", s[1], thousands(s[2]), pct(s[2], per.total))
    end
    row("2", "… by stage (" .. label .. ")", table.concat(parts, "; "))
  end
end
if cg.luasocket then
  row("2", "… hand-written LuaSocket + cjson by object file", object_breakdown(cg.luasocket))
end

---------------------------------------------------------------------------
-- 3. Concurrency.
---------------------------------------------------------------------------

local conc_calls, delay_ms = num("conc.calls"), num("conc.delay_ms")
if conc_calls and delay_ms then
  local server = R["conc.server"] == "fake" and "the bundled fake" or "bench/delay-server.c"
  for _, c in ipairs { 1, 16, 64 } do
    local ideal = conc_calls * delay_ms / 1000 / c
    local label = string.format("%s archives at concurrency %d, answers after %d ms (%s): ideal %s",
                                thousands(conc_calls), c, delay_ms, server, secs(ideal))
    local wrk = num("conc.wrk." .. c)
    if wrk then
      row("3", string.format("`wrk -t1 -c%d` on that server: its own ceiling", c),
          string.format("%s req/s, so ≥ %s for %s", thousands(wrk), secs(conc_calls / wrk), thousands(conc_calls)),
          x(conc_calls / wrk / ideal) .. " ideal")
    end
    local ours = R["conc.ours." .. c]
    if tonumber(ours) then
      local r = tonumber(ours) / ideal
      row("3", "**this library, `archive_many`** — " .. label, secs(tonumber(ours)), x(r) .. " ideal",
          c == 64 and "≤ 1.25× ideal" or "",
          c == 64 and judge("concurrency 64 within 1.25 × ideal", r <= 1.25) or "")
    end
    local ts = num("conc.ts." .. c)
    if ts then
      row("3", "official TypeScript SDK, `Promise.all` batches of " .. c, secs(ts), x(ts / ideal) .. " ideal")
    end
  end
end

---------------------------------------------------------------------------
-- 4. Memory.
---------------------------------------------------------------------------

local RSS_NOISE_KB, LUA_NOISE_KB = 1024, 64
for _, v in ipairs { "jit", "5.4" } do
  local r1, r10, r100 = num("mem." .. v .. ".1000.rss_kb"), num("mem." .. v .. ".10000.rss_kb"), num("mem." .. v .. ".100000.rss_kb")
  local l1, l10, l100 = num("mem." .. v .. ".1000.lua_kb"), num("mem." .. v .. ".10000.lua_kb"), num("mem." .. v .. ".100000.lua_kb")
  if r1 and r100 then
    local label = v == "jit" and "LuaJIT" or "Lua 5.4"
    local ok = (r100 - r1) <= RSS_NOISE_KB and (l100 - l1) <= LUA_NOISE_KB
    row("4", "resident memory after 1,000 / 10,000 / 100,000 calls, " .. label,
        string.format("%s / %s / %s", kib(r1), kib(r10 or r1), kib(r100)),
        string.format("%+d KiB", r100 - r1), "no growth (≤ +1 MiB)",
        judge("no memory growth (" .. label .. ")", ok))
    row("4", "Lua memory (after a full collection), " .. label,
        string.format("%.1f / %.1f / %.1f KiB", l1, l10 or l1, l100), string.format("%+.1f KiB", l100 - l1),
        "≤ +64 KiB")
  end
end

---------------------------------------------------------------------------
-- 5. TLS.
---------------------------------------------------------------------------

local function tls_rounds(name, what) -- values over the rounds
  local t, r = {}, 1
  while R["tls." .. name .. "." .. what .. "." .. r] do
    t[#t + 1] = num("tls." .. name .. "." .. what .. "." .. r)
    r = r + 1
  end
  return t
end
local function tls_ratio(a, b) -- median of the per-round ratios
  local ta, tb, t = tls_rounds(a, "cps"), tls_rounds(b, "cps"), {}
  for i = 1, math.min(#ta, #tb) do t[i] = ta[i] / tb[i] end
  return median(t)
end
local function most(t) local m = 0 for _, v in ipairs(t) do m = math.max(m, v) end return m end

local TLS = {
  { "ours_jit", "**this library, LuaJIT** (`ca_file`)" },
  { "luasec", "hand-written LuaSocket + LuaSec keep-alive + cjson, LuaJIT" },
  { "ts", "official TypeScript SDK (`NODE_EXTRA_CA_CERTS`)" },
}
for _, s in ipairs(TLS) do
  local name, label = s[1], s[2]
  local cps = median(tls_rounds(name, "cps"))
  if cps then
    local rounds_n = #tls_rounds(name, "cps")
    local conns, full, resumed = most(tls_rounds(name, "connections")), most(tls_rounds(name, "full_handshakes")),
                                 most(tls_rounds(name, "resumed"))
    local requests = most(tls_rounds(name, "requests"))
    local ratio = name == "ours_jit" and (x(tls_ratio("ours_jit", "ts")) .. " TypeScript SDK")
                  or string.format("LuaJIT library is %s this", x(tls_ratio("ours_jit", name)))
    row("5", string.format("1,000 calls over HTTPS (%s), %s: median of %d runs", R["tls." .. name .. ".protocol"] or "?", label, rounds_n),
        thousands(cps) .. " calls/s", ratio)
    row("5", "… TLS connections nginx saw per 1,000 calls (worst run): full handshakes + resumed",
        string.format("%d: %d + %d", conns, full, resumed),
        string.format("%d requests logged", requests),
        name == "ours_jit" and "1 handshake" or "",
        name == "ours_jit" and judge("one TLS handshake for 1,000 calls", conns == 1 and full == 1) or "")
  end
end

---------------------------------------------------------------------------
-- 6. OpenResty: bench/report_openresty.lua, beside this script.
---------------------------------------------------------------------------
local or_block = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/report_openresty.lua")(R, {
  num = num, median = median, thousands = thousands, x = x,
})

---------------------------------------------------------------------------
-- Output.
---------------------------------------------------------------------------

-- BENCH_SECTIONS=6: only the OpenResty block of results.md is replaced.
if arg[3] == "only" then
  if not or_block then
    io.stderr:write("report.lua: no section 6 results; ", md_file, " left as it was\n")
    return
  end
  local f = io.open(md_file, "rb")
  local old = f and f:read("*a") or "# Benchmark results\n\n## How each figure is made\n"
  if f then f:close() end
  local a, b = old:find("<!%-%- section 6 %-%->.-<!%-%- /section 6 %-%->")
  local new
  if a then
    new = old:sub(1, a - 1) .. or_block .. old:sub(b + 1)
  else
    local at = old:find("## How each figure is made", 1, true) or #old + 1
    new = old:sub(1, at - 1) .. or_block .. "\n\n" .. old:sub(at)
  end
  f = assert(io.open(md_file, "w"))
  f:write(new)
  f:close()
  io.stderr:write("section 6 written to ", md_file, "\n")
  return
end

local function cell(s) return (tostring(s):gsub("|", "\\|")) end
local out = { "| § | measurement | result | ratio | target | verdict |", "|---|---|---|---|---|---|" }
for _, r in ipairs(rows) do
  local cells = {}
  for i, c in ipairs(r) do cells[i] = cell(c) end
  out[#out + 1] = "| " .. table.concat(cells, " | ") .. " |"
end
local tbl = table.concat(out, "\n")

local met, missed = {}, {}
for _, v in ipairs(verdicts) do
  if v[2] then met[#met + 1] = v[1] else missed[#missed + 1] = v[1] end
end
local summary = string.format("Targets met: %d of %d.%s", #met, #verdicts,
  #missed > 0 and (" Missed: " .. table.concat(missed, "; ") .. ".") or "")

print(tbl)
print()
print(summary)

local INFO = {
  { "date", "date" }, { "cpu", "CPU" }, { "memory", "memory" }, { "os", "system" }, { "load", "load" },
  { "luajit", "LuaJIT" }, { "lua54", "Lua 5.4" }, { "curl", "libcurl" }, { "cjson", "lua-cjson" },
  { "luasocket", "LuaSocket" }, { "nginx", "nginx" }, { "wrk", "wrk" }, { "node", "Node.js" },
  { "sdk", "TypeScript SDK" }, { "python", "Python" }, { "valgrind", "valgrind" }, { "params", "run" },
}
local info = {}
for _, k in ipairs(INFO) do
  if R["info." .. k[1]] then info[#info + 1] = string.format("- %s: %s", k[2], R["info." .. k[1]]) end
end

local md = table.concat({
  "# Benchmark results",
  "",
  "Written by `make bench` (bench/run); every figure below comes from one run",
  "of it, on the machine described first.",
  "",
  "## Machine and versions",
  "",
  table.concat(info, "\n"),
  "",
  "## Results",
  "",
  tbl,
  "",
  summary,
  "",
  or_block or "",
  "",
  "## How each figure is made",
  "",
  "1. Sequential: every client archives the reference page's example environment",
  "   from nginx (a static answer, keep-alive, one connection) and checks each",
  "   decoded result (`name` and `config.packages.pip[2]`). The clients run one",
  "   after another, interleaved over the rounds; each figure is the median over",
  "   the rounds, and each ratio is the median of the per-round ratios, so a",
  "   slow moment of the machine hits all the clients of a round alike.",
  "   CPU/call is the client process's own user + system time in the timed",
  "   loop (`os.clock`, `process.cpuUsage`, `time.process_time`): on a",
  "   machine where client and server share two cores, it is what each",
  "   client adds to a round trip.",
  "2. Instructions: valgrind's callgrind counts the instructions of one process",
  "   making N checked calls, minus the same process making none (start-up,",
  "   require, client creation); user space only, kernel time is not counted.",
  "   Stages are inclusive costs of the core's functions (`transport_drive`,",
  "   `transfer_start`, `request_result` and `core_decode` less",
  "   `json_bridge_decode`, which is the decoding); object files are",
  "   exclusive costs.",
  "3. Concurrency: distinct ids, each result checked; the ideal is",
  "   calls × delay ÷ concurrency. `wrk` at the same number of connections",
  "   shows what the delaying server itself can give on this machine.",
  "4. Memory: VmRSS from /proc/self/status and `collectgarbage(\"count\")`",
  "   after two full collections, in one process making 100,000 calls.",
  "5. TLS: nginx logs, per request, its connection number, the requests on",
  "   that connection and whether the TLS session was resumed; a connection",
  "   whose first request was not on a resumed session had a full handshake.",
  "",
}, "\n")
local f = assert(io.open(md_file, "w"))
f:write(md)
f:close()
io.stderr:write("written to ", md_file, "\n")
