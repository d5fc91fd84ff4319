-- Shared by spec/nginx_cosocket_spec.lua and
-- spec/nginx_cosocket_errors_spec.lua: an nginx with its Lua module and
-- three fakes (HTTP, HTTPS, and HTTPS for the location without
-- lua_ssl_trusted_certificate), and helpers that run Lua in its handlers
-- (spec/support/nginx_runner.lua) and read the results back.
--
--   local cosocket = require "spec.support.cosocket"
--   local h = cosocket.suite()   -- inside a describe block; h is filled in at setup
--   h.results(code [, location]), h.run(...), h.client(opts), h.both(...), h.same_error(a, b)
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"
local nginx = require "spec.support.nginx"
local cjson = require "cjson"
local socket = require "socket"

local M = {}

M.EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
M.KEY = "sk-cosocket-test"
local EXAMPLE_ID, KEY = M.EXAMPLE_ID, M.KEY

local CONF = nginx.conf { http = [[
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
]] }

function M.urlencode(s)
  return (s:gsub("[^%w%-_.~]", function(c) return string.format("%%%02X", c:byte()) end))
end
local urlencode = M.urlencode

--- nil when nginx and its Lua module are installed, else what is missing.
M.missing = nginx.missing

--- cosocket.suite() -> h: registers setup, teardown and before_each in the
-- calling describe block; h.api, h.tls_api, h.tls_other, h.server, h.ctx
-- are set at setup.
function M.suite()
  local busted = require "busted"
  local setup, teardown, before_each = busted.setup, busted.teardown, busted.before_each
  local assert = busted.assert
  local h = {}
  local api, tls_api, tls_other, server, ctx

  setup(function()
    api = fake.start()
    tls_api = fake.start { tls = true }
    tls_other = fake.start { tls = true }
    local conf = CONF:gsub("@ROOT@", hosts.ROOT):gsub("@API@", api.url):gsub("@KEY@", KEY)
      :gsub("@CA@", tls_api.ca_file)
    server = nginx.start { conf = conf }
    ctx = { api = api.url, tls = tls_api.url, tls_other = tls_other.url, key = KEY, id = EXAMPLE_ID }
    h.api, h.tls_api, h.tls_other, h.server, h.ctx = api, tls_api, tls_other, server, ctx
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

  h.log_tail, h.run, h.results, h.client, h.both, h.same_error = log_tail, run, results, client, both, same_error
  h.EXPECTED_ARCHIVE_HEADERS = EXPECTED_ARCHIVE_HEADERS
  return h
end

return M
