-- Waiting on calls inside nginx: several light threads waiting on one call,
-- client:drive from one nginx request while another runs archive_many on a
-- shared client, calls whose nginx request ended under them, cancel and
-- close from a watchdog light thread, and the exchange threads of calls
-- waited on from another light thread reaped (memory stays flat).
-- LuaJIT only, once per `make test`, like spec/nginx_cosocket_spec.lua.
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"
local nginx = require "spec.support.nginx"
local cosocket = require "spec.support.cosocket"
local cjson = require "cjson"
local socket = require "socket"
local mime = require "mime"

if not hosts.ONCE then return end

local EXAMPLE_ID, KEY = cosocket.EXAMPLE_ID, cosocket.KEY
local urlencode = cosocket.urlencode

local CONF = nginx.conf { http = [[
    init_by_lua_block {
        local environments = require "anthropic.environments"
        require("spec.support.nginx_runner").init_client =
            environments.new { base_url = "@API@", api_key = "@KEY@", max_retries = 0 }
    }
    server {
        listen 127.0.0.1:@PORT@;
        location = /run { content_by_lua_block { require("spec.support.nginx_runner").content() } }
        location = /run-abort {
            lua_check_client_abort on;
            content_by_lua_block { require("spec.support.nginx_runner").content() }
        }
        # An API answer from nginx itself, for calls by the thousand.
        location /v1/ { return 200 '{"id":"@ID@","type":"environment"}'; }
    }
]] }

