-- The transport option and what the cosocket transport writes, outside
-- nginx (spec/nginx_cosocket_spec.lua runs it inside): the choice of
-- transport, its errors, and the request bytes of transport/ngx_wire.lua.
local environments = require "anthropic.environments"
local wire = require "anthropic.environments.transport.ngx_wire"

describe("the transport option", function()
  it("takes 'curl' or 'ngx' only", function()
    assert.has_error(function() environments.new { api_key = "k", transport = "socket" } end,
      [[anthropic.environments.new: option 'transport' must be "curl" or "ngx" (got socket)]])
    assert.has_error(function() environments.new { api_key = "k", transport = 1 } end,
      [[anthropic.environments.new: option 'transport' must be "curl" or "ngx" (got 1)]])
  end)

  it("raises at new for 'ngx' outside nginx", function()
    local ok, err = pcall(function() local c = environments.new { api_key = "k", transport = "ngx" }; return c end)
    assert.is_false(ok)
    assert.matches("anthropic.environments.new: transport 'ngx' needs nginx's Lua module", err, 1, true)
    -- At the caller's line (PUC Lua 5.1 leaves a "(tail call)" frame there).
    if not (_VERSION == "Lua 5.1" and type(jit) ~= "table") then
      assert.matches("transport_choice_spec.lua", err, 1, true)
    end
  end)

  it("runs calls over libcurl outside nginx, and says so on errors", function()
    local fake = require "spec.support.fake"
    local server = fake.start()
    local c = environments.new { api_key = "k", base_url = server.url, transport = "curl" }
    local _, err = c:archive("env_nope")
    assert.are.equal("curl", err.transport)
    _, err = environments.new { api_key = "k", base_url = server.url }:archive("env_nope")
    assert.are.equal("curl", err.transport)
    server:stop()
  end)

  it("makes the libcurl transport at the first call that needs it, not at new", function()
    local fake = require "spec.support.fake"
    local curl = require "anthropic.environments.transport.curl"
    local made, new = 0, curl.new
    curl.new = function(...) made = made + 1 return new(...) end
    local server = fake.start()
    local ok, err = pcall(function()
      local c = environments.new { api_key = "k", base_url = server.url }
      assert.are.equal(0, c:drive(0))
      assert.are.same({}, (c:fds()))
      assert.are.equal(0, made)
      local _, e = c:archive("env_nope")
      assert.are.equal(404, e.status)
      assert.are.equal(1, made)
      assert.is_nil(c:archive("env_nope"))
      assert.are.equal(1, made)
      c:close()
      -- a client closed before any call had nothing to close
      environments.new { api_key = "k", base_url = server.url }:close()
      assert.are.equal(1, made)
    end)
    curl.new = new
    server:stop()
    assert(ok, err)
  end)
end)

describe("the cosocket transport's request bytes", function()
  it("are libcurl's: Host first, the call's lines in order, Content-Length last", function()
    local u = assert(wire.parse_url("http://127.0.0.1:8080/v1/environments/e/archive", true))
    assert.are.equal(
      "POST /v1/environments/e/archive HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
      .. "accept: application/json\r\nx-api-key: k\r\nContent-Length: 0\r\n\r\n",
      wire.request("POST", u, nil, { "accept: application/json", "x-api-key: k" }, nil))
    u = assert(wire.parse_url("https://API.example.com/v1/environments", true))
    assert.are.equal(
      "POST /v1/environments HTTP/1.1\r\nHost: api.example.com\r\ncontent-type: application/json\r\n"
      .. "Content-Length: 2\r\n\r\n{}",
      wire.request("POST", u, nil, { "content-type: application/json" }, "{}"))
    u = assert(wire.parse_url("http://h/v1/environments?limit=2", true))
    assert.are.equal("GET /v1/environments?limit=2 HTTP/1.1\r\nHost: h\r\n\r\n", wire.request("GET", u, nil, {}, nil))
    assert.are.equal("DELETE / HTTP/1.1\r\nHost: h:81\r\n\r\n",
      wire.request("DELETE", assert(wire.parse_url("http://h:81", true)), nil, {}, nil))
  end)

  it("pool connections by scheme, host, port and TLS settings, with SNI for names only", function()
    local a = wire.parse_url("https://api.example.com/x", true)
    assert.are.same({ "api.example.com", 443, "api.example.com" }, { a.host, a.port, a.sni })
    assert.are.equal("anthropic.environments https api.example.com 443 verify=1 sni=api.example.com", a.pool)
    local b = wire.parse_url("https://api.example.com/x", false)
    assert.are_not.equal(a.pool, b.pool)
    local ip = wire.parse_url("https://127.0.0.1:8443/x", true)
    assert.is_nil(ip.sni)
    assert.are.equal("anthropic.environments https 127.0.0.1 8443 verify=1 sni=-", ip.pool)
    local v6 = wire.parse_url("http://[::1]:8080/x", true)
    assert.are.same({ "[::1]", 8080, "[::1]:8080" }, { v6.host, v6.port, v6.authority })
    assert.are.equal("anthropic.environments http 127.0.0.1 80", wire.parse_url("http://127.0.0.1/", true).pool)
    assert.is_nil((wire.parse_url("http://h:99999/", true)))
    assert.is_nil((wire.parse_url("ftp://h/", true)))
  end)
end)
