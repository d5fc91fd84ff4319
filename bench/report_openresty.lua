-- Section 6 (OpenResty) of bench/report.lua, loaded with dofile: its own
-- table, between markers in results.md, so that a run of section 6 alone
-- (BENCH_SECTIONS=6) replaces just that part. Called with the raw results
-- and the report's helpers; returns the block (nil when section 6 did not
-- run) after printing it.
return function(R, h)
local num, median, thousands, x = h.num, h.median, h.thousands, h.x

---------------------------------------------------------------------------
-- 6. OpenResty: its own table, between markers in results.md, so a run of
-- section 6 alone (BENCH_SECTIONS=6) replaces just that part.
---------------------------------------------------------------------------

local function or_rounds(key)
  local t, r = {}, 1
  while R[key .. "." .. r] do
    t[#t + 1] = num(key .. "." .. r)
    r = r + 1
  end
  return t
end
local function or_ratio(a, b) -- median of the per-round ratios a / b
  local ta, tb, t = or_rounds(a), or_rounds(b), {}
  for i = 1, math.min(#ta, #tb) do t[i] = ta[i] / tb[i] end
  return median(t)
end
local function or_diff(a, b)
  local ta, tb, t = or_rounds(a), or_rounds(b), {}
  for i = 1, math.min(#ta, #tb) do t[i] = ta[i] - tb[i] end
  return median(t)
end

local or_block
if R["or.p50.proxy.1"] then
  local or_rows, or_verdicts = {}, {}
  local function orow(...) or_rows[#or_rows + 1] = { ... } end
  local function ojudge(name, ok)
    or_verdicts[#or_verdicts + 1] = { name, ok }
    return ok and "met" or "**missed**"
  end
  local LABEL = {
    proxy = "nginx's own `proxy_pass` (upstream keepalive)",
    lib = "**this library**, `environments.archive(id)` in `content_by_lua` (cosockets)",
    hand = "hand-written cosocket + cjson client (bench/cosocket_client.lua)",
    thread = "this library through `ngx.run_worker_thread` (16 threads, libcurl)",
  }
  local ms = function(v) return v and string.format("%.2f ms", v) or "n/a" end
  for _, m in ipairs { "proxy", "lib", "hand", "thread" } do
    local p50 = median(or_rounds("or.p50." .. m))
    if m == "proxy" then
      orow("p50 at 1 connection, " .. LABEL[m], ms(p50), "", "", "")
    else
      local d = or_diff("or.p50." .. m, "or.p50.proxy")
      orow("p50 at 1 connection, " .. LABEL[m], ms(p50), string.format("%+.2f ms vs proxy_pass", d or 0 / 0),
        m == "lib" and "within 1 ms of proxy_pass" or "",
        m == "lib" and ojudge("p50 within 1 ms of proxy_pass", d and d <= 1) or "")
    end
  end
  for _, m in ipairs { "proxy", "lib", "hand", "thread" } do
    local rps = median(or_rounds("or.rps64." .. m))
    local r = or_ratio("or.rps64." .. m, "or.rps64.proxy")
    orow("requests/s at 64 connections, " .. LABEL[m], rps and (thousands(rps) .. " req/s") or "n/a",
      m ~= "proxy" and (x(r) .. " proxy_pass") or "",
      m == "lib" and "≥ 0.9× proxy_pass" or "",
      m == "lib" and ojudge("requests/s at 64 connections ≥ 0.9 × proxy_pass", r and r >= 0.9) or "")
  end
  for _, m in ipairs { "lib", "hand" } do
    local cps = median(or_rounds("or.seq." .. m))
    local r = or_ratio("or.seq.lib", "or.seq.hand")
    orow("sequential calls/s in one handler, static answer, " .. LABEL[m],
      cps and (thousands(cps) .. " calls/s") or "n/a",
      m == "lib" and (x(r) .. " hand-written") or "",
      m == "lib" and "≥ 0.8× hand-written" or "",
      m == "lib" and ojudge("sequential calls/s ≥ 0.8 × hand-written cosocket client", r and r >= 0.8) or "")
  end
  local lines = { "| measurement | result | ratio | target | verdict |", "|---|---|---|---|---|" }
  for _, r in ipairs(or_rows) do
    local cells = {}
    for i = 1, 5 do cells[i] = (tostring(r[i] or ""):gsub("|", "\\|")) end
    lines[#lines + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  local met = 0
  for _, v in ipairs(or_verdicts) do if v[2] then met = met + 1 end end
  or_block = table.concat({
    "<!-- section 6 -->",
    "## OpenResty (section 6)",
    "",
    string.format("Run %s; load %s (1, 5, 15 min) when it began; %s s per wrk run, median of %d rounds.",
      R["info.date"] or "?", R["or.load"] or "?", R["or.seconds"] or "?", #or_rounds("or.p50.proxy")),
    "",
    "One nginx (" .. (R["info.nginx"] or "?") .. ", lua-nginx-module, one worker) holds every client;",
    "the upstream answers each archive after 20 ms (bench/delay-server.c), or at once",
    "(the static nginx of section 1) for the sequential calls. Load comes from `wrk`",
    "(`-t1 -c1 --latency`, then `-t1 -c64`) with the archive request's headers;",
    "sequential calls are " .. (R["or.seq_calls"] or "?") .. " archives in a loop inside one handler, each decoded",
    "and checked, after 200 to warm up.",
    "",
    table.concat(lines, "\n"),
    "",
    string.format("Targets met: %d of %d.", met, #or_verdicts),
    "<!-- /section 6 -->",
  }, "\n")
  print()
  print(or_block)
end

return or_block
end
