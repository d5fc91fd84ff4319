-- Smoke tests of the fake Environments API itself (fake/server.lua).
local cjson = require "cjson"
local fake = require "spec.support.fake"

local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local RFC3339 = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"

describe("fake Environments API", function()
  local server

  setup(function()
    server = fake.start()
  end)

  teardown(function()
    if server then server:stop() end
  end)

  before_each(function()
    server:reset()
  end)

  it("archives an environment, idempotently", function()
    local status, body, headers = server:api("POST", "/v1/environments/" .. EXAMPLE_ID .. "/archive")
    assert.are.equal(200, status)
    assert.are.equal("application/json", headers["content-type"])
    assert.truthy(headers["request-id"]:match("^req_fake_%d+$"))
    local env = cjson.decode(body)
    assert.are.equal(EXAMPLE_ID, env.id)
    assert.truthy(env.archived_at:match(RFC3339))
    assert.are.equal(env.archived_at, env.updated_at)
    assert.are.equal("2026-03-15T10:00:00Z", env.created_at)
    assert.are.same({ "pandas", "numpy" }, env.config.packages.pip)

    local status2, body2 = server:api("POST", "/v1/environments/" .. EXAMPLE_ID .. "/archive")
    assert.are.equal(200, status2)
    assert.are.equal(env.archived_at, cjson.decode(body2).archived_at)
    assert.are.equal(env.archived_at, server:get_environment(EXAMPLE_ID).archived_at)
  end)

  it("answers an unknown id with the API's 404 error shape", function()
    local status, body, headers = server:api("POST", "/v1/environments/a%2Fb/archive")
    assert.are.equal(404, status)
    assert.are.same({
      type = "error",
      error = {
        type = "not_found_error",
        message = "Environment 'a/b' not found",
        details = { error_code = "environment_not_found" },
      },
      request_id = headers["request-id"],
    }, cjson.decode(body))
  end)

  it("checks authentication and the beta header", function()
    local status, body = server:request("POST", "/v1/environments/" .. EXAMPLE_ID .. "/archive")
    assert.are.equal(401, status)
    assert.are.equal("authentication_error", cjson.decode(body).error.type)
    status, body = server:api("GET", "/v1/environments", nil, { ["anthropic-beta"] = "files-api-2025-04-14" })
    assert.are.equal(400, status)
    assert.are.equal("invalid_request_error", cjson.decode(body).error.type)
  end)

  it("records requests with raw path, headers and body", function()
    server:api("POST", "/v1/environments/a%2Fb/archive", "", { ["x-extra"] = "1" })
    server:api("POST", "/v1/environments", { name = "made-by-test" })
    local reqs = server:requests()
    assert.are.equal(2, #reqs)
    assert.are.equal("POST", reqs[1].method)
    assert.are.equal("/v1/environments/a%2Fb/archive", reqs[1].path)
    assert.are.equal("", reqs[1].body)
    assert.are.equal("1", reqs[1].header_map["x-extra"])
    assert.are.equal("2023-06-01", reqs[1].header_map["anthropic-version"])
    assert.are.equal('{"name":"made-by-test"}', reqs[2].body)
    for _, kv in ipairs(reqs[2].headers) do
      assert.are.equal(kv[1]:lower(), kv[1])
    end
  end)

  it("writes empty arrays as [] and rejects {} where an array belongs", function()
    local _, body = server:api("GET", "/v1/environments/env_unrestricted01")
    assert.truthy(body:find('"apt":[]', 1, true))
    local status, err = server:api("POST", "/v1/environments",
      '{"name":"x","config":{"type":"cloud","packages":{"pip":{}}}}')
    assert.are.equal(400, status)
    assert.are.equal("invalid_request_error", cjson.decode(err).error.type)
    status = server:api("POST", "/v1/environments",
      '{"name":"x","config":{"type":"cloud","packages":{"pip":[]}}}')
    assert.are.equal(200, status)
  end)

  it("pages through the list newest first", function()
    local status, body = server:api("GET", "/v1/environments?limit=1&include_archived=true")
    assert.are.equal(200, status)
    local page = cjson.decode(body)
    assert.are.equal("env_unrestricted01", page.data[1].id)
    local ids = { page.data[1].id }
    while page.next_page ~= cjson.null do
      status, body = server:api("GET", "/v1/environments?limit=1&page=" .. page.next_page)
      assert.are.equal(200, status)
      page = cjson.decode(body)
      ids[#ids + 1] = page.data[1].id
    end
    assert.are.same({ "env_unrestricted01", "env_selfhosted01", EXAMPLE_ID }, ids)
  end)

  it("plays scripted responses in order, then goes back to normal", function()
    server:script {
      { status = 529, headers = { ["x-should-retry"] = "false" } },
      { status = 503 },
      { status = 200, body = "not json", path = "/v1/environments/env_selfhosted01" },
    }
    local status, body, headers = server:api("POST", "/v1/environments/" .. EXAMPLE_ID .. "/archive")
    assert.are.equal(529, status)
    assert.are.equal("false", headers["x-should-retry"])
    assert.are.equal("overloaded_error", cjson.decode(body).error.type)

    status, body, headers = server:api("GET", "/v1/environments/" .. EXAMPLE_ID)
    assert.are.equal(503, status)
    assert.are.equal("text/html", headers["content-type"])
    assert.truthy(body:find("<html>", 1, true))

    -- the path-bound item waits for its path
    assert.are.equal(1, server:pending())
    status = server:api("GET", "/v1/environments/" .. EXAMPLE_ID)
    assert.are.equal(200, status)
    status, body = server:api("GET", "/v1/environments/env_selfhosted01")
    assert.are.equal(200, status)
    assert.are.equal("not json", body)
    assert.are.equal(0, server:pending())
    -- scripted requests are recorded too
    assert.are.equal(4, #server:requests())
  end)

  it("scripts list pages whose cursors cycle A -> B -> A, for as long as asked", function()
    local env = '{"id":"env_cyc","type":"environment"}'
    server:script {
      { path = "/v1/environments", query = "limit=1",
        body = '{"data":[' .. env .. '],"next_page":"A"}' },
      { path = "/v1/environments", query = "limit=1&page=A", times = true,
        body = '{"data":[' .. env .. '],"next_page":"B"}' },
      { path = "/v1/environments", query = "limit=1&page=B", times = true,
        body = '{"data":[' .. env .. '],"next_page":"A"}' },
    }
    local cursors = {}
    local _, body = server:api("GET", "/v1/environments?limit=1")
    for _ = 1, 6 do
      local page = cjson.decode(body)
      cursors[#cursors + 1] = page.next_page
      _, body = server:api("GET", "/v1/environments?limit=1&page=" .. page.next_page)
    end
    assert.are.same({ "A", "B", "A", "B", "A", "B" }, cursors)
    assert.are.equal(2, server:pending())   -- the repeating items stay until reset
    -- other queries are not matched by them
    local status, plain = server:api("GET", "/v1/environments?limit=2")
    assert.are.equal(200, status)
    assert.are.equal(2, #cjson.decode(plain).data)
    server:reset()
    assert.are.equal(0, server:pending())
  end)

  it("scripts endless empty pages with a new cursor each time", function()
    server:script { { method = "GET", path = "/v1/environments", times = true, template = true,
      body = '{"data":[],"next_page":"page_endless_{{n}}"}' } }
    for i = 1, 50 do
      local status, body = server:api("GET", "/v1/environments" .. (i > 1 and "?page=x" or ""))
      assert.are.equal(200, status)
      assert.are.equal('{"data":[],"next_page":"page_endless_' .. i .. '"}', body)
    end
    assert.are.equal(1, server:pending())
    -- an item played a set number of times leaves the queue after the last
    server:reset()
    server:script { { status = 500, times = 2 } }
    assert.are.equal(500, (server:api("GET", "/v1/environments")))
    assert.are.equal(500, (server:api("GET", "/v1/environments")))
    assert.are.equal(200, (server:api("GET", "/v1/environments")))
    local status = server:request("POST", "/_fake/script", '{"responses":[{"times":0}]}')
    assert.are.equal(400, status)
  end)

  it("closes the connection on a close fault", function()
    server:script { { fault = "close" } }
    assert.has_error(function()
      server:api("POST", "/v1/environments/" .. EXAMPLE_ID .. "/archive")
    end)
    -- nothing happened to the environment, and the server still answers
    assert.are.equal(cjson.null, server:get_environment(EXAMPLE_ID).archived_at)
    assert.are.equal(200, (server:api("GET", "/v1/environments/" .. EXAMPLE_ID)))
  end)

  it("stores environments put through the control API", function()
    server:put_environment {
      id = "env_put/1", type = "environment", name = "put", description = cjson.null,
      metadata = {}, archived_at = cjson.null,
      created_at = "2026-01-01T00:00:00Z", updated_at = "2026-01-01T00:00:00Z",
      config = { type = "cloud", networking = { type = "limited", allowed_hosts = {},
        allow_mcp_servers = true, allow_package_managers = false },
        packages = { type = "packages", apt = {}, cargo = {}, gem = {}, go = {}, npm = {}, pip = {} } },
    }
    local _, body = server:api("GET", "/v1/environments/env_put%2F1")
    assert.truthy(body:find('"allowed_hosts":[]', 1, true))
    assert.truthy(body:find('"metadata":{}', 1, true))
    assert.are.equal("put", server:get_environment("env_put/1").name)
    assert.is_nil(server:get_environment("env_nope"))
  end)

  it("reset restores the seed and forgets requests and scripts", function()
    server:api("POST", "/v1/environments/" .. EXAMPLE_ID .. "/archive")
    server:api("DELETE", "/v1/environments/env_selfhosted01")
    server:script { { status = 500 } }
    server:config { delay_ms = 5 }
    server:reset()
    assert.are.equal(cjson.null, server:get_environment(EXAMPLE_ID).archived_at)
    assert.is_not_nil(server:get_environment("env_selfhosted01"))
    assert.are.equal(0, #server:requests())
    assert.are.equal(0, server:pending())
  end)
end)