describe("waiting on calls inside nginx", function()
  local missing = nginx.missing()
  if missing then
    pending("nginx with its Lua module is not installed: " .. missing)
    return
  end

  local api, server, ctx

  setup(function()
    api = fake.start()
    local conf = CONF:gsub("@ROOT@", hosts.ROOT):gsub("@API@", api.url):gsub("@KEY@", KEY)
      :gsub("@ID@", EXAMPLE_ID)
    server = nginx.start { conf = conf }
    ctx = { api = api.url, key = KEY, id = EXAMPLE_ID, self = server.url }
  end)
  teardown(function()
    if server then server:stop() end
    api:stop()
  end)
  before_each(function() api:reset() end)

  local function path(code, location)
    return (location or "/run") .. "?code=" .. urlencode((mime.b64(code)))
      .. "&ctx=" .. urlencode((mime.b64(cjson.encode(ctx))))
  end

  local function log_tail()
    local log = server:error_log()
    return #log > 3000 and "..." .. log:sub(-3000) or log
  end

  local function decode(status, body)
    assert(status == 200, "nginx answered " .. tostring(status) .. ": " .. tostring(body) .. "\n" .. log_tail())
    local out = cjson.decode(body)
    assert(out.ok, "the code raised in nginx: " .. tostring(out.error) .. "\n" .. log_tail())
    local r = {}
    for k, v in pairs(out.results or {}) do
      if tonumber(k) then r[tonumber(k)] = v end
    end
    return r
  end

  local function results(code, timeout)
    return decode(server:get(path(code), timeout or 20))
  end

  local CLIENT = "local environments = require 'anthropic.environments'\n"
    .. "local c = environments.new { base_url = ctx.api, api_key = ctx.key, max_retries = 0 }\n"

  -- The shared client's requests in flight, after a full collection (the
  -- calls of an nginx request that ended are garbage by then).
  local function inflight()
    return results [[
      collectgarbage("collect")
      collectgarbage("collect")
      return ctx.init_client:drive(0)
    ]][1]
  end

  describe("every waiter is woken", function()
    it("two light threads waiting on one async call both get its answer", function()
      api:config { delay_ms = 300 }
      local r = results(CLIENT .. [[
        local call = c:archive_async(ctx.id)
        local t0 = ngx.now()
        local function waiter() return call:wait(5) end
        local a = ngx.thread.spawn(waiter)
        local b = ngx.thread.spawn(waiter)
        local _, done_a, env_a = ngx.thread.wait(a)
        local _, done_b, env_b = ngx.thread.wait(b)
        ngx.update_time()
        return done_a, done_b, env_a and env_a.id, env_b and env_b.id, ngx.now() - t0
      ]])
      assert.is_true(r[1])
      assert.is_true(r[2])
      assert.are.equal(EXAMPLE_ID, r[3])
      assert.are.equal(EXAMPLE_ID, r[4])
      assert.is_true(r[5] < 2, string.format("the waiters took %.3f s", r[5]))
      assert.are.equal(1, #api:requests())
    end)

    it("client:drive(wait) in one nginx request while archive_many runs in another on a shared client", function()
      api:config { delay_ms = 200 }
      local many = server:send(path [[
        local ids = { ctx.id, "env_selfhosted01", "env_unrestricted01", "env_nope" }
        local res, errs = ctx.init_client:archive_many(ids, { concurrency = 2 })
        return res, errs
      ]])
      local deadline = socket.gettime() + 2
      while #api:requests() == 0 and socket.gettime() < deadline do socket.sleep(0.01) end
      local r = results [[
        local most, t0 = 0, ngx.now()
        while ngx.now() - t0 < 0.6 do
          most = math.max(most, ctx.init_client:drive(0.05))
          ngx.update_time()
        end
        return most
      ]]
      assert.is_true(r[1] >= 1, "drive saw nothing in flight")
      local status, body, took = many.finish()
      local out = decode(status, body)
      assert.are.equal(EXAMPLE_ID, out[1][EXAMPLE_ID].id)
      assert.are.equal("env_unrestricted01", out[1].env_unrestricted01.id)
      assert.are.equal(404, out[2].env_nope.status)
      assert.is_true(took < 3, string.format("archive_many took %.3f s", took))
      assert.are.equal(0, inflight())
    end)
  end)

  describe("a call whose nginx request ended", function()
    it("leaves the shared client's transport after ngx.exit", function()
      api:config { delay_ms = 3000 }
      local status = server:get(path [[
        ctx.init_client:archive_async(ctx.id)
        ctx.init_client:archive_async("env_selfhosted01")
        ngx.say("{}")
        return ngx.exit(200)
      ]])
      assert.are.equal(200, status)
      assert.are.equal(0, inflight())
    end)

    it("leaves it when the client aborts (lua_check_client_abort on)", function()
      api:config { delay_ms = 3000 }
      local aborted = socket.tcp()
      aborted:settimeout(5, "t")
      assert(aborted:connect("127.0.0.1", server.port))
      assert(aborted:send("GET " .. path([[return ctx.init_client:archive(ctx.id)]], "/run-abort")
        .. " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"))
      local deadline = socket.gettime() + 2
      while #api:requests() == 0 and socket.gettime() < deadline do socket.sleep(0.01) end
      assert.are.equal(1, #api:requests())
      aborted:close()
      socket.sleep(0.2)
      assert.are.equal(0, inflight())
    end)
  end)

  describe("from a watchdog light thread", function()
    it("call:cancel() ends a call waiting on the network at once", function()
      api:config { delay_ms = 5000 }
      local r = results(CLIENT .. [[
        local call = c:archive_async(ctx.id)
        ngx.thread.spawn(function() ngx.sleep(0.1) call:cancel() end)
        local t0 = ngx.now()
        local done, env, err = call:wait()
        ngx.update_time()
        return done, env, err, ngx.now() - t0, c:drive(0)
      ]])
      assert.is_true(r[1])
      assert.is_nil(r[2])
      assert.are.equal("cancelled", r[3].kind)
      assert.is_true(r[4] < 0.5, string.format("the wait took %.3f s", r[4]))
      assert.are.equal(0, r[5])
    end)

    it("client:close() ends a blocking call waiting on the network at once", function()
      api:config { delay_ms = 5000 }
      local r = results(CLIENT .. [[
        ngx.thread.spawn(function() ngx.sleep(0.1) c:close() end)
        local t0 = ngx.now()
        local env, err = c:archive(ctx.id)
        ngx.update_time()
        return env, err, ngx.now() - t0
      ]])
      assert.is_nil(r[1])
      assert.are.equal("cancelled", r[2].kind)
      assert.is_true(r[3] < 0.5, string.format("the call took %.3f s", r[3]))
    end)

    it("a shared client's close() ends a call another light thread waits on", function()
      api:config { delay_ms = 5000 }
      local r = results(CLIENT .. [[
        local call = c:archive_async(ctx.id)
        local waiter = ngx.thread.spawn(function() return call:wait(4) end)
        ngx.sleep(0.1)
        local t0 = ngx.now()
        c:close()
        local _, done, env, err = ngx.thread.wait(waiter)
        ngx.update_time()
        return done, env, err, ngx.now() - t0
      ]])
      assert.is_true(r[1])
      assert.is_nil(r[2])
      assert.are.equal("cancelled", r[3].kind)
      assert.is_true(r[4] < 0.5, string.format("the waiter took %.3f s to return", r[4]))
    end)
  end)

  it("a client made and used in a content handler never makes a libcurl transport", function()
    local r = results([[
      local curl = require "anthropic.environments.transport.curl"
      local made, new = 0, curl.new
      curl.new = function(...) made = made + 1 return new(...) end
      local environments = require "anthropic.environments"
      local c = environments.new { base_url = ctx.api, api_key = ctx.key, max_retries = 0 }
      local state = require("anthropic.environments.client").private(c)
      local env = c:archive(ctx.id)
      local many = c:archive_many { ctx.id, "env_selfhosted01" }
      local n = c:drive(0.01)
      local call = c:archive_async(ctx.id)
      call:wait()
      local fds = c:fds()
      c:close()
      curl.new = new
      return env.id, many.env_selfhosted01.id, n, #fds, made, state.ngx ~= nil
    ]])
    assert.are.same({ EXAMPLE_ID, "env_selfhosted01", 0, 0, 0, true }, { r[1], r[2], r[3], r[4], r[5], r[6] })
  end)

  it("calls waited on from another light thread leave no thread behind: memory stays flat", function()
    local r = results([[
      local environments = require "anthropic.environments"
      local c = environments.new { base_url = ctx.self, api_key = ctx.key, max_retries = 0 }
      local sema = require("ngx.semaphore").new(0)
      local counts, failures = {}, 0
      assert(ngx.timer.at(0, function()
        local ok, err = pcall(function()
          for i = 1, 3000 do
            local call = c:archive_async(ctx.id)
            local waiter = ngx.thread.spawn(function() return call:wait(5) end)
            local _, done, env = ngx.thread.wait(waiter)
            if not (done and env) then failures = failures + 1 end
            if i % 500 == 0 then
              collectgarbage("collect")
              collectgarbage("collect")
              counts[#counts + 1] = collectgarbage("count")
            end
          end
        end)
        if not ok then failures = tostring(err) end
        sema:post(1)
      end))
      sema:wait(60)
      return counts, failures
    ]], 70)
    local counts, failures = r[1], r[2]
    assert.are.equal(0, failures)
    assert.are.equal(6, #counts)
    -- From the 1,000th call to the 3,000th: an unreaped thread per call
    -- would be ~1.8 KB each, 3.6 MB in all.
    local grew = counts[6] - counts[2]
    assert.is_true(grew < 400, string.format("the Lua heap grew by %.0f KB over 2,000 calls (%s)", grew,
      table.concat(counts, ", ")))
  end)
end)
