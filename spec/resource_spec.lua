-- The environments resource against the fake API on loopback: create,
-- retrieve, update and delete, the exact requests they send and what they
-- give back. (list and each: resource_list_spec; parameter checks and the
-- one-liners: resource_params_spec.)
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"
local wire = require "spec.support.wire"

local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-ant-test-SECRET-0123456789"
local null = environments.null

-- The seeds' configs exactly as the encoder writes them.
local EXAMPLE_CONFIG_JSON = '{"networking":{"allow_mcp_servers":false,"allow_package_managers":true,'
  .. '"allowed_hosts":["api.example.com"],"type":"limited"},"packages":{"apt":["string"],'
  .. '"cargo":["string"],"gem":["string"],"go":["string"],"npm":["string"],'
  .. '"pip":["pandas","numpy"],"type":"packages"},"type":"cloud"}'
local UNRESTRICTED_CONFIG_JSON = '{"networking":{"type":"unrestricted"},"packages":{"apt":[],'
  .. '"cargo":[],"gem":[],"go":[],"npm":[],"pip":[],"type":"packages"},"type":"cloud"}'
local SELF_HOSTED_CONFIG_JSON = '{"type":"self_hosted"}'


describe("the environments resource", function()
  local server, sleeps, new_client = fake.suite(KEY)

  local function only_request() return server:only_request() end
  local function assert_request(req, ...) return wire.assert_request(req, KEY, ...) end

  describe("create", function()
    it("sends POST /v1/environments with exactly the given fields, keys sorted", function()
      local env = assert(new_client():create {
        name = "data-analysis",
        description = "Python with pandas",
        scope = "account",
        metadata = { team = "ml", cost_center = "42" },
        config = {
          type = "cloud",
          networking = { type = "limited", allowed_hosts = { "pypi.org", "api.example.com" },
                         allow_mcp_servers = true, allow_package_managers = false },
          packages = { pip = { "pandas", "numpy" }, apt = { "git" }, type = "packages" },
        },
      })
      assert_request(only_request(), "POST", "/v1/environments", "",
        '{"config":{"networking":{"allow_mcp_servers":true,"allow_package_managers":false,'
        .. '"allowed_hosts":["pypi.org","api.example.com"],"type":"limited"},'
        .. '"packages":{"apt":["git"],"pip":["pandas","numpy"],"type":"packages"},"type":"cloud"},'
        .. '"description":"Python with pandas","metadata":{"cost_center":"42","team":"ml"},'
        .. '"name":"data-analysis","scope":"account"}')
      assert.matches("^env_fake_%d+$", env.id)
      assert.are.equal("environment", env.type)
      assert.are.equal("data-analysis", env.name)
      assert.are.equal("Python with pandas", env.description)
      assert.are.equal("account", env.scope)
      assert.are.same({ team = "ml", cost_center = "42" }, env.metadata)
      assert.are.same({ "pypi.org", "api.example.com" }, env.config.networking.allowed_hosts)
      assert.are.same({ "pandas", "numpy" }, env.config.packages.pip)
      assert.are.same({}, env.config.packages.npm)   -- not given: empty
      assert.are.equal(null, env.archived_at)
      assert.are.equal(env.created_at, env.updated_at)
      assert.is_truthy(environments.parse_time(env.created_at))
      assert.are.same(env, server:get_environment(env.id))
    end)

    it("sends only the name when only the name is given; the API fills in the rest", function()
      local env = assert(new_client():create { name = "minimal" })
      assert_request(only_request(), "POST", "/v1/environments", "", '{"name":"minimal"}')
      assert.are.equal(null, env.description)
      assert.are.equal("organization", env.scope)
      assert.are.same({ type = "unrestricted" }, env.config.networking)
      assert.are.same({}, env.metadata)
    end)

    it("sends empty package lists and allowed_hosts as [], which the API requires", function()
      local env = assert(new_client():create { name = "empty-lists", config = {
        type = "cloud",
        networking = { type = "limited", allowed_hosts = {} },
        packages = { apt = {}, cargo = {}, gem = {}, go = {}, npm = {}, pip = {} },
      } })
      assert.are.equal('{"config":{"networking":{"allowed_hosts":[],"type":"limited"},'
        .. '"packages":{"apt":[],"cargo":[],"gem":[],"go":[],"npm":[],"pip":[]},"type":"cloud"},'
        .. '"name":"empty-lists"}', only_request().body)
      assert.are.same({}, env.config.networking.allowed_hosts)
    end)

    it("sends environments.null as JSON null, and an empty metadata table as {}", function()
      assert(new_client():create { name = "n", description = null, metadata = {} })
      assert.are.equal('{"description":null,"metadata":{},"name":"n"}', only_request().body)
    end)

    it("creates a self-hosted environment", function()
      local env = assert(new_client():create { name = "runner", config = { type = "self_hosted" } })
      assert.are.equal('{"config":{"type":"self_hosted"},"name":"runner"}', only_request().body)
      assert.are.same({ type = "self_hosted" }, env.config)
    end)

    it("escapes strings so that the API stores exactly what was given", function()
      local name = 'quote " backslash \\ slash / tab \t nl \n nul \0 \1 del \127 caf\195\169 \240\159\154\128'
      local env = assert(new_client():create { name = name, metadata = { ["k\"ey"] = "v\nal" } })
      assert.are.equal('{"metadata":{"k\\"ey":"v\\u000aal"},"name":"quote \\" backslash \\\\ slash / '
        .. 'tab \\u0009 nl \\u000a nul \\u0000 \\u0001 del \\u007f caf\195\169 \240\159\154\128"}',
        only_request().body)
      assert.are.equal(name, env.name)
      assert.are.equal("v\nal", env.metadata["k\"ey"])
    end)

    it("counts name and description lengths in characters, not bytes", function()
      local name = ("\195\169"):rep(256)          -- 256 characters, 512 bytes
      local description = ("\226\130\172"):rep(1024)
      local env = assert(new_client():create { name = name, description = description })
      assert.are.equal(name, env.name)
      assert.are.equal(description, env.description)
    end)

    it("never changes the caller's tables", function()
      local pip = {}
      local params = { name = "x", metadata = { a = "1" },
                       config = { type = "cloud", packages = { pip = pip, npm = { "a" } } } }
      assert(new_client():create(params))
      assert.is_nil(getmetatable(pip))
      assert.is_nil(getmetatable(params.config.packages.npm))
      assert.are.same({ name = "x", metadata = { a = "1" },
        config = { type = "cloud", packages = { pip = {}, npm = { "a" } } } }, params)
    end)

    it("retries a 5xx with the same body", function()
      server:script { { status = 500, path = "/v1/environments" } }
      local env = assert(new_client():create { name = "retried" })
      local reqs = server:requests()
      assert.are.equal(2, #reqs)
      assert.are.equal(reqs[1].body, reqs[2].body)
      assert.are.equal('{"name":"retried"}', reqs[2].body)
      assert.are.equal("retried", env.name)
      assert.are.equal(1, #sleeps)
    end)
  end)

  describe("retrieve", function()
    it("sends GET /v1/environments/{id} with no body and gives the environment", function()
      local env = assert(new_client():retrieve(EXAMPLE_ID))
      assert_request(only_request(), "GET", "/v1/environments/" .. EXAMPLE_ID)
      assert.are.equal("python-data-analysis", env.name)
      assert.are.same({ "pandas", "numpy" }, env.config.packages.pip)
      assert.are.equal(null, env.archived_at)
    end)

    it("percent-encodes the id into one path segment", function()
      new_client():retrieve("a/b?c d")
      assert.are.equal("/v1/environments/a%2Fb%3Fc%20d", only_request().path)
      assert.are.equal("", only_request().query)
    end)

    it("gives a 404 with the error code environment_not_found", function()
      local env, err = new_client():retrieve("env_missing")
      assert.is_nil(env)
      assert.are.equal("api", err.kind)
      assert.are.equal(404, err.status)
      assert.are.equal("not_found_error", err.type)
      assert.are.equal("environment_not_found", err.error_code)
      assert.matches("^req_fake_%d+$", err.request_id)
    end)
  end)

  describe("update", function()
    it("sends POST /v1/environments/{id} with only the given fields; the rest stay", function()
      local env = assert(new_client():update(EXAMPLE_ID, { name = "renamed", metadata = { owner = "me" } }))
      assert_request(only_request(), "POST", "/v1/environments/" .. EXAMPLE_ID, "",
        '{"metadata":{"owner":"me"},"name":"renamed"}')
      assert.are.equal("renamed", env.name)
      assert.are.same({ owner = "me" }, env.metadata)
      assert.are.equal("Python environment with data-analysis packages.", env.description)
      assert.are.equal("organization", env.scope)
      assert.are.same({ "pandas", "numpy" }, env.config.packages.pip)
    end)

    it("clears the description with environments.null", function()
      local env = assert(new_client():update(EXAMPLE_ID, { description = null }))
      assert.are.equal('{"description":null}', only_request().body)
      assert.are.equal(null, env.description)
      assert.are.equal(null, server:get_environment(EXAMPLE_ID).description)
    end)

    it("deletes metadata keys given as environments.null or \"\", and keeps the others", function()
      server:put_environment { id = "env_meta", name = "m", type = "environment", archived_at = null,
        description = null, created_at = "2026-01-01T00:00:00Z", updated_at = "2026-01-01T00:00:00Z",
        config = { type = "self_hosted" }, metadata = { a = "1", b = "2", c = "3" } }
      local env = assert(new_client():update("env_meta", { metadata = { a = null, b = "", d = "4" } }))
      assert.are.equal('{"metadata":{"a":null,"b":"","d":"4"}}', only_request().body)
      assert.are.same({ c = "3", d = "4" }, env.metadata)
    end)

    it("sends an empty object when given no parameters", function()
      assert(new_client():update(EXAMPLE_ID))
      assert(new_client():update(EXAMPLE_ID, {}))
      local reqs = server:requests()
      assert.are.equal("{}", reqs[1].body)
      assert.are.equal("{}", reqs[2].body)
      assert.are.equal("application/json", reqs[2].header_map["content-type"])
    end)

    it("replaces networking and packages when given", function()
      local env = assert(new_client():update(EXAMPLE_ID, { config = {
        type = "cloud", networking = { type = "unrestricted" }, packages = { npm = { "typescript" } } } }))
      assert.are.equal('{"config":{"networking":{"type":"unrestricted"},"packages":{"npm":["typescript"]},'
        .. '"type":"cloud"}}', only_request().body)
      assert.are.same({ type = "unrestricted" }, env.config.networking)
      assert.are.same({ "typescript" }, env.config.packages.npm)
      assert.are.same({}, env.config.packages.pip)
    end)

    it("keeps the error code environment_archived", function()
      local client = new_client()
      assert(client:archive(EXAMPLE_ID))
      local env, err = client:update(EXAMPLE_ID, { name = "late" })
      assert.is_nil(env)
      assert.are.equal(400, err.status)
      assert.are.equal("invalid_request_error", err.type)
      assert.are.equal("environment_archived", err.error_code)
      assert.matches("environment_archived", tostring(err), 1, true)
      assert.are.equal(1, err.attempts)   -- a 400 is not retried
    end)

    it("keeps the error code invalid_config_type_change", function()
      local _, err = new_client():update("env_selfhosted01", { config = { type = "cloud" } })
      assert.are.equal(400, err.status)
      assert.are.equal("invalid_config_type_change", err.error_code)
      assert.are.equal('{"config":{"type":"cloud"}}', only_request().body)
      assert.are.same({ type = "self_hosted" }, server:get_environment("env_selfhosted01").config)
    end)

    it("keeps the error code invalid_metadata", function()
      server:script { { status = 400, json = { type = "error", request_id = "req_meta",
        error = { type = "invalid_request_error", message = "metadata: too many keys",
                  details = { error_code = "invalid_metadata" } } } } }
      local _, err = new_client():update(EXAMPLE_ID, { metadata = { k = "v" } })
      assert.are.equal("invalid_metadata", err.error_code)
      assert.are.equal("metadata: too many keys", err.message)
    end)

    it("gives a 404 for an unknown id", function()
      local _, err = new_client():update("env_missing", { name = "x" })
      assert.are.equal(404, err.status)
      assert.are.equal("environment_not_found", err.error_code)
    end)
  end)

  describe("round trips: an environment read from the API goes back unchanged", function()
    local function round_trip(id, expected_config_json)
      local client = new_client()
      local env = assert(client:retrieve(id))
      local before = server:get_environment(id).config
      local updated = assert(client:update(id, { config = env.config }))
      local req = server:requests()[2]
      assert.are.equal('{"config":' .. expected_config_json .. "}", req.body)
      assert.are.same(env.config, updated.config)
      assert.are.same(before, server:get_environment(id).config)
    end

    it("cloud, limited networking, non-empty package lists", function()
      round_trip(EXAMPLE_ID, EXAMPLE_CONFIG_JSON)
    end)

    it("cloud, unrestricted networking, every package list empty", function()
      round_trip("env_unrestricted01", UNRESTRICTED_CONFIG_JSON)
    end)

    it("self_hosted", function()
      round_trip("env_selfhosted01", SELF_HOSTED_CONFIG_JSON)
    end)

    it("cloud, limited networking with no allowed hosts, empty and non-empty lists mixed", function()
      server:put_environment { id = "env_mixed", name = "mixed", type = "environment",
        archived_at = null, description = "d", scope = "account", metadata = {},
        created_at = "2026-02-01T00:00:00Z", updated_at = "2026-02-01T00:00:00Z",
        config = { type = "cloud",
          networking = { type = "limited", allow_mcp_servers = true, allow_package_managers = false,
                         allowed_hosts = {} },
          packages = { type = "packages", apt = {}, cargo = { "ripgrep" }, gem = {}, go = {},
                       npm = { "left-pad", "@scope/pkg" }, pip = {} } } }
      round_trip("env_mixed", '{"networking":{"allow_mcp_servers":true,"allow_package_managers":false,'
        .. '"allowed_hosts":[],"type":"limited"},"packages":{"apt":[],"cargo":["ripgrep"],"gem":[],'
        .. '"go":[],"npm":["left-pad","@scope/pkg"],"pip":[],"type":"packages"},"type":"cloud"}')
    end)

    it("every writable field at once, null description and absent scope included", function()
      local client = new_client()
      local env = assert(client:retrieve("env_selfhosted01"))
      local updated = assert(client:update(env.id, { name = env.name, description = env.description,
        metadata = env.metadata, scope = env.scope, config = env.config }))
      assert.are.equal('{"config":{"type":"self_hosted"},"description":null,'
        .. '"metadata":{"owner":"platform-team"},"name":"self-hosted-runner"}', server:requests()[2].body)
      for _, field in ipairs { "name", "description", "metadata", "config", "created_at", "id" } do
        assert.are.same(env[field], updated[field])
      end
    end)

    it("and a list page's environments too", function()
      local client = new_client()
      local page = assert(client:list())
      for _, env in ipairs(page.data) do
        assert(client:update(env.id, { config = env.config }))
      end
      local reqs = server:requests()
      assert.are.equal(4, #reqs)
      assert.are.equal('{"config":' .. UNRESTRICTED_CONFIG_JSON .. "}", reqs[2].body)
      assert.are.equal('{"config":' .. SELF_HOSTED_CONFIG_JSON .. "}", reqs[3].body)
      assert.are.equal('{"config":' .. EXAMPLE_CONFIG_JSON .. "}", reqs[4].body)
    end)
  end)

  describe("delete", function()
    it("sends DELETE /v1/environments/{id} with no body and gives the deletion", function()
      local client = new_client()
      local deleted = assert(client:delete("env_unrestricted01"))
      assert_request(only_request(), "DELETE", "/v1/environments/env_unrestricted01")
      assert.are.same({ id = "env_unrestricted01", type = "environment_deleted" }, deleted)
      assert.is_nil(server:get_environment("env_unrestricted01"))
      local _, err = client:retrieve("env_unrestricted01")
      assert.are.equal(404, err.status)
      _, err = client:delete("env_unrestricted01")
      assert.are.equal("environment_not_found", err.error_code)
    end)
  end)

end)
