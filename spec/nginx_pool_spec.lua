-- The cosocket transport inside nginx under load and faults: what clients
-- and locations share (the connection pool, TLS sessions) and what they
-- must not (answers to other credentials, trust), the parser's bounds,
-- timeouts nginx cannot take, and calls where the handler cannot yield.
-- The upstream is nginx itself: spec/support/glitch_upstream.lua, which
-- answers each request with its own x-api-key and glitches one answer in
-- ten. LuaJIT only, once per `make test`.
local hosts = require "spec.support.hosts"
local nginx = require "spec.support.nginx"
local fake = require "spec.support.fake"
local cjson = require "cjson"

if not hosts.ONCE then return end

local missing = nginx.missing()

local CONF = nginx.conf { connections = 4096, http = [[
    lua_ssl_trusted_certificate @CA@;
    lua_ssl_verify_depth 2;
    server {
        listen 127.0.0.1:@PORT@;
        location /v1/ { content_by_lua_block { require("spec.support.glitch_upstream").serve() } }
        location = /run { content_by_lua_block { require("spec.support.nginx_runner").content() } }
        # Trusts another CA only: the fakes' certificate is not trusted here.
        location = /run-other-trust {
            lua_ssl_trusted_certificate @OTHER_CA@;
            set $anthropic_environments_trust other-ca;
            content_by_lua_block { require("spec.support.nginx_runner").content() }
        }
    }
]] }

local function urlencode(s)
  return (s:gsub("[^%w%-_.~]", function(c) return string.format("%%%02X", c:byte()) end))
end

