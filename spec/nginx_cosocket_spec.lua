-- The cosocket transport inside a real nginx (Debian's nginx-light with
-- its Lua module), against the fake API over HTTP and HTTPS: every call,
-- every error kind, the bytes on the wire, the connections the fake saw,
-- and that a waiting call costs the worker nothing. Each test sends Lua to
-- nginx (spec/support/nginx_runner.lua runs it in a content handler, or in
-- set_by_lua for the phase that cannot yield) and reads its results back.
-- LuaJIT only, once per `make test`, like spec/nginx_spec.lua.
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"
local nginx = require "spec.support.nginx"
local cjson = require "cjson"
local socket = require "socket"

if not hosts.ONCE then return end

local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-cosocket-test"

local CONF = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
worker_processes 1;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/json;
    client_body_temp_path @PREFIX@/body;
    proxy_temp_path @PREFIX@/proxy;
    fastcgi_temp_path @PREFIX@/fastcgi;
    uwsgi_temp_path @PREFIX@/uwsgi;
    scgi_temp_path @PREFIX@/scgi;
    lua_package_path "@ROOT@/lua/?.lua;@ROOT@/?.lua;;";
    lua_package_cpath "@ROOT@/build/jit/?.so;;";
    init_by_lua_block {
        local environments = require "anthropic.environments"
        require("spec.support.nginx_runner").init_client =
            environments.new { base_url = "@API@", api_key = "@KEY@", max_retries = 0 }
    }
    server {
        listen 127.0.0.1:@PORT@;
        location = /ping { content_by_lua_block { ngx.say("pong") } }
        location = /run {
            lua_ssl_trusted_certificate @CA@;
            lua_ssl_verify_depth 2;
            content_by_lua_block { require("spec.support.nginx_runner").content() }
        }
        # No lua_ssl_trusted_certificate here: nothing to verify against.
        location = /run-untrusted {
            content_by_lua_block { require("spec.support.nginx_runner").content() }
        }
        location = /run-set {
            set_by_lua_block $out { return require("spec.support.nginx_runner").set() }
            return 200 "$out";
        }
    }
}
]]

