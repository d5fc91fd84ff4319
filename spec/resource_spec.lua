-- The whole Environments resource against the fake API on loopback: create,
-- retrieve, update, delete, list and each, their module-level one-liners,
-- the exact requests they send and what they give back.
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"

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

  -- The request line, query and body, and the headers every call sends.
  local function assert_request(req, method, path, query, body)
    assert.are.equal(method, req.method)
    assert.are.equal(path, req.path)
    assert.are.equal(query or "", req.query)
    assert.are.equal(body or "", req.body)
    local h = req.header_map
    assert.are.equal(KEY, h["x-api-key"])
    assert.are.equal("2023-06-01", h["anthropic-version"])
    assert.are.equal("managed-agents-2026-04-01", h["anthropic-beta"])
    assert.are.equal("application/json", h["accept"])
    assert.is_nil(h["expect"])
    if body then
      assert.are.equal("application/json", h["content-type"])
      assert.are.equal(tostring(#body), h["content-length"])
    else
      assert.is_nil(h["content-type"])
    end
    local seen = {}
    for _, pair in ipairs(req.headers) do
      assert.is_nil(seen[pair[1]], "duplicate header " .. pair[1])
      seen[pair[1]] = true
    end
  end

  local function raises(pattern, f, ...)
    local ok, msg = pcall(f, ...)
    assert.is_false(ok, "expected an error matching " .. pattern)
    assert.matches(pattern, msg, 1, true)
  end

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

  describe("list", function()
    it("sends GET /v1/environments with no query when given no parameters", function()
      local page = assert(new_client():list())
      assert_request(only_request(), "GET", "/v1/environments", "")
      local ids = {}
      for i, env in ipairs(page.data) do ids[i] = env.id end
      assert.are.same({ "env_unrestricted01", "env_selfhosted01", EXAMPLE_ID }, ids)
      assert.is_nil(page.next_page)   -- JSON null becomes nil
      assert.are.equal("python-data-analysis", page.data[3].name)
    end)

    it("sends limit, include_archived and page in the query, in that (alphabetical) order", function()
      local client = new_client()
      assert(client:archive(EXAMPLE_ID))
      local first = assert(client:list { limit = 2, include_archived = true })
      assert.are.equal(2, #first.data)
      assert.is_string(first.next_page)
      local second = assert(client:list { page = first.next_page, include_archived = true, limit = 2 })
      local reqs = server:requests()
      assert_request(reqs[2], "GET", "/v1/environments", "include_archived=true&limit=2")
      assert_request(reqs[3], "GET", "/v1/environments",
        "include_archived=true&limit=2&page=" .. first.next_page)
      assert.are.same({ EXAMPLE_ID }, { second.data[1].id })
      assert.is_nil(second.next_page)
    end)

    it("leaves archived environments out unless include_archived is true", function()
      local client = new_client()
      assert(client:archive(EXAMPLE_ID))
      assert.are.equal(2, #assert(client:list()).data)
      assert.are.equal(2, #assert(client:list { include_archived = false }).data)
      assert.are.equal(3, #assert(client:list { include_archived = true }).data)
      assert.are.equal("include_archived=false", server:requests()[3].query)
    end)

    it("percent-encodes the page cursor", function()
      local _, err = new_client():list { page = "a b/c+d&e=f%" }
      assert.are.equal("page=a%20b%2Fc%2Bd%26e%3Df%25", only_request().query)
      assert.are.equal(400, err.status)   -- not a cursor the fake made
    end)

    it("gives an empty data table for an empty page", function()
      server:script { { status = 200, body = '{"data":[],"next_page":null}' } }
      local page = assert(new_client():list())
      assert.are.same({}, page.data)
      assert.is_nil(page.next_page)
    end)

    it("gives a decode error for an answer without a data array", function()
      server:script { { status = 200, body = '{"items":[]}' } }
      local page, err = new_client():list()
      assert.is_nil(page)
      assert.are.equal("decode", err.kind)
      assert.matches("data", err.message, 1, true)
    end)

    it("retries like every call", function()
      server:script { { status = 529 }, { status = 429, headers = { ["retry-after"] = "2" } } }
      local page = assert(new_client():list { limit = 1 })
      assert.are.equal(1, #page.data)
      assert.are.equal(3, #server:requests())
      assert.are.equal(2, sleeps[2])
    end)
  end)

  describe("each", function()
    -- Stored straight into the fake (not recorded as API requests), newer
    -- than the seeds: extra-n is the newest.
    local function add_environments(n)
      for i = 1, n do
        local at = string.format("2026-04-%02dT00:00:00Z", i)
        server:put_environment { id = "env_extra_" .. i, name = "extra-" .. i, type = "environment",
          archived_at = null, description = null, metadata = {}, created_at = at, updated_at = at,
          config = { type = "self_hosted" } }
      end
    end

    it("goes through every environment across pages, newest first", function()
      add_environments(5)
      local names = {}
      for env, err in new_client():each { limit = 2 } do
        assert.is_nil(err)
        names[#names + 1] = env.name
      end
      assert.are.same({ "extra-5", "extra-4", "extra-3", "extra-2", "extra-1",
        "unrestricted-empty", "self-hosted-runner", "python-data-analysis" }, names)
      local reqs = server:requests()
      assert.are.equal(4, #reqs)
      assert.are.equal("limit=2", reqs[1].query)
      for i = 2, 4 do assert.matches("^limit=2&page=page_%x+$", reqs[i].query) end
    end)

    it("fetches pages only when it needs them", function()
      add_environments(3)
      local next_env = new_client():each { limit = 2 }
      assert.are.equal(0, #server:requests())
      assert.are.equal("extra-3", next_env().name)
      assert.are.equal(1, #server:requests())
      assert.are.equal("extra-2", next_env().name)
      assert.are.equal(1, #server:requests())
      assert.are.equal("extra-1", next_env().name)
      assert.are.equal(2, #server:requests())
    end)

    it("passes include_archived and a starting page on", function()
      local client = new_client()
      assert(client:archive(EXAMPLE_ID))
      local first = assert(client:list { limit = 1, include_archived = true })
      local ids = {}
      for env in client:each { include_archived = true, page = first.next_page } do ids[#ids + 1] = env.id end
      assert.are.same({ "env_selfhosted01", EXAMPLE_ID }, ids)
      assert.are.equal("include_archived=true&page=" .. first.next_page, server:requests()[3].query)
    end)

    it("gives false, err once on a failure, then stops", function()
      add_environments(3)
      local next_env = new_client { max_retries = 0 }:each { limit = 2 }
      local seen, errors = { next_env().name, next_env().name }, {}
      server:script { { status = 503, body = "<html>down</html>" } }
      for env, err in next_env do
        if env then seen[#seen + 1] = env.name else errors[#errors + 1] = err end
      end
      assert.is_nil(next_env())
      assert.are.same({ "extra-3", "extra-2" }, seen)
      assert.are.equal(1, #errors)
      assert.is_true(environments.is_error(errors[1]))
      assert.are.equal(503, errors[1].status)
      assert.are.equal("<html>down</html>", errors[1].body)
      assert.are.equal(2, #server:requests())   -- nothing more after the failure
    end)

    it("does not run the loop body when there is nothing to list", function()
      server:script { { status = 200, body = '{"data":[],"next_page":null}' } }
      local n = 0
      for _ in new_client():each() do n = n + 1 end
      assert.are.equal(0, n)
      assert.are.equal(1, #server:requests())
    end)

    it("stops with an error rather than loop when the API repeats a cursor", function()
      server:script {
        { status = 200, body = '{"data":[{"id":"env_a"}],"next_page":"page_same"}' },
        { status = 200, body = '{"data":[{"id":"env_b"}],"next_page":"page_same"}' },
      }
      local got, last_err = {}, nil
      for env, err in new_client():each() do
        if env then got[#got + 1] = env.id else last_err = err end
      end
      assert.are.same({ "env_a", "env_b" }, got)
      assert.are.equal("pagination", last_err.kind)
      assert.matches("cursor", last_err.message, 1, true)
    end)
  end)

  describe("per-call options", function()
    local CALLS = {
      { "create", function(c, o) return c:create({ name = "opts" }, o) end },
      { "retrieve", function(c, o) return c:retrieve(EXAMPLE_ID, o) end },
      { "update", function(c, o) return c:update(EXAMPLE_ID, { name = "opts" }, o) end },
      { "list", function(c, o) return c:list(nil, o) end },
      { "each", function(c, o) return c:each(nil, o)() end },
      { "archive", function(c, o) return c:archive(EXAMPLE_ID, o) end },
      { "delete", function(c, o) return c:delete("env_selfhosted01", o) end },
    }

    it("betas, workspace_id, headers and timeout go on every call", function()
      local client = new_client { workspace_id = "wrkspc_client", headers = { ["x-client"] = "c" } }
      for _, call in ipairs(CALLS) do
        server:reset()
        assert(call[2](client, { betas = { "files-api-2025-04-14" }, workspace_id = "wrkspc_call",
          headers = { ["x-call"] = call[1] }, timeout = 30, max_retries = 1 }), call[1])
        local h = only_request().header_map
        assert.are.equal("files-api-2025-04-14,managed-agents-2026-04-01", h["anthropic-beta"], call[1])
        assert.are.equal("wrkspc_call", h["anthropic-workspace-id"], call[1])
        assert.are.equal(call[1], h["x-call"])
        assert.are.equal("c", h["x-client"])
      end
    end)

    it("max_retries applies per call", function()
      local client = new_client()
      for _, call in ipairs(CALLS) do
        server:reset()
        server:script { { status = 503 }, { status = 503 } }
        local value, err = call[2](client, { max_retries = 1 })
        assert.is_falsy(value, call[1])
        assert.are.equal(503, err.status, call[1])
        assert.are.equal(2, err.attempts, call[1])
        assert.are.equal(2, #server:requests(), call[1])
      end
    end)

    it("timeout applies per call", function()
      server:script { { delay = 2, pass = true } }
      local _, err = new_client():retrieve(EXAMPLE_ID, { timeout = 0.2, max_retries = 0 })
      assert.are.equal("timeout", err.kind)
    end)

    it("unknown options raise on every call", function()
      local client = new_client()
      for _, call in ipairs(CALLS) do
        raises("anthropic.environments." .. call[1] .. ": unknown option 'tiemout'", call[2], client, { tiemout = 1 })
      end
      assert.are.equal(0, #server:requests())
    end)

    it("a method called with a dot raises", function()
      for _, name in ipairs { "create", "retrieve", "update", "delete", "list", "each" } do
        raises("call it as client:" .. name, environments.Client[name], { name = "x" })
      end
    end)
  end)

  describe("parameters are checked before any traffic", function()
    local client
    before_each(function() client = new_client() end)
    after_each(function() assert.are.equal(0, #server:requests()) end)

    local function create_raises(pattern, params)
      raises("anthropic.environments.create: " .. pattern, client.create, client, params)
    end
    local function update_raises(pattern, params)
      raises("anthropic.environments.update: " .. pattern, client.update, client, EXAMPLE_ID, params)
    end
    local function list_raises(pattern, params)
      raises("anthropic.environments.list: " .. pattern, client.list, client, params)
      raises("anthropic.environments.each: " .. pattern, client.each, client, params)
    end

    it("params must be a table", function()
      create_raises("params must be a table (got nil)", nil)
      create_raises("params must be a table (got string)", "name")
      update_raises("params must be a table (got string)", "name")
      list_raises("params must be a table (got number)", 5)
    end)

    it("name: required on create, a string of 1 to 256 characters", function()
      create_raises("parameter 'name' is required", {})
      create_raises("parameter 'name' is required", { description = "no name" })
      create_raises("parameter 'name' must be a string (got number)", { name = 5 })
      create_raises("parameter 'name' must be 1 to 256 characters long (got 0)", { name = "" })
      create_raises("parameter 'name' must be 1 to 256 characters long (got 257)", { name = ("x"):rep(257) })
      create_raises("parameter 'name' must be 1 to 256 characters long (got 257)",
        { name = ("\195\169"):rep(257) })
      update_raises("parameter 'name' must be 1 to 256 characters long (got 0)", { name = "" })
      update_raises("parameter 'name' must be a string (got null)", { name = null })
    end)

    it("description: at most 1024 characters, or environments.null", function()
      create_raises("parameter 'description' must be at most 1024 characters long (got 1025)",
        { name = "x", description = ("d"):rep(1025) })
      update_raises("parameter 'description' must be a string or environments.null (got boolean)",
        { description = false })
    end)

    it("scope: organization or account", function()
      create_raises("parameter 'scope' must be 'organization' or 'account' (got 'global')",
        { name = "x", scope = "global" })
      update_raises("parameter 'scope' must be 'organization' or 'account' (got null)", { scope = null })
    end)

    it("config: a table whose type is cloud or self_hosted", function()
      create_raises("parameter 'config' must be a table (got string)", { name = "x", config = "cloud" })
      create_raises("parameter 'config.type' must be 'cloud' or 'self_hosted' (got nil)",
        { name = "x", config = {} })
      update_raises("parameter 'config.type' must be 'cloud' or 'self_hosted' (got 'docker')",
        { config = { type = "docker" } })
    end)

    it("config.networking: a table whose type is unrestricted or limited, with the right fields", function()
      update_raises("parameter 'config.networking' must be a table (got string)",
        { config = { type = "cloud", networking = "open" } })
      update_raises("parameter 'config.networking.type' must be 'unrestricted' or 'limited' (got 'open')",
        { config = { type = "cloud", networking = { type = "open" } } })
      update_raises("parameter 'config.networking.allow_mcp_servers' must be a boolean (got string)",
        { config = { type = "cloud", networking = { type = "limited", allow_mcp_servers = "yes" } } })
      update_raises("parameter 'config.networking.allow_package_managers' must be a boolean (got number)",
        { config = { type = "cloud", networking = { type = "limited", allow_package_managers = 1 } } })
      update_raises("unknown parameter 'config.networking.allowed_hosts' (unrestricted networking has only 'type')",
        { config = { type = "cloud", networking = { type = "unrestricted", allowed_hosts = {} } } })
    end)

    it("package lists and allowed_hosts: arrays of strings", function()
      local function packages(p) return { config = { type = "cloud", packages = p } } end
      update_raises("parameter 'config.packages.pip' must be an array of strings (got string)",
        packages { pip = "pandas" })
      update_raises("parameter 'config.packages.pip[2]' must be a string (got number)",
        packages { pip = { "pandas", 2 } })
      update_raises("parameter 'config.packages.npm' must be an array of strings (it has a key 'x')",
        packages { npm = { x = "y" } })
      update_raises("parameter 'config.packages.apt' must be an array of strings (it has holes)",
        packages { apt = { [1] = "a", [3] = "c" } })
      update_raises("parameter 'config.packages.type' must be 'packages' (got 'pkgs')",
        packages { type = "pkgs" })
      update_raises("parameter 'config.packages' must be a table (got boolean)", packages(true))
      update_raises("parameter 'config.networking.allowed_hosts[1]' must be a string (got boolean)",
        { config = { type = "cloud", networking = { type = "limited", allowed_hosts = { true } } } })
    end)

    it("metadata: a table of strings; null deletes a key, on update only", function()
      create_raises("parameter 'metadata' must be a table of strings (got string)", { name = "x", metadata = "a=b" })
      create_raises("parameter 'metadata.a' must be a string (got number)", { name = "x", metadata = { a = 1 } })
      create_raises("parameter 'metadata.a' must be a string (null deletes a key, which only update can do)",
        { name = "x", metadata = { a = null } })
      create_raises("parameter 'metadata' must have string keys (got a number key)",
        { name = "x", metadata = { "a" } })
      update_raises("parameter 'metadata.a' must be a string or environments.null (got table)",
        { metadata = { a = {} } })
    end)

    it("unknown keys raise, naming the key, at every level", function()
      create_raises("unknown parameter 'nmae'", { name = "x", nmae = "y" })
      update_raises("unknown parameter 'archived_at'", { archived_at = null })
      update_raises("unknown parameter 'config.networking.alowed_hosts'",
        { config = { type = "cloud", networking = { type = "limited", alowed_hosts = {} } } })
      update_raises("unknown parameter 'config.packages.pipp'",
        { config = { type = "cloud", packages = { pipp = {} } } })
      update_raises("unknown parameter 'config.networking' (a self_hosted config has only 'type')",
        { config = { type = "self_hosted", networking = { type = "unrestricted" } } })
      update_raises("unknown parameter 'config.size'", { config = { type = "cloud", size = "xl" } })
      update_raises("unknown parameter '1'", { "positional" })
      list_raises("unknown parameter 'limt'", { limt = 5 })
    end)

    it("list: limit a whole number from 1 to 1000, include_archived a boolean, page a string", function()
      list_raises("parameter 'limit' must be a whole number from 1 to 1000 (got 0)", { limit = 0 })
      list_raises("parameter 'limit' must be a whole number from 1 to 1000 (got 1001)", { limit = 1001 })
      list_raises("parameter 'limit' must be a whole number from 1 to 1000 (got 1.5)", { limit = 1.5 })
      list_raises("parameter 'limit' must be a whole number from 1 to 1000 (got string)", { limit = "10" })
      list_raises("parameter 'include_archived' must be a boolean (got string)", { include_archived = "true" })
      list_raises("parameter 'page' must be a string (got number)", { page = 2 })
      list_raises("parameter 'page' must not be empty", { page = "" })
    end)

    it("ids, as for archive", function()
      for _, call in ipairs {
        { "retrieve", client.retrieve }, { "update", client.update }, { "delete", client.delete } } do
        raises("anthropic.environments." .. call[1] .. ": id must not be empty", call[2], client, "")
        raises("anthropic.environments." .. call[1] .. ": id must be a string (got nil)", call[2], client)
        raises("anthropic.environments." .. call[1] .. ": id must not be '..'", call[2], client, "..")
      end
    end)

    it("the accepted limits are accepted", function()
      server:reset()
      assert(client:list { limit = 1 })
      assert(client:list { limit = 1000, page = null })
      assert(client:create { name = ("n"):rep(256), description = ("d"):rep(1024) })
      local reqs = server:requests()
      assert.are.equal("limit=1", reqs[1].query)
      assert.are.equal("limit=1000", reqs[2].query)
      server:reset()   -- for the after_each check
    end)
  end)

  describe("module-level one-liners", function()
    -- They read ANTHROPIC_* at their first call: run them in a child process.
    local function run(env_vars, code)
      local cmd = "env -u ANTHROPIC_API_KEY -u ANTHROPIC_AUTH_TOKEN -u ANTHROPIC_BASE_URL " .. env_vars .. " "
        .. fake.interpreter() .. " -e " .. fake.shell_quote("package.path = " .. string.format("%q", package.path)
        .. "; package.cpath = " .. string.format("%q", package.cpath) .. "; " .. code) .. " 2>&1"
      local p = io.popen(cmd)
      local out = p:read("*a")
      p:close()
      return out
    end

    it("exist for every call and use the environment variables", function()
      local out = run("ANTHROPIC_API_KEY=sk-env ANTHROPIC_BASE_URL=" .. server.url, [[
        local e = require "anthropic.environments"
        local env = assert(e.create({ name = "one-liner", config = { type = "self_hosted" } },
          { headers = { ["x-one"] = "1" } }))
        assert(e.retrieve(env.id))
        assert(e.update(env.id, { description = "d" }))
        local page = assert(e.list({ limit = 1 }))
        local n = 0
        for x in e.each({ limit = 2 }) do n = n + 1 end
        assert(e.archive(env.id))
        local gone = assert(e.delete(env.id))
        print(env.name, #page.data, n, gone.type)
      ]])
      assert.are.equal("one-liner\t1\t4\tenvironment_deleted\n", out)
      local reqs = server:requests()
      local lines = {}
      for i, r in ipairs(reqs) do
        lines[i] = r.method .. " " .. r.path .. (r.query ~= "" and "?" .. r.query or "")
        assert.are.equal("sk-env", r.header_map["x-api-key"])
      end
      assert.are.equal("POST /v1/environments", lines[1])
      assert.are.equal("1", reqs[1].header_map["x-one"])
      assert.are.same({ "GET /v1/environments/env_fake_", "POST /v1/environments/env_fake_",
        "GET /v1/environments?limit=1" }, { lines[2]:match("^(.-)%d+$"), lines[3]:match("^(.-)%d+$"), lines[4] })
      assert.are.equal("GET /v1/environments?limit=2", lines[5])
      assert.matches("^GET /v1/environments%?limit=2&page=page_%x+$", lines[6])
      assert.matches("^POST /v1/environments/env_fake_%d+/archive$", lines[7])
      assert.matches("^DELETE /v1/environments/env_fake_%d+$", lines[8])
      assert.are.equal(8, #lines)
    end)

    it("check their arguments before looking for credentials", function()
      local out = run("ANTHROPIC_BASE_URL=" .. server.url, [[
        local e = require "anthropic.environments"
        print(select(2, pcall(e.create, { name = "" })))
        print(select(2, pcall(e.update, "env_1", { nmae = "x" })))
        print(select(2, pcall(e.list, { limit = 0 })))
        print(select(2, pcall(e.each, { page = 1 })))
        print(select(2, pcall(e.retrieve, "")))
        print(select(2, pcall(e.delete, ".")))
        print(select(2, pcall(e.retrieve, "env_1")))
      ]])
      assert.matches("anthropic.environments.create: parameter 'name' must be 1 to 256", out, 1, true)
      assert.matches("anthropic.environments.update: unknown parameter 'nmae'", out, 1, true)
      assert.matches("anthropic.environments.list: parameter 'limit'", out, 1, true)
      assert.matches("anthropic.environments.each: parameter 'page' must be a string", out, 1, true)
      assert.matches("anthropic.environments.retrieve: id must not be empty", out, 1, true)
      assert.matches("anthropic.environments.delete: id must not be '.'", out, 1, true)
      assert.matches("anthropic.environments.retrieve: no credentials", out, 1, true)
      assert.are.equal(0, #server:requests())
    end)
  end)
end)
