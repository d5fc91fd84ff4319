-- The library inside nginx with its Lua module (Debian's nginx-light,
-- libnginx-mod-http-lua, lua-resty-core): examples/openresty/nginx.conf is
-- started on loopback from a temporary prefix, one worker, with the fake
-- API behind it. Each mode (ngx.run_worker_thread, the async call waited
-- on, the blocking call in a content handler; the last two over cosockets,
-- see spec/nginx_cosocket_spec.lua) must give the
-- right answer, and keep the worker answering /ping within 500 ms while an
-- archive the fake holds for 2 s is in flight. Runs once per `make test`,
-- in its LuaJIT run (see spec/support/hosts.lua).
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"
local nginx = require "spec.support.nginx"
local cjson = require "cjson"
local socket = require "socket"

if not hosts.ONCE then return end

local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-nginx-test"
local DELAY = 2        -- seconds the fake holds each API request
local PING_LIMIT = 0.5 -- a blocked worker would take DELAY

-- The example configuration, made runnable here: this checkout's paths, a
-- free port, no access log, and one more location for the specs only.
local function test_conf()
  local conf = assert(hosts.read_file(hosts.ROOT .. "/examples/openresty/nginx.conf"))
  local n
  conf, n = conf:gsub("/path/to/anthropic%-environments", hosts.ROOT)
  assert(n >= 2, "the example should name the checkout in lua_package_path and lua_package_cpath")
  conf, n = conf:gsub("listen 127%.0%.0%.1:8080;", "listen 127.0.0.1:@PORT@;")
  assert(n == 1)
  -- spec/support/nginx.lua gives the pid file with -g (the example's is under its prefix too)
  conf, n = conf:gsub("\npid logs/nginx%.pid;\n", "\n", 1)
  assert(n == 1)
  -- The contrast: in nginx's "set" phase ngx.sleep cannot yield, so the
  -- blocking call really blocks the worker there.
  conf, n = conf:gsub("\n        location = /ping {", [[

        location = /stalled-archive {
            set_by_lua_block $name {
                local env, err = require("anthropic.environments").archive(ngx.var.arg_id)
                return env and env.name or tostring(err)
            }
            return 200 "$name\n";
        }

        location = /ping {]], 1)
  assert(n == 1)
  return conf
end

local missing = nginx.missing()

describe("inside nginx (lua-nginx-module)", function()
  if missing then
    pending("nginx with its Lua module is not installed: " .. missing)
    return
  end

  local api, server

  setup(function()
    api = fake.start()
    server = nginx.start { conf = test_conf(), env = { ANTHROPIC_API_KEY = KEY, ANTHROPIC_BASE_URL = api.url } }
  end)
  teardown(function()
    if server then server:stop() end
    api:stop()
  end)
  before_each(function() api:reset() end)

  local function get_json(path)
    local status, body = server:get(path)
    assert(status, "GET " .. path .. " failed: " .. tostring(body) .. "\n" .. server:error_log())
    local ok, value = pcall(cjson.decode, body)
    assert(ok, "GET " .. path .. " gave " .. status .. " and no JSON: " .. body .. "\n" .. server:error_log())
    return status, value
  end

  it("answers /ping", function()
    local status, body = server:get("/ping")
    assert.are.equal(200, status, server:error_log())
    assert.are.equal("pong\n", body)
  end)

  for _, mode in ipairs { "thread", "async", "blocking" } do
    local path = "/" .. mode .. "-archive?id="

    describe(mode .. "-archive", function()
      it("archives and returns the environment", function()
        local status, env = get_json(path .. EXAMPLE_ID)
        assert.are.equal(200, status)
        assert.are.equal(EXAMPLE_ID, env.id)
        assert.are.equal("python-data-analysis", env.name)
        assert.are.equal("string", type(env.archived_at))
        assert.are.same({ "pandas", "numpy" }, env.config.packages.pip)
        local reqs = api:requests()
        assert.are.equal(1, #reqs)
        assert.are.equal("POST", reqs[1].method)
        assert.are.equal("/v1/environments/" .. EXAMPLE_ID .. "/archive", reqs[1].path)
        assert.are.equal(KEY, reqs[1].header_map["x-api-key"])
        assert.are.equal(api:get_environment(EXAMPLE_ID).archived_at, env.archived_at)
      end)

      it("gives JSON null as null", function()
        local status, env = get_json(path .. "env_selfhosted01")
        assert.are.equal(200, status)
        assert.are.equal(cjson.null, env.description)
        assert.are.equal("self_hosted", env.config.type)
      end)

      it("gives a 404 as the error's fields", function()
        local status, body = get_json(path .. "env_nope")
        assert.are.equal(404, status)
        local err = body.error
        assert.are.equal("api", err.kind)
        assert.are.equal(404, err.status)
        assert.are.equal("not_found_error", err.type)
        assert.are.equal("environment_not_found", err.error_code)
        assert.are.equal("Environment 'env_nope' not found", err.message)
        assert.matches("^req_fake_%d+$", err.request_id)
        assert.are.equal(api:requests()[1].request_id, err.request_id)
        assert.are.equal(1, err.attempts)
        assert.are.equal(err.request_id, err.headers["request-id"])
      end)

      it("keeps the worker answering /ping within 500 ms while the archive is in flight", function()
        api:config { delay_ms = DELAY * 1000 }
        local slow = server:send(path .. EXAMPLE_ID)
        -- Wait until the request has reached the fake (which then holds it).
        local deadline = socket.gettime() + 1
        while #api:requests() == 0 and socket.gettime() < deadline do socket.sleep(0.02) end
        assert.are.equal(1, #api:requests(), "the archive never reached the fake API")
        local pings = {}
        for i = 1, 5 do
          local status, body, took = server:get("/ping", PING_LIMIT)
          assert(status == 200 and body == "pong\n", string.format("ping %d: %s %s after %.3f s\n%s",
            i, tostring(status), tostring(body), took, server:error_log()))
          pings[i] = took
          socket.sleep(0.15)
        end
        local status, body, took = slow.finish()
        assert.are.equal(200, status, tostring(body))
        assert.are.equal(EXAMPLE_ID, cjson.decode(body).id)
        -- The pings happened while the archive was still waiting on the fake.
        assert.is_true(took >= DELAY * 0.9, string.format("the archive took only %.3f s", took))
        for i, t in ipairs(pings) do
          assert.is_true(t < PING_LIMIT, string.format("ping %d took %.3f s", i, t))
        end
      end)
    end)
  end

  describe("thread-archive", function()
    it("gives an argument error raised in the thread as the thread's failure", function()
      local status, body = get_json("/thread-archive")
      assert.are.equal(500, status)
      assert.are.equal("thread", body.error.kind)
      assert.matches("anthropic.environments.archive: id must be a string (got nil)",
        body.error.message, 1, true)
      assert.are.equal(0, #api:requests())
    end)
  end)

  it("runs archives in different modes at once on the one worker", function()
    api:config { delay_ms = DELAY * 1000 }
    local started = socket.gettime()
    local a = server:send("/async-archive?id=" .. EXAMPLE_ID)
    local b = server:send("/blocking-archive?id=env_selfhosted01")
    local c = server:send("/thread-archive?id=env_unrestricted01")
    local sa, ba = a.finish()
    local sb, bb = b.finish()
    local sc, bc = c.finish()
    local took = socket.gettime() - started
    assert.are.same({ 200, 200, 200 }, { sa, sb, sc }, tostring(ba) .. tostring(bb) .. tostring(bc))
    assert.are.equal(EXAMPLE_ID, cjson.decode(ba).id)
    assert.are.equal("env_selfhosted01", cjson.decode(bb).id)
    assert.are.equal("env_unrestricted01", cjson.decode(bc).id)
    assert.is_true(took < DELAY * 2, string.format("three archives took %.3f s", took))
  end)

  it("shows what it guards against: a call that cannot yield holds /ping for the whole delay", function()
    api:config { delay_ms = DELAY * 1000 }
    local slow = server:send("/stalled-archive?id=" .. EXAMPLE_ID)
    local deadline = socket.gettime() + 1
    while #api:requests() == 0 and socket.gettime() < deadline do socket.sleep(0.02) end
    local status, body, took = server:get("/ping", DELAY * 2)
    assert.are.equal(200, status, tostring(body))
    assert.is_true(took >= DELAY * 0.5, string.format("ping took only %.3f s", took))
    local s2, b2 = slow.finish()
    assert.are.equal(200, s2)
    assert.are.equal("python-data-analysis\n", b2)
  end)
end)
