-- list and each against the fake API on loopback, and the per-call options
-- every call takes: the exact requests and what comes back.
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"
local wire = require "spec.support.wire"

local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-ant-test-SECRET-0123456789"
local null = environments.null
local raises = wire.raises

describe("the environments resource: lists and per-call options", function()
  local server, sleeps, new_client = fake.suite(KEY)

  local function only_request() return server:only_request() end
  local function assert_request(req, ...) return wire.assert_request(req, KEY, ...) end

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

end)
