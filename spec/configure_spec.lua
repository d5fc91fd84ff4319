-- environments.configure: the default client the one-liners use, made
-- from options instead of the environment variables, and reset.
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"

local ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"

describe("configure", function()
  local server = fake.suite("sk-unused")
  -- the clients made here close their connections now, not during a later
  -- file's count of sockets
  teardown(function() collectgarbage() collectgarbage() end)
  teardown(function() environments.configure() end)
  before_each(function() environments.configure() end)

  local function raises(message, f)
    local ok, msg = pcall(f)
    assert.is_false(ok)
    assert.matches("anthropic.environments." .. message, msg, 1, true)
    assert.matches("^[^:]*configure_spec%.lua:%d+: ", msg)
  end

  it("makes the default client from options: the one-liners use them", function()
    environments.configure { base_url = server.url, api_key = "sk-configured", timeout = 7,
                             headers = { ["X-Team"] = "ops" } }
    local client = environments.default_client()
    assert.are.equal(7, client.timeout)
    assert.are.equal(server.url, client.base_url)
    assert.are.equal("python-data-analysis", assert(environments.archive(ID)).name)
    local req = server:only_request()
    assert.are.equal("/v1/environments/" .. ID .. "/archive", req.path)
    assert.are.equal("sk-configured", req.header_map["x-api-key"])
    assert.are.equal("ops", req.header_map["x-team"])
    assert.are.equal(client, environments.default_client())
  end)

  it("replaces the default client and closes the old one", function()
    environments.configure { base_url = server.url, api_key = "sk-first" }
    local first = environments.default_client()
    assert(environments.retrieve(ID))
    environments.configure { base_url = server.url, api_key = "sk-second" }
    assert.are_not.equal(first, environments.default_client())
    raises("retrieve: client is closed", function() first:retrieve(ID) end)
    assert(environments.retrieve(ID))
    local reqs = server:requests()
    assert.are.equal(2, #reqs)
    assert.are.equal("sk-first", reqs[1].header_map["x-api-key"])
    assert.are.equal("sk-second", reqs[2].header_map["x-api-key"])
  end)

  it("raises for bad options at the caller's line, and keeps the client it had", function()
    environments.configure { base_url = server.url, api_key = "sk-kept" }
    local kept = environments.default_client()
    raises("configure: unknown option 'time_out'", function() environments.configure { time_out = 5 } end)
    raises("configure: option 'timeout' must be a positive number of seconds",
      function() environments.configure { timeout = -1 } end)
    raises("configure: option 'max_body' must be a whole number", function() environments.configure { max_body = 1e16 } end)
    raises("new: base_url must be an http:// or https:// URL", function() environments.configure { base_url = "ftp://x" } end)
    raises("configure: options must be a table (got string)", function() environments.configure "sk-key" end)
    assert.are.equal(kept, environments.default_client())
    assert(environments.retrieve(ID))
    assert.are.equal("sk-kept", server:only_request().header_map["x-api-key"])
  end)

  it("without options, goes back to the environment variables", function()
    local lua = fake.interpreter()
    local code = [[
      local e = require "anthropic.environments"
      e.configure { base_url = os.getenv("FAKE_URL"), api_key = "sk-configured" }
      local configured = e.default_client()
      assert(e.archive("env_011CZkZ9X2dpNyB7HsEFoRfW"))
      e.configure()
      assert(e.archive("env_011CZkZ9X2dpNyB7HsEFoRfW"))
      print(e.default_client() ~= configured, pcall(configured.archive, configured, "env_1"))]]
    local cmd = string.format("env -u ANTHROPIC_AUTH_TOKEN ANTHROPIC_API_KEY=sk-env ANTHROPIC_BASE_URL=%s FAKE_URL=%s "
      .. "%s -e %s 2>&1", fake.shell_quote(server.url), fake.shell_quote(server.url), lua,
      fake.shell_quote("package.path = " .. string.format("%q", package.path)
        .. "; package.cpath = " .. string.format("%q", package.cpath) .. "; " .. code))
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    assert.matches("^true\tfalse\t[^\n]*anthropic.environments.archive: client is closed", out)
    local reqs = server:requests()
    assert.are.equal(2, #reqs)
    assert.are.equal("sk-configured", reqs[1].header_map["x-api-key"])
    assert.are.equal("sk-env", reqs[2].header_map["x-api-key"])
  end)
end)