describe("the cosocket transport under load and faults", function()
  if missing then
    pending("nginx with its Lua module is not installed: " .. missing)
    return
  end

  local server, api, tls_api, ctx, other_ca

  setup(function()
    api = fake.start()
    tls_api = fake.start { tls = true }
    other_ca = os.tmpname()
    assert(os.execute("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other -keyout /dev/null -out "
      .. hosts.shell_quote(other_ca) .. " >/dev/null 2>&1"))
    local conf = CONF:gsub("@ROOT@", hosts.ROOT):gsub("@CA@", tls_api.ca_file):gsub("@OTHER_CA@", other_ca)
    server = nginx.start { conf = conf }
    ctx = { upstream = "http://127.0.0.1:" .. server.port, api = api.url, tls = tls_api.url, id = "env_011CZkZ9X2dpNyB7HsEFoRfW" }
  end)
  teardown(function()
    if server then server:stop() end
    api:stop()
    tls_api:stop()
    os.remove(other_ca)
  end)

  local function results(code, location, timeout)
    local mime = require "mime"
    local path = (location or "/run") .. "?code=" .. urlencode((mime.b64(code)))
      .. "&ctx=" .. urlencode((mime.b64(cjson.encode(ctx))))
    local status, body = server:get(path, timeout or 60)
    local log = server:error_log()
    assert(status == 200, "nginx answered " .. tostring(status) .. ": " .. tostring(body) .. "\n" .. log:sub(-3000))
    local out = cjson.decode(body)
    assert(out.ok, "the code raised in nginx: " .. tostring(out.error) .. "\n" .. log:sub(-3000))
    local r = { n = out.n }
    for k, v in pairs(out.results or {}) do
      if tonumber(k) then r[tonumber(k)] = v end
    end
    return r
  end

  -- Runs `calls` calls from each of `threads` light threads, alternating
  -- two clients with different keys against the glitching upstream;
  -- returns what each call got: { ok, crossed, errors, kinds }.
  local LOAD = [[
    local environments = require "anthropic.environments"
    local threads, calls = ...
    local clients = {}
    for i, key in ipairs { "sk-tenant-a-0123456789", "sk-tenant-b-9876543210" } do
      clients[i] = { key = key, c = environments.new { base_url = ctx.upstream, api_key = key,
        max_retries = 0, transport = "ngx", timeout = 10 } }
    end
    local out = { ok = 0, crossed = 0, errors = 0, kinds = {} }
    local function worker(i)
      for j = 1, calls do
        local cl = clients[(i + j) % 2 + 1]
        local v, err = cl.c:retrieve("env_glitch")
        if type(v) == "table" and v.name then
          if v.name == cl.key then out.ok = out.ok + 1 else out.crossed = out.crossed + 1 end
        elseif err then
          out.errors = out.errors + 1
          out.kinds[err.kind] = (out.kinds[err.kind] or 0) + 1
        end
      end
    end
    local list = {}
    for i = 1, threads do list[i] = ngx.thread.spawn(worker, i) end
    for i = 1, threads do ngx.thread.wait(list[i]) end
    return out
  ]]

  it("two clients with different keys under load against a glitching upstream: no answer reaches the other", function()
    for _ = 1, 3 do
      local r = results("return (function(...) " .. LOAD .. " end)(200, 5)")
      local out = r[1]
      assert.are.equal(0, out.crossed, cjson.encode(out))
      assert.is_true(out.ok >= 500, cjson.encode(out))
    end
  end)

  it("a hostile answer with 40,000 repeated headers ends quickly as a decode error, as libcurl's", function()
    local r = results([[
      local environments = require "anthropic.environments"
      local out = {}
      for _, transport in ipairs { "ngx", "curl" } do
        local c = environments.new { base_url = ctx.upstream, api_key = "sk-hostile-0123456789",
          max_retries = 0, transport = transport }
        ngx.update_time()
        local started = ngx.now()
        local v, err = c:retrieve("env_headers")
        ngx.update_time()
        out[transport] = { v = v, kind = err and err.kind, message = err and err.message,
          took = ngx.now() - started }
      end
      return out
    ]])
    local ngx_, curl = r[1].ngx, r[1].curl
    assert.is_nil(ngx_.v)
    assert.are.equal("decode", ngx_.kind, tostring(ngx_.message))
    assert.are.equal("response headers over 65536 bytes", ngx_.message)
    assert.are.equal(curl.kind, ngx_.kind)
    assert.are.equal(curl.message, ngx_.message)
    assert.is_true(ngx_.took < 2, "took " .. ngx_.took .. " s")
  end)

  it("timeouts over nginx's range (2^31 ms, about 24.8 days) are clamped, as libcurl does", function()
    local r = results([[
      local environments = require "anthropic.environments"
      local c = environments.new { base_url = ctx.tls, api_key = "sk-long-0123456789", max_retries = 0,
        transport = "ngx", timeout = 30 * 86400, connect_timeout = 1e9, stall_timeout = 2147484 }
      local a, ea = c:archive(ctx.id)
      local b, eb = c:retrieve(ctx.id, { timeout = 1e9 })
      return a, ea, b, eb
    ]])
    assert.is_nil(r[2], r[2] and r[2].message)
    assert.are.equal("env_011CZkZ9X2dpNyB7HsEFoRfW", r[1].id)
    assert.is_nil(r[4], r[4] and r[4].message)
    assert.are.equal("env_011CZkZ9X2dpNyB7HsEFoRfW", r[3].id)
  end)
  it("a connection or TLS session verified in one location is not reused in one of other trust", function()
    local call = [[
      local environments = require "anthropic.environments"
      local key = ...
      local c = environments.new { base_url = ctx.tls, api_key = key, max_retries = 0, transport = "ngx" }
      return c:archive(ctx.id)
    ]]
    local function run(location, key)
      return results("return (function(...) " .. call .. " end)('" .. key .. "')", location)
    end
    -- Trusted here: a kept-alive connection and a session to resume.
    local r = run("/run", "sk-trust-a-0123456789")
    assert.are.equal("env_011CZkZ9X2dpNyB7HsEFoRfW", r[1] and r[1].id, r[2] and r[2].message)
    -- The same credentials (the kept-alive connection), then others (the
    -- session only): both verified anew, and refused.
    for _, key in ipairs { "sk-trust-a-0123456789", "sk-trust-b-0123456789" } do
      r = run("/run-other-trust", key)
      assert.is_nil(r[1], "reached the server from a location that does not trust it")
      assert.are.equal("connection", r[2].kind)
      assert.matches("TLS", r[2].message)
    end
    -- And back in the first location, still trusted.
    r = run("/run", "sk-trust-b-0123456789")
    assert.are.equal("env_011CZkZ9X2dpNyB7HsEFoRfW", r[1] and r[1].id, r[2] and r[2].message)
  end)
  it("a call where the handler cannot yield (a string.gsub callback, a table.sort comparator) runs on libcurl", function()
    local r = results([[
      local environments = require "anthropic.environments"
      local c = environments.new { base_url = ctx.api, api_key = "sk-noyield-0123456789", max_retries = 1,
        sleep = function() end }
      local out = {}
      local ok, raised = pcall(function()
        ("x"):gsub("x", function()
          local v, err = c:archive(ctx.id)
          out.gsub = { id = v and v.id, err = err and err.message, transport = err and err.transport }
        end)
        local list = { 2, 1 }
        table.sort(list, function(a, b)
          if not out.sort then
            local v, err = c:retrieve(ctx.id)
            out.sort = { id = v and v.id, err = err and err.message }
          end
          return a < b
        end)
      end)
      out.raised = not ok and tostring(raised) or nil
      -- Where it can yield again: cosockets.
      local v = c:archive(ctx.id)
      out.after = v and v.id
      -- Forced onto cosockets: a clear error at the caller's line.
      local forced = environments.new { base_url = ctx.api, api_key = "sk-noyield-0123456789", transport = "ngx" }
      local x = "x"
      x:gsub("x", function()
        local okf, e = pcall(forced.archive, forced, ctx.id)
        out.forced = not okf and tostring(e) or "no error"
      end)
      return out
    ]])
    local out = r[1]
    assert.is_nil(out.raised)
    assert.are.same({ id = "env_011CZkZ9X2dpNyB7HsEFoRfW" }, out.gsub)
    assert.are.same({ id = "env_011CZkZ9X2dpNyB7HsEFoRfW" }, out.sort)
    assert.are.equal("env_011CZkZ9X2dpNyB7HsEFoRfW", out.after)
    assert.matches("cannot yield", out.forced)
    local reqs = api:requests()
    assert.are.equal(3, #reqs)
  end)
  it("under load mixed with every fault: no hang, no cross-talk, flat memory across rounds", function()
    local r = results([[
      local environments = require "anthropic.environments"
      local threads, rounds = 300, 6
      local keys = { "sk-tenant-a-0123456789", "sk-tenant-b-9876543210" }
      local clients = {}
      for i, key in ipairs(keys) do
        clients[i] = environments.new { base_url = ctx.upstream, api_key = key, max_retries = 0,
          transport = "ngx", timeout = 10 }
      end
      local tls = environments.new { base_url = ctx.tls, api_key = "sk-tls-0123456789", max_retries = 0,
        transport = "ngx" }
      local out = { ok = 0, crossed = 0, kinds = {}, memory = {} }
      local function note(err)
        out.kinds[err.kind] = (out.kinds[err.kind] or 0) + 1
      end
      local function worker(i)
        local pick = i % 10
        local n = i % 2 + 1
        local c = clients[n]
        if pick == 0 then
          local v, err = c:retrieve("env_headers")
          if v or err.kind ~= "decode" then out.crossed = out.crossed + 1 end
        elseif pick == 1 then
          local v, err = c:retrieve("env_stall", { timeout = 0.05 })
          if v or err.kind ~= "timeout" then out.crossed = out.crossed + 1 end
        elseif pick == 2 then
          local v, err = tls:archive(ctx.id)
          if v then out.ok = out.ok + 1 else note(err) end
        elseif pick == 3 then
          local s = "x"
          s:gsub("x", function()
            local v, err = tls:retrieve(ctx.id)
            if v then out.ok = out.ok + 1 else note(err) end
          end)
        else
          for _ = 1, 3 do
            local v, err = c:retrieve("env_glitch")
            if type(v) == "table" and v.name then
              if v.name == keys[n] then out.ok = out.ok + 1 else out.crossed = out.crossed + 1 end
            elseif err then
              note(err)
            end
          end
        end
      end
      for round = 1, rounds do
        local list = {}
        for i = 1, threads do list[i] = ngx.thread.spawn(worker, i) end
        for i = 1, threads do ngx.thread.wait(list[i]) end
        collectgarbage()
        collectgarbage()
        out.memory[round] = collectgarbage("count")
      end
      return out
    ]], nil, 120)
    local out = r[1]
    local report = cjson.encode(out)
    assert.are.equal(0, out.crossed, report)
    assert.is_true(out.ok >= 6 * 300, report)
    -- Flat memory: after the first rounds (caches, pools, sessions), the
    -- heap does not grow with the rounds.
    local settled = out.memory[2]
    for round = 3, #out.memory do
      assert.is_true(out.memory[round] < settled * 1.25 + 512, report)
    end
  end)
end)
