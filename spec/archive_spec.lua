-- client:archive and environments.archive against the fake API on loopback:
-- what goes over the wire, what comes back, and how failures are reported.
local environments = require "anthropic.environments"
local cjson = require "cjson"
local fake = require "spec.support.fake"

local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-ant-test-SECRET-0123456789"

describe("archive", function()
  local server, _, new_client = fake.suite(KEY)

  local function only_request() return server:only_request() end

  describe("on the wire", function()
    it("sends POST /v1/environments/{id}/archive with no body and the API's headers", function()
      local env = assert(new_client():archive(EXAMPLE_ID))
      assert.are.equal(EXAMPLE_ID, env.id)
      local req = only_request()
      assert.are.equal("POST", req.method)
      assert.are.equal("/v1/environments/" .. EXAMPLE_ID .. "/archive", req.path)
      assert.are.equal("", req.query)
      assert.are.equal("", req.body)
      local h = req.header_map
      assert.are.equal(KEY, h["x-api-key"])
      assert.are.equal("2023-06-01", h["anthropic-version"])
      assert.are.equal("managed-agents-2026-04-01", h["anthropic-beta"])
      assert.are.equal("application/json", h["accept"])
      assert.are.equal("0", h["content-length"])
      assert.is_nil(h["content-type"])
      assert.is_nil(h["authorization"])
      assert.is_nil(h["anthropic-workspace-id"])
      assert.is_nil(h["expect"])
      local lua_version = (type(jit) == "table" and jit.version) or _VERSION
      assert.are.equal("anthropic-environments-lua/" .. environments.VERSION .. " (" .. lua_version
        .. "; libcurl/" .. require("anthropic.environments.core").curl_version .. ")", h["user-agent"])
    end)

    it("sends each header once", function()
      new_client():archive(EXAMPLE_ID)
      local seen = {}
      for _, pair in ipairs(only_request().headers) do
        assert.is_nil(seen[pair[1]], "duplicate header " .. pair[1])
        seen[pair[1]] = true
      end
    end)

    it("percent-encodes the id into one path segment", function()
      local client = new_client { max_retries = 0 }
      client:archive("a/b")
      client:archive("env ?#%&+é")
      local reqs = server:requests()
      assert.are.equal("/v1/environments/a%2Fb/archive", reqs[1].path)
      assert.are.equal("/v1/environments/env%20%3F%23%25%26%2B%C3%A9/archive", reqs[2].path)
      assert.are.equal("", reqs[2].query)
    end)

    it("puts the caller's betas first, then the managed-agents beta, without duplicates", function()
      local client = new_client { betas = { "files-api-2025-04-14" } }
      client:archive(EXAMPLE_ID)
      client:archive(EXAMPLE_ID, { betas = { "skills-2025-10-02", "managed-agents-2026-04-01" } })
      local reqs = server:requests()
      assert.are.equal("files-api-2025-04-14,managed-agents-2026-04-01", reqs[1].header_map["anthropic-beta"])
      assert.are.equal("files-api-2025-04-14,skills-2025-10-02,managed-agents-2026-04-01",
        reqs[2].header_map["anthropic-beta"])
    end)

    it("sends anthropic-workspace-id from the client or the call", function()
      local client = new_client { workspace_id = "wrkspc_client" }
      client:archive(EXAMPLE_ID)
      client:archive(EXAMPLE_ID, { workspace_id = "wrkspc_call" })
      local reqs = server:requests()
      assert.are.equal("wrkspc_client", reqs[1].header_map["anthropic-workspace-id"])
      assert.are.equal("wrkspc_call", reqs[2].header_map["anthropic-workspace-id"])
    end)

    it("lets call headers override client headers, which override the defaults", function()
      local client = new_client { headers = { ["X-Team"] = "infra", ["User-Agent"] = "mine/1", ["X-Keep"] = "yes" } }
      client:archive(EXAMPLE_ID, { headers = { ["x-team"] = "games", ["Anthropic-Version"] = "2099-01-01" } })
      local h = only_request().header_map
      assert.are.equal("games", h["x-team"])
      assert.are.equal("mine/1", h["user-agent"])
      assert.are.equal("yes", h["x-keep"])
      assert.are.equal("2099-01-01", h["anthropic-version"])
    end)

    it("sends a bearer token instead of an API key when given one", function()
      if os.getenv("ANTHROPIC_API_KEY") then
        -- the key from the environment goes along too (as the SDKs send both)
        pending("ANTHROPIC_API_KEY is set in this environment")
        return
      end
      local client = environments.new { base_url = server.url, auth_token = "tok-SECRET" }
      assert(client:archive(EXAMPLE_ID))
      local h = only_request().header_map
      assert.are.equal("Bearer tok-SECRET", h["authorization"])
      assert.is_nil(h["x-api-key"])
    end)

    it("reuses one connection for successive calls on a client", function()
      local client = new_client()
      for _ = 1, 3 do assert(client:archive(EXAMPLE_ID)) end
      local reqs = server:requests()
      assert.are.equal(3, #reqs)
      assert.is_not_nil(reqs[1].connection)
      assert.are.equal(reqs[1].connection, reqs[2].connection)
      assert.are.equal(reqs[1].connection, reqs[3].connection)
    end)

    it("accepts a base_url with a trailing slash or a path prefix", function()
      assert(new_client { base_url = server.url .. "/" }:archive(EXAMPLE_ID))
      assert.are.equal("/v1/environments/" .. EXAMPLE_ID .. "/archive", only_request().path)
    end)
  end)

  describe("the result", function()
    it("mirrors the API's JSON as nested Lua tables", function()
      local before = os.time()
      local env = assert(new_client():archive(EXAMPLE_ID))
      assert.are.equal("environment", env.type)
      assert.are.equal("python-data-analysis", env.name)
      assert.are.equal("Python environment with data-analysis packages.", env.description)
      assert.are.equal("2026-03-15T10:00:00Z", env.created_at)
      assert.are.equal("organization", env.scope)
      assert.are.same({}, env.metadata)
      assert.are.equal("cloud", env.config.type)
      local net = env.config.networking
      assert.are.equal("limited", net.type)
      assert.is_false(net.allow_mcp_servers)
      assert.is_true(net.allow_package_managers)
      assert.are.same({ "api.example.com" }, net.allowed_hosts)
      assert.are.same({ "pandas", "numpy" }, env.config.packages.pip)
      assert.are.equal("packages", env.config.packages.type)
      for _, manager in ipairs { "apt", "cargo", "gem", "go", "npm" } do
        assert.are.same({ "string" }, env.config.packages[manager])
      end
      -- archived now: archived_at is an RFC 3339 time close to ours
      assert.is_true(environments.is_archived(env))
      local at = assert(environments.parse_time(env.archived_at))
      assert.is_true(math.abs(at - before) <= 5, "archived_at " .. env.archived_at)
      assert.are.equal(at, environments.archived_time(env))
    end)

    it("is idempotent: archiving again keeps the first archived_at", function()
      local client = new_client()
      local first = assert(client:archive(EXAMPLE_ID))
      local second = assert(client:archive(EXAMPLE_ID))
      assert.are.equal(first.archived_at, second.archived_at)
      assert.are.equal(2, #server:requests())
    end)

    it("gives JSON null as environments.null, which is cjson.null", function()
      assert.are.equal(cjson.null, environments.null)
      local env = assert(new_client():archive("env_selfhosted01"))
      assert.are.equal(environments.null, env.description)
      assert.are.same({ type = "self_hosted" }, env.config)
      assert.is_nil(env.scope)
    end)

    it("gives empty JSON arrays as empty Lua tables", function()
      local env = assert(new_client():archive("env_unrestricted01"))
      assert.are.equal("unrestricted", env.config.networking.type)
      assert.are.equal(0, #env.config.packages.pip)
      assert.are.equal("table", type(env.config.packages.apt))
    end)

    it("does not change the host's own cjson settings", function()
      local depth = cjson.decode_max_depth()
      local invalid = cjson.decode_invalid_numbers()
      cjson.decode_max_depth(5000)
      assert(new_client():archive(EXAMPLE_ID))
      assert.are.equal(5000, cjson.decode_max_depth())
      assert.are.equal(invalid, cjson.decode_invalid_numbers())
      cjson.decode_max_depth(depth)
    end)
  end)

  describe("failures return nil, err", function()
    it("404 for an unknown id, with the API's fields and the request id", function()
      local env, err = new_client():archive("env_missing")
      assert.is_nil(env)
      assert.is_true(environments.is_error(err))
      assert.are.equal("api", err.kind)
      assert.are.equal(404, err.status)
      assert.are.equal("not_found_error", err.type)
      assert.are.equal("environment_not_found", err.error_code)
      assert.matches("env_missing", err.message, 1, true)
      assert.matches("^req_fake_%d+$", err.request_id)
      assert.is_nil(err.body)
      assert.are.equal(1, err.attempts)
      local text = tostring(err)
      assert.matches("404", text, 1, true)
      assert.matches("not_found_error", text, 1, true)
      assert.matches(err.request_id, text, 1, true)
      assert.is_nil(text:find(KEY, 1, true))
    end)

    it("a proxy's HTML 502 page: status and a capped raw body", function()
      server:script { { status = 502, headers = { ["content-type"] = "text/html" },
                        body = "<html><body>" .. ("Bad Gateway "):rep(1000) .. "</body></html>" } }
      local env, err = new_client { max_retries = 0 }:archive(EXAMPLE_ID)
      assert.is_nil(env)
      assert.are.equal("api", err.kind)
      assert.are.equal(502, err.status)
      assert.is_nil(err.type)
      assert.matches("^<html>", err.body)
      assert.are.equal(4096, #err.body)
      assert.matches("text/html", err.message, 1, true)
      assert.matches("502", tostring(err), 1, true)
    end)

    it("an empty error body", function()
      server:script { { status = 503, body = "" } }
      local _, err = new_client { max_retries = 0 }:archive(EXAMPLE_ID)
      assert.are.equal(503, err.status)
      assert.are.equal("", err.body)
      assert.matches("empty body", err.message, 1, true)
    end)

    it("200 with invalid JSON is a decode error carrying status and request id", function()
      server:script { { status = 200, body = "{\"id\": \"env_" } }
      local env, err = new_client():archive(EXAMPLE_ID)
      assert.is_nil(env)
      assert.are.equal("decode", err.kind)
      assert.are.equal(200, err.status)
      assert.matches("^req_fake_%d+$", err.request_id)
      assert.are.equal("{\"id\": \"env_", err.body)
      assert.are.equal(1, #server:requests())   -- not retried
    end)

    it("200 with JSON that is not an object is a decode error", function()
      server:script { { status = 200, body = "[1, 2]" }, { status = 200, body = "null" } }
      local client = new_client()
      local _, err = client:archive(EXAMPLE_ID)
      assert.are.equal("decode", err.kind)
      assert.matches("expected a JSON object, got an array", err.message, 1, true)
      -- the headers of this 2xx came lazily: the error has them as a table
      assert.matches("^req_fake_%d+$", err.request_id)
      assert.are.equal("application/json", err.headers["content-type"])
      _, err = client:archive(EXAMPLE_ID)
      assert.matches("got null", err.message, 1, true)
    end)

    it("refuses NaN and hex numbers, which are not JSON", function()
      server:script { { status = 200, body = "{\"id\": NaN}" }, { status = 200, body = "{\"id\": 0x10}" } }
      local client = new_client()
      local _, err = client:archive(EXAMPLE_ID)
      assert.are.equal("decode", err.kind)
      _, err = client:archive(EXAMPLE_ID)
      assert.are.equal("decode", err.kind)
    end)

    it("takes the request id from the body when the header is missing", function()
      server:script { { status = 400, no_request_id = true,
        json = { type = "error", request_id = "req_in_body",
                 error = { type = "invalid_request_error", message = "bad" } } } }
      local _, err = new_client():archive(EXAMPLE_ID)
      assert.are.equal("req_in_body", err.request_id)
      assert.are.equal("invalid_request_error", err.type)
      assert.is_nil(err.error_code)
    end)

    it("connection refused is a connection error", function()
      local client = environments.new { base_url = "http://127.0.0.1:1", api_key = KEY, max_retries = 0 }
      local env, err = client:archive(EXAMPLE_ID)
      assert.is_nil(env)
      assert.are.equal("connection", err.kind)
      assert.is_nil(err.status)
      assert.is_string(err.message)
      assert.is_nil(tostring(err):find(KEY, 1, true))
    end)
  end)

  describe("programmer mistakes raise", function()
    local client
    before_each(function() client = new_client() end)

    local function raises(pattern, f, ...)
      local ok, msg = pcall(f, ...)
      assert.is_false(ok)
      assert.matches(pattern, msg, 1, true)
    end

    it("for a bad id, naming it", function()
      raises("id must be a string (got number)", client.archive, client, 42)
      raises("id must be a string (got nil)", client.archive, client)
      raises("id must not be empty", client.archive, client, "")
      raises("id must not contain control characters", client.archive, client, "env\n1")
      raises("id must not contain control characters", client.archive, client, "env\0")
      raises("id must not be '.'", client.archive, client, ".")
      raises("id must not be '..'", client.archive, client, "..")
      raises("id must not be empty", environments.archive, "")
      assert.are.equal(0, #server:requests())
    end)

    it("for unknown and mistyped options", function()
      raises("unknown option 'tiemout'", client.archive, client, EXAMPLE_ID, { tiemout = 3 })
      raises("unknown option 'api_kee'", environments.new, { api_kee = "x" })
      raises("option 'timeout' must be a positive number", client.archive, client, EXAMPLE_ID, { timeout = "3" })
      raises("option 'timeout' must be a positive number", environments.new, { timeout = 0 })
      raises("option 'max_retries' must be a whole number", client.archive, client, EXAMPLE_ID, { max_retries = 1.5 })
      raises("option 'betas' must be an array of strings", client.archive, client, EXAMPLE_ID, { betas = "x" })
      raises("betas[1] must be a string", client.archive, client, EXAMPLE_ID, { betas = { 1 } })
      raises("betas[1] must be one beta name", client.archive, client, EXAMPLE_ID, { betas = { "a,b" } })
      raises("options must be a table", client.archive, client, EXAMPLE_ID, "fast")
      raises("option 'insecure_skip_tls_verify' must be a boolean", environments.new, { insecure_skip_tls_verify = 1 })
      assert.are.equal(0, #server:requests())
    end)

    it("for header names or values that could inject headers", function()
      for _, bad in ipairs { "1\r\nx-api-key: stolen", "1\0", "1\v", "1\127", "1\1" } do
        raises("header 'x-a' must not contain control characters", client.archive, client, EXAMPLE_ID,
          { headers = { ["x-a"] = bad } })
      end
      raises("is not a valid HTTP header name", client.archive, client, EXAMPLE_ID,
        { headers = { ["x-a\r\nx-b"] = "1" } })
      raises("header 'x-a' must be a string", environments.new, { headers = { ["x-a"] = 1 } })
      raises("option 'workspace_id' must not contain control characters", client.archive, client, EXAMPLE_ID,
        { workspace_id = "w\nx" })
      raises("option 'api_key' must not contain control characters", environments.new, { api_key = "k\r\n" })
      assert.are.equal(0, #server:requests())
    end)

    it("for a base_url that is not http or https", function()
      raises("base_url must be an http:// or https:// URL", environments.new, { base_url = "ftp://x" })
      raises("base_url must be an http:// or https:// URL", environments.new, { base_url = "localhost:8080" })
    end)

    it("for a call with no credentials at all, before any traffic", function()
      local anonymous = environments.new { base_url = server.url, api_key = nil }
      if os.getenv("ANTHROPIC_API_KEY") or os.getenv("ANTHROPIC_AUTH_TOKEN") then
        pending("ANTHROPIC_API_KEY is set in this environment")
        return
      end
      raises("no credentials", anonymous.archive, anonymous, EXAMPLE_ID)
      assert.are.equal(0, #server:requests())
    end)

    it("for a method called with a dot", function()
      raises("with a colon", client.archive, EXAMPLE_ID)
    end)

    it("for a closed client, and close is idempotent", function()
      client:close()
      client:close()
      raises("client is closed", client.archive, client, EXAMPLE_ID)
    end)

    local has_close = _VERSION == "Lua 5.4" and type(jit) ~= "table"
    ;(has_close and it or pending)("for a client used after its <close> scope ended (Lua 5.4)", function()
      local escaped = assert(load([[
        local environments, url = ...
        local scoped <close> = environments.new { base_url = url, api_key = "k" }
        assert(scoped:archive("env_011CZkZ9X2dpNyB7HsEFoRfW"))
        return scoped]]))(environments, server.url)
      raises("client is closed", escaped.archive, escaped, EXAMPLE_ID)
    end)
  end)

  describe("environment variables", function()
    -- The one-liner reads ANTHROPIC_* at its first call: run it in a child
    -- process with a controlled environment.
    local function run(env_vars, code)
      local lua = fake.interpreter()
      local cmd = "env -u ANTHROPIC_API_KEY -u ANTHROPIC_AUTH_TOKEN -u ANTHROPIC_BASE_URL " .. env_vars .. " "
        .. lua .. " -e " .. fake.shell_quote("package.path = " .. string.format("%q", package.path)
        .. "; package.cpath = " .. string.format("%q", package.cpath) .. "; " .. code) .. " 2>&1"
      local p = io.popen(cmd)
      local out = p:read("*a")
      p:close()
      return out
    end

    it("configure the module-level one-liner", function()
      local out = run("ANTHROPIC_API_KEY=sk-env ANTHROPIC_BASE_URL=" .. server.url,
        [[local e = require "anthropic.environments"
          local env, err = e.archive("env_011CZkZ9X2dpNyB7HsEFoRfW")
          print(env and env.name or tostring(err))]])
      assert.matches("python-data-analysis", out, 1, true)
      assert.are.equal("sk-env", only_request().header_map["x-api-key"])
    end)

    it("send ANTHROPIC_AUTH_TOKEN as a bearer token", function()
      local out = run("ANTHROPIC_AUTH_TOKEN=tok-env ANTHROPIC_BASE_URL=" .. server.url,
        [[local e = require "anthropic.environments"
          print((assert(e.archive("env_011CZkZ9X2dpNyB7HsEFoRfW")).name))]])
      assert.matches("python-data-analysis", out, 1, true)
      assert.are.equal("Bearer tok-env", only_request().header_map["authorization"])
    end)

    it("lose to explicit options", function()
      run("ANTHROPIC_API_KEY=sk-env ANTHROPIC_BASE_URL=http://127.0.0.1:1",
        [[local e = require "anthropic.environments"
          local c = e.new { api_key = "sk-explicit", base_url = "]] .. server.url .. [[" }
          print((assert(c:archive("env_011CZkZ9X2dpNyB7HsEFoRfW")).name))]])
      assert.are.equal("sk-explicit", only_request().header_map["x-api-key"])
    end)

    it("raise a clear error when no key is set anywhere", function()
      local out = run("ANTHROPIC_BASE_URL=" .. server.url,
        [[local e = require "anthropic.environments"
          print(pcall(e.archive, "env_1"))]])
      assert.matches("false\tanthropic.environments.archive: no credentials", out, 1, true)
      assert.are.equal(0, #server:requests())
    end)
  end)
end)