local function urlencode(s)
  return (s:gsub("[^%w%-_.~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local missing = nginx.missing()

describe("the cosocket transport inside nginx", function()
  if missing then
    pending("nginx with its Lua module is not installed: " .. missing)
    return
  end

  -- tls_other is only ever called from the location without
  -- lua_ssl_trusted_certificate: nginx's connection pool is per worker, so
  -- a connection verified in one location would be reused in another.
  local api, tls_api, tls_other, server, ctx

  setup(function()
    api = fake.start()
    tls_api = fake.start { tls = true }
    tls_other = fake.start { tls = true }
    local conf = CONF:gsub("@ROOT@", hosts.ROOT):gsub("@API@", api.url):gsub("@KEY@", KEY)
      :gsub("@CA@", tls_api.ca_file)
    server = nginx.start { conf = conf }
    ctx = { api = api.url, tls = tls_api.url, tls_other = tls_other.url, key = KEY, id = EXAMPLE_ID }
  end)
  teardown(function()
    if server then server:stop() end
    api:stop()
    tls_api:stop()
    tls_other:stop()
  end)
  before_each(function()
    api:reset()
    tls_api:reset()
  end)

  -- Runs `code` (the body of a function of ctx) in nginx; returns its
  -- results as an array (n = how many), raising with nginx's error log
  -- when the code raised or the answer was not JSON.
  local function log_tail()
    local log = server:error_log()
    return #log > 3000 and "..." .. log:sub(-3000) or log
  end

  local function run(code, location, timeout)
    local mime = require "mime"
    local path = (location or "/run") .. "?code=" .. urlencode((mime.b64(code)))
      .. "&ctx=" .. urlencode((mime.b64(cjson.encode(ctx))))
    local status, body = server:get(path, timeout or 20)
    assert(status == 200, "nginx answered " .. tostring(status) .. ": " .. tostring(body)
      .. "\n" .. log_tail())
    local out = cjson.decode(body)
    return out, body
  end
  local function results(code, location)
    local out = run(code, location)
    assert(out.ok, "the code raised in nginx: " .. tostring(out.error) .. "\n" .. log_tail())
    local r = { n = out.n }
    for k, v in pairs(out.results or {}) do
      if tonumber(k) then r[tonumber(k)] = v end
    end
    return r
  end

  -- The client every test makes in nginx, with options (a Lua table
  -- constructor's contents) added.
  local function client(opts)
    return "local environments = require 'anthropic.environments'\n"
      .. "local lines = {}\n"
      .. "local o = { base_url = ctx.api, api_key = ctx.key, logger = function(l) lines[#lines + 1] = l end }\n"
      .. "for k, v in pairs { " .. (opts or "") .. " } do o[k] = v end\n"
      .. "local c = environments.new(o)\n"
  end

  local EXPECTED_ARCHIVE_HEADERS = {
    { "host", nil },   -- filled in per server
    { "accept", "application/json" },
    { "anthropic-version", "2023-06-01" },
    { "user-agent", nil },
    { "x-api-key", KEY },
    { "anthropic-beta", "managed-agents-2026-04-01" },
    { "content-length", "0" },
  }

  describe("every call", function()
    it("archive: the environment, over a cosocket, with exactly the bytes libcurl sends", function()
      local r = results(client() .. [[
        local env, err = c:archive(ctx.id)
        local curl = environments.new { base_url = ctx.api, api_key = ctx.key, transport = "curl" }
        local env2 = curl:archive(ctx.id)
        return env, err, lines, env2 and env2.id
      ]])
      local env, lines = r[1], r[3]
      assert.are.equal(EXAMPLE_ID, env.id)
      assert.are.equal("python-data-analysis", env.name)
      assert.are.same({ "pandas", "numpy" }, env.config.packages.pip)
      assert.are.equal(EXAMPLE_ID, r[4])
      assert.matches("^anthropic.environments: POST " .. api.url:gsub("%p", "%%%0") .. "/v1/environments/"
        .. EXAMPLE_ID .. "/archive %-> 200 %(request%-id req_fake_%d+, attempt 1, [%d.]+ ms, ngx%)$", lines[1])
      local reqs = api:requests()
      assert.are.equal(2, #reqs)
      local ours, curls = reqs[1], reqs[2]
      assert.are.equal("POST", ours.method)
      assert.are.equal("/v1/environments/" .. EXAMPLE_ID .. "/archive", ours.path)
      assert.are.equal("", ours.query)
      assert.are.equal("", ours.body)
      local expected = {}
      for i, h in ipairs(EXPECTED_ARCHIVE_HEADERS) do expected[i] = { h[1], h[2] } end
      expected[1][2] = api.url:match("//(.*)$")
      expected[4][2] = curls.header_map["user-agent"]
      assert.are.same(expected, ours.headers)
      -- libcurl's request, header for header, in the same order.
      assert.are.same(curls.headers, ours.headers)
      assert.are.same({ curls.method, curls.path, curls.query, curls.body },
                      { ours.method, ours.path, ours.query, ours.body })
    end)

    it("create, retrieve, update, list, each and delete, all on one kept-alive connection", function()
      local r = results(client() .. [[
        local created = assert(c:create { name = "cosocket-env", description = "made in nginx",
          metadata = { team = "edge" } })
        local got = assert(c:retrieve(created.id))
        local updated = assert(c:update(created.id, { description = "changed" }))
        local page = assert(c:list { limit = 2 })
        local seen = 0
        for env, err in c:each { limit = 1 } do
          assert(env, tostring(err))
          seen = seen + 1
        end
        local deleted = assert(c:delete(created.id))
        return created, got, updated, page, seen, deleted
      ]])
      local created, got, updated, page, seen, deleted = r[1], r[2], r[3], r[4], r[5], r[6]
      assert.are.equal("cosocket-env", created.name)
      assert.are.equal(created.id, got.id)
      assert.are.equal("changed", updated.description)
      assert.are.equal(2, #page.data)
      assert.is_string(page.next_page)
      assert.are.equal(4, seen)   -- the three seeded ones and ours
      assert.are.same({ id = created.id, type = "environment_deleted" }, deleted)
      local reqs = api:requests()
      local lines = {}
      for i, q in ipairs(reqs) do
        lines[i] = q.method .. " " .. q.path .. (q.query ~= "" and "?" .. q.query or "")
        assert.are.equal(reqs[1].connection, q.connection, "request " .. i .. " on another connection")
      end
      assert.are.equal("POST /v1/environments", lines[1])
      assert.are.equal('{"description":"made in nginx","metadata":{"team":"edge"},"name":"cosocket-env"}',
        reqs[1].body)
      assert.are.equal("application/json", reqs[1].header_map["content-type"])
      assert.are.equal(tostring(#reqs[1].body), reqs[1].header_map["content-length"])
      assert.are.equal("GET /v1/environments/" .. created.id, lines[2])
      assert.is_nil(reqs[2].header_map["content-length"])
      assert.are.equal("POST /v1/environments/" .. created.id, lines[3])
      assert.are.equal('{"description":"changed"}', reqs[3].body)
      assert.are.equal("GET /v1/environments?limit=2", lines[4])
      assert.are.equal("GET /v1/environments?limit=1", lines[5])
      assert.matches("^GET /v1/environments%?limit=1&page=page_%x+$", lines[6])
      assert.are.equal("DELETE /v1/environments/" .. created.id, lines[#lines])
      assert.are.equal(5 + 4, #lines)   -- each: 4 pages of 1, the last without a next page
    end)

    it("reuses the worker's connection from one nginx request to the next", function()
      results(client() .. "return c:retrieve(ctx.id)")
      results(client() .. "return c:retrieve(ctx.id)")
      local reqs = api:requests()
      assert.are.equal(2, #reqs)
      assert.are.equal(reqs[1].connection, reqs[2].connection)
    end)

    it("archive_many: light threads, at most `concurrency` at once, results per id", function()
      api:config { delay_ms = 300 }
      local started = socket.gettime()
      local r = results(client() .. [[
        local ids = { ctx.id, "env_selfhosted01", "env_nope", "env_unrestricted01", ctx.id }
        local order = {}
        local res, errs = c:archive_many(ids, { concurrency = 2,
          on_result = function(id) order[#order + 1] = id end })
        return res, errs, order
      ]])
      local took = socket.gettime() - started
      local res, errs, order = r[1], r[2], r[3]
      assert.are.equal(EXAMPLE_ID, res[EXAMPLE_ID].id)
      assert.are.equal("env_selfhosted01", res.env_selfhosted01.id)
      assert.are.equal("env_unrestricted01", res.env_unrestricted01.id)
      assert.is_nil(res.env_nope)
      assert.are.equal(404, errs.env_nope.status)
      assert.are.equal("ngx", errs.env_nope.transport)
      assert.are.equal(4, #order)
      local reqs = api:requests()
      assert.are.equal(4, #reqs)
      local conns = {}
      for _, q in ipairs(reqs) do conns[q.connection] = true end
      local n = 0
      for _ in pairs(conns) do n = n + 1 end
      assert.are.equal(2, n, "two light threads, two connections")
      -- 4 archives of 0.3 s, two at a time: 0.6 s, not 1.2 s.
      assert.is_true(took >= 0.55 and took < 1.1, string.format("took %.3f s", took))
    end)

    it("archive_async: calls started together run together and are waited on", function()
      api:config { delay_ms = 300 }
      local started = socket.gettime()
      local r = results(client() .. [[
        local a = c:archive_async(ctx.id)
        local b = c:archive_async("env_selfhosted01")
        local polled = a:poll()
        local _, ea = a:wait()
        local _, eb = b:wait()
        return ea, eb, polled
      ]])
      local took = socket.gettime() - started
      assert.are.equal(EXAMPLE_ID, r[1].id)
      assert.are.equal("env_selfhosted01", r[2].id)
      assert.is_false(r[3])
      assert.is_true(took < 0.55, string.format("two archives of 0.3 s took %.3f s", took))
    end)

    it("archive_async: a wait with a timeout gives false, and the call goes on", function()
      api:config { delay_ms = 400 }
      local r = results(client() .. [[
        local a = c:archive_async(ctx.id)
        local t0 = ngx.now()
        local done = a:wait(0.1)
        ngx.update_time()
        local waited = ngx.now() - t0
        local _, env = a:wait()
        return done, waited, env
      ]])
      assert.is_false(r[1])
      assert.is_true(r[2] >= 0.09 and r[2] < 0.3, "waited " .. r[2])
      assert.are.equal(EXAMPLE_ID, r[3].id)
    end)
  end)

  -- Runs the same failing call over cosockets and over libcurl (forced, in
  -- the same handler) after scripting the fake the same way for each, and
  -- gives both errors.
  local function both(script, opts, call)
    call = call or "c:archive(ctx.id)"
    local out = {}
    for _, transport in ipairs { "ngx", "curl" } do
      api:reset()
      if script then api:script(script) end
      local started = socket.gettime()
      local r = results(client("transport = '" .. transport .. "', " .. (opts or "")) .. "local v, e = "
        .. call .. "\nreturn v, e, lines")
      out[transport] = { value = r[1], err = r[2], lines = r[3], requests = api:requests(),
                         took = socket.gettime() - started }
    end
    return out.ngx, out.curl
  end

  -- The fields that must agree between the transports.
  local function same_error(a, b)
    assert.is_table(a.err)
    assert.is_table(b.err)
    for _, k in ipairs { "kind", "status", "type", "error_code", "attempts" } do
      assert.are.equal(b.err[k], a.err[k], "field " .. k .. ": " .. tostring(a.err.message))
    end
    assert.are.equal(b.err.request_id ~= nil, a.err.request_id ~= nil)
    assert.are.equal("ngx", a.err.transport)
    assert.are.equal("curl", b.err.transport)
    assert.are.equal(#b.requests, #a.requests)
  end

  describe("errors, as libcurl gives them", function()
    it("404", function()
      local a, b = both(nil, nil, "c:archive('env_nope')")
      same_error(a, b)
      assert.are.equal("api", a.err.kind)
      assert.are.equal(404, a.err.status)
      assert.are.equal("not_found_error", a.err.type)
      assert.are.equal("environment_not_found", a.err.error_code)
      assert.are.equal(a.requests[1].request_id, a.err.request_id)
      assert.are.equal(1, a.err.attempts)
      assert.matches("%-> 404 %(request%-id req_fake_%d+, attempt 1, [%d.]+ ms, ngx%)$", a.lines[1])
    end)

    it("429, then retried on the same connection after retry-after-ms", function()
      local a, b = both({ { status = 429, headers = { ["retry-after-ms"] = "50" } } })
      assert.are.equal(EXAMPLE_ID, a.value.id)
      assert.are.equal(EXAMPLE_ID, b.value.id)
      assert.are.equal(2, #a.requests)
      assert.are.equal(a.requests[1].connection, a.requests[2].connection)
      assert.are.same(a.requests[1].headers, a.requests[2].headers)
      assert.matches("%-> 429 .*attempt 1, .*ngx%)$", a.lines[1])
      assert.matches("%-> 200 .*attempt 2, .*ngx%)$", a.lines[2])
    end)

    it("500 every time: retried max_retries times, then the error", function()
      local five = { { status = 500 }, { status = 500 }, { status = 500 } }
      local a, b = both(five, "max_retries = 2, sleep = function() end")
      same_error(a, b)
      assert.are.equal(500, a.err.status)
      assert.are.equal("api_error", a.err.type)
      assert.are.equal(3, a.err.attempts)
      assert.are.equal(3, #a.requests)
    end)

    it("a reset in the middle of the body: a connection error with the status seen, and a new connection", function()
      local item = { fault = "partial_body", status = 200, body = '{"id":"env_', content_length = 500, reset = true }
      local a, b = both({ item }, "max_retries = 0")
      same_error(a, b)
      assert.are.equal("connection", a.err.kind)
      assert.are.equal(200, a.err.status)
      -- The next call does not reuse the broken connection.
      local r = results(client() .. "local c2 = c; return c2:archive(ctx.id)")
      assert.are.equal(EXAMPLE_ID, r[1].id)
      local reqs = api:requests()
      assert.are_not.equal(reqs[1].connection, reqs[2].connection)
    end)

    it("a body over max_body, with a length or chunked", function()
      for _, chunked in ipairs { false, true } do
        local a, b = both({ { status = 200, body_size = 5000, chunked = chunked } }, "max_body = 1000, max_retries = 0")
        same_error(a, b)
        assert.are.equal("decode", a.err.kind)
        assert.are.equal("response body larger than the limit of 1000 bytes", a.err.message)
        assert.are.equal(b.err.message, a.err.message)
      end
    end)

    it("invalid JSON", function()
      local a, b = both({ { status = 200, body = '{"id": nope' } })
      same_error(a, b)
      assert.are.equal("decode", a.err.kind)
      assert.are.equal(200, a.err.status)
      assert.are.equal('{"id": nope', a.err.body)
      assert.matches("^invalid JSON in the answer", a.err.message)
    end)

    it("a timeout: the attempt's timeout, then stall_timeout", function()
      local a, b = both({ { fault = "stall", seconds = 3 } }, "timeout = 0.3, max_retries = 0")
      same_error(a, b)
      assert.are.equal("timeout", a.err.kind)
      assert.matches("^Operation timed out after %d+ milliseconds with 0 bytes received$", a.err.message)
      assert.is_true(a.took < 1, string.format("took %.3f s", a.took))
      a, b = both({ { fault = "stall_body", status = 200, body = '{"id":', seconds = 3 } },
        "stall_timeout = 0.3, max_retries = 0")
      same_error(a, b)
      assert.are.equal("timeout", a.err.kind)
      assert.are.equal(b.err.message, a.err.message)
      assert.are.equal("no data received for 300 ms (stall_timeout)", a.err.message)
    end)

    it("a refused connection", function()
      local s = socket.bind("127.0.0.1", 0)
      local _, port = s:getsockname()
      s:close()
      local r = results(client("max_retries = 0, base_url = 'http://127.0.0.1:" .. port .. "'")
        .. "return c:archive(ctx.id)")
      local err = r[2]
      assert(err, require("cjson").encode(r))
      assert.are.equal("connection", err.kind)
      assert.are.equal("ngx", err.transport)
      assert.matches("could not connect to 127.0.0.1:" .. port .. ": connection refused", err.message, 1, true)
    end)

    it("a host name without a `resolver`: says which directive to add", function()
      local r = results(client("max_retries = 0, base_url = 'http://api.example.invalid'")
        .. "return c:archive(ctx.id)")
      local err = r[2]
      assert.are.equal("connection", err.kind)
      assert.are.equal("ngx", err.transport)
      assert.matches("no resolver defined", err.message, 1, true)
      assert.matches("add one to the http block of nginx.conf, e.g. `resolver 127.0.0.53 ipv6=off;`",
        err.message, 1, true)
    end)
  end)

  describe("TLS", function()
    local function tls_client(opts)
      return client("base_url = ctx.tls, " .. (opts or ""))
    end

    it("verifies against lua_ssl_trusted_certificate and keeps the connection and session", function()
      local r = results(tls_client() .. [[
        local a, ea = c:archive(ctx.id)
        local b, eb = c:retrieve("env_selfhosted01")
        return a, ea, b, eb
      ]])
      assert.are.equal(EXAMPLE_ID, r[1] and r[1].id, tostring(r[2] and r[2].message))
      assert.are.equal("env_selfhosted01", r[3].id)
      local reqs = tls_api:requests()
      assert.are.equal(2, #reqs)
      assert.are.equal(reqs[1].connection, reqs[2].connection)
      assert.are.equal(tls_api.url:match("//(.*)$"), reqs[1].header_map.host)
    end)

    it("without lua_ssl_trusted_certificate: says which directive to add", function()
      local r = results(client("base_url = ctx.tls_other, max_retries = 0") .. "return c:archive(ctx.id)",
        "/run-untrusted")
      local err = r[2]
      assert.are.equal("connection", err.kind)
      assert.are.equal("ngx", err.transport)
      -- nginx names the reason, unless the failed handshake completed at
      -- once (resty.core then has none to give).
      if not err.message:find("gave no reason", 1, true) then
        assert.matches("TLS certificate verification of 127.0.0.1:%d+ failed: ", err.message)
      end
      assert.matches("e.g. `lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;`", err.message, 1, true)
      assert.are.equal(0, #tls_other:requests())
    end)

    it("insecure_skip_tls_verify still skips the verification", function()
      local r = results(client("base_url = ctx.tls_other, insecure_skip_tls_verify = true")
        .. "return c:archive(ctx.id)", "/run-untrusted")
      assert.are.equal(EXAMPLE_ID, r[1].id)
    end)
  end)

  describe("which transport runs", function()
    it("a client made in init_by_lua runs its calls over cosockets in a handler", function()
      local r = results("local v, e = ctx.init_client:archive('env_nope'); return e")
      assert.are.equal("ngx", r[1].transport)
      assert.are.equal(404, r[1].status)
    end)

    it("in set_by_lua, where nothing yields, libcurl", function()
      local r = results(client() .. "local v, e = c:archive('env_nope'); return e, lines", "/run-set")
      assert.are.equal("curl", r[1].transport)
      assert.matches("%-> 404 .*, curl%)$", r[2][1])
    end)

    it("transport = 'ngx' where cosockets are not allowed raises at the call", function()
      local out = run(client("transport = 'ngx'") .. "return c:archive(ctx.id)", "/run-set")
      assert.is_false(out.ok)
      assert.matches("anthropic.environments.archive: transport 'ngx' cannot run in nginx's 'set' phase",
        out.error, 1, true)
      assert.matches("ngx.timer.at(0, ...)", out.error, 1, true)
    end)

    it("in an ngx.timer callback, cosockets", function()
      local r = results(client() .. [[
        local sema = require("ngx.semaphore").new(0)
        local got
        ngx.timer.at(0, function()
          local _, e = c:archive("env_nope")
          got = e
          sema:post(1)
        end)
        sema:wait(5)
        return got
      ]])
      assert.are.equal("ngx", r[1].transport)
    end)

    it("a proxy keeps the client on libcurl; forcing cosockets with one raises at new", function()
      local r = results(client("proxy = ctx.api, max_retries = 0") .. "local v, e = c:archive('env_nope'); return e")
      assert.are.equal("curl", r[1].transport)
      local out = run(client("proxy = ctx.api, transport = 'ngx'") .. "return 1")
      assert.is_false(out.ok)
      assert.matches("anthropic.environments.new: transport 'ngx' cannot honour option 'proxy'", out.error, 1, true)
    end)
  end)

  describe("nothing polls", function()
    local function cpu_seconds(pid)
      local stat = assert(hosts.read_file("/proc/" .. pid .. "/stat"))
      local fields = {}
      for f in stat:match("^%d+ %(.*%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = f end
      -- utime and stime are fields 14 and 15 of the line, 12 and 13 after the name
      return (tonumber(fields[12]) + tonumber(fields[13])) / 100
    end

    local function wakeups(pid)
      local status = assert(hosts.read_file("/proc/" .. pid .. "/status"))
      return tonumber(status:match("voluntary_ctxt_switches:%s*(%d+)"))
    end

    -- Starts an archive the fake holds for 2 s; while it waits, measures
    -- the worker for 1.2 s and pings it. Returns the CPU seconds and the
    -- wake-ups (voluntary context switches: each return from epoll_wait)
    -- of the worker meanwhile, and the pings' times.
    local function measure(opts)
      api:config { delay_ms = 2000 }
      local code = client(opts) .. "return c:archive(ctx.id)"
      local mime = require "mime"
      local slow = server:send("/run?code=" .. urlencode((mime.b64(code))) .. "&ctx="
        .. urlencode((mime.b64(cjson.encode(ctx)))))
      local deadline = socket.gettime() + 1
      while #api:requests() == 0 and socket.gettime() < deadline do socket.sleep(0.02) end
      assert.are.equal(1, #api:requests(), "the archive never reached the fake API")
      local cpu_before, woke_before = cpu_seconds(server.pid), wakeups(server.pid)
      socket.sleep(1.2)
      local cpu, woke = cpu_seconds(server.pid) - cpu_before, wakeups(server.pid) - woke_before
      local pings = {}
      for i = 1, 3 do
        local status, body, took = server:get("/ping", 1)
        assert(status == 200 and body == "pong\n", tostring(body))
        pings[i] = took
      end
      local status, body, took = slow.finish()
      assert.are.equal(200, status)
      local out = cjson.decode(body)
      assert.are.equal(EXAMPLE_ID, out.results["1"].id, body)
      assert.is_true(took >= 1.9, string.format("the archive took only %.3f s", took))
      return cpu, woke, pings
    end

    it("while an archive waits 2 s, /ping answers within 50 ms and the worker's CPU time stays flat", function()
      local cpu, woke, pings = measure()
      for i, t in ipairs(pings) do
        assert.is_true(t < 0.05, string.format("ping %d took %.3f s", i, t))
      end
      -- Clock ticks of 10 ms: generous.
      assert.is_true(cpu <= 0.02, string.format("the worker used %.2f s of CPU while the call waited", cpu))
      -- The worker slept in epoll the whole time: nginx woke it for nothing.
      assert.is_true(woke <= 3, string.format("the worker woke %d times in 1.2 s", woke))
    end)

    it("shows what the measure sees: libcurl inside nginx (forced) polls, waking the worker", function()
      local _, woke = measure("transport = 'curl'")
      assert.is_true(woke >= 30, string.format("the worker woke only %d times in 1.2 s", woke))
    end)
  end)
end)
