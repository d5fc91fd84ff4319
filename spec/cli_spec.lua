-- bin/anthropic-environments run as a process, under the Lua version busted
-- runs on, against the fake API: its output, its exit codes and the exact
-- requests it makes. Usage errors and global flags are in
-- cli_usage_spec.lua, help in cli_help_spec.lua, archive in
-- cli_archive_spec.lua, delete's question in cli_delete_spec.lua, the
-- work commands in cli_work_spec.lua, webhook verify in
-- cli_webhook_spec.lua, what is cleaned in cli_clean_spec.lua.
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"
local hosts = require "spec.support.hosts"
local cli = require "spec.support.cli"
local cjson = require "cjson"

local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-cli-test"

local ROOT, write_file = hosts.ROOT, hosts.write_file
local CLI = ROOT .. "/bin/anthropic-environments"

describe("the command-line tool", function()
  local server

  setup(function() server = fake.start() end)
  teardown(function() server:stop() end)
  before_each(function() server:reset() end)

  -- Runs the tool (spec/support/cli.lua); opts.env, a string of
  -- NAME=value words, replaces the default key and base URL.
  local function run(args, opts) return cli.runner(server, KEY)(args, opts) end

  local function only_request() return server:only_request() end

  describe("environment variables", function()
    it("exits 3 without credentials, before any request", function()
      local out, err, code = run({ "list" }, { env = "ANTHROPIC_BASE_URL=" .. server.url })
      assert.are.equal(3, code)
      assert.are.equal("", out)
      assert.matches("no credentials", err, 1, true)
      assert.are.equal(0, #server:requests())
    end)

    it("exits 3 for a base URL that is not http(s)", function()
      local _, err, code = run({ "list" }, { env = "ANTHROPIC_API_KEY=k ANTHROPIC_BASE_URL=ftp://x" })
      assert.are.equal(3, code)
      assert.are.equal("anthropic-environments: ANTHROPIC_BASE_URL must be an http:// or https:// URL\n", err)
      _, err, code = run({ "list", "--base-url", "ftp://y" }, { env = "ANTHROPIC_API_KEY=k" })
      assert.are.equal(3, code)
      assert.are.equal("anthropic-environments: --base-url must be an http:// or https:// URL\n", err)
    end)

    it("sends ANTHROPIC_API_KEY, or ANTHROPIC_AUTH_TOKEN as a bearer token", function()
      assert.are.equal(0, select(3, run { "get", EXAMPLE_ID }))
      assert.are.equal(KEY, only_request().header_map["x-api-key"])
      server:reset()
      assert.are.equal(0, select(3, run({ "get", EXAMPLE_ID },
        { env = "ANTHROPIC_AUTH_TOKEN=tok ANTHROPIC_BASE_URL=" .. server.url })))
      local h = only_request().header_map
      assert.are.equal("Bearer tok", h["authorization"])
      assert.is_nil(h["x-api-key"])
      assert.are.equal("managed-agents-2026-04-01", h["anthropic-beta"])
    end)
  end)

  describe("finding the library", function()
    it("from its own path, when run through its #! line from another directory", function()
      local out, err, code = run({ "get", EXAMPLE_ID }, { command = fake.shell_quote(CLI), dir = "/" })
      assert.are.equal("", err)
      assert.are.equal(0, code)
      assert.matches("python%-data%-analysis", out)
    end)

    it("through a symbolic link to it", function()
      local dir = os.tmpname()
      os.remove(dir)
      os.execute("mkdir -p " .. dir .. " && ln -s " .. fake.shell_quote(CLI) .. " " .. dir .. "/envs")
      local out, err, code = run({ "get", EXAMPLE_ID },
        { command = fake.interpreter() .. " " .. dir .. "/envs", dir = "/" })
      os.execute("rm -rf " .. dir)
      assert.are.equal("", err)
      assert.are.equal(0, code)
      assert.matches("python%-data%-analysis", out)
    end)

    it("from the LuaRocks tree it was installed into, when that tree is not on the search paths", function()
      -- The layout `luarocks make --tree=T` leaves, made of links to this checkout.
      local tree = os.tmpname()
      os.remove(tree)
      local v = _VERSION:match("%d+%.%d+")
      local build = type(jit) == "table" and "jit" or v
      local bin = tree .. "/lib/luarocks/rocks-" .. v .. "/anthropic-environments/" .. environments.VERSION .. "-1/bin"
      os.execute(table.concat({
        "mkdir -p " .. bin .. " " .. tree .. "/share/lua/" .. v .. " " .. tree .. "/lib/lua/" .. v,
        "cp " .. fake.shell_quote(CLI) .. " " .. bin .. "/",
        "ln -s " .. fake.shell_quote(ROOT .. "/lua/anthropic") .. " " .. tree .. "/share/lua/" .. v .. "/anthropic",
        "ln -s " .. fake.shell_quote(ROOT .. "/build/" .. build .. "/anthropic") .. " " .. tree .. "/lib/lua/" .. v .. "/anthropic",
      }, " && "))
      local out, err, code = run({ "get", EXAMPLE_ID },
        { command = fake.interpreter() .. " " .. bin .. "/anthropic-environments", dir = "/" })
      os.execute("rm -rf " .. tree)
      assert.are.equal("", err)
      assert.are.equal(0, code)
      assert.matches("python%-data%-analysis", out)
    end)
  end)

  describe("list", function()
    it("prints every environment as a table, fetching pages of 100", function()
      local out, err, code = run { "list" }
      assert.are.equal(0, code)
      assert.are.equal("", err)
      assert.are.equal(table.concat({
        "ID                            NAME                  CONFIG              CREATED               ARCHIVED",
        "env_unrestricted01            unrestricted-empty    cloud/unrestricted  2026-03-17T08:00:00Z  -",
        "env_selfhosted01              self-hosted-runner    self_hosted         2026-03-16T09:00:00Z  -",
        "env_011CZkZ9X2dpNyB7HsEFoRfW  python-data-analysis  cloud/limited       2026-03-15T10:00:00Z  -",
        "" }, "\n"), out)
      local req = only_request()
      assert.are.equal("GET", req.method)
      assert.are.equal("/v1/environments", req.path)
      assert.are.equal("limit=100", req.query)
    end)

    it("--include-archived and --limit N: at most N, archived ones too", function()
      assert.are.equal(0, select(3, run { "archive", EXAMPLE_ID }))
      local out, _, code = run { "list", "--include-archived", "--limit=2" }
      assert.are.equal(0, code)
      local lines = {}
      for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.are.equal(3, #lines)
      assert.are.equal("include_archived=true&limit=2", server:requests()[2].query)
      out = run { "list", "--include-archived" }
      assert.matches(EXAMPLE_ID .. "  python%-data%-analysis  cloud/limited       2026%-03%-15T10:00:00Z  %d%d%d%d%-", out)
      out = run { "list" }
      assert.is_nil(out:find(EXAMPLE_ID, 1, true))
    end)

    it("follows next_page until the end", function()
      for i = 1, 101 do
        local at = string.format("2026-04-01T00:%02d:%02dZ", math.floor(i / 60), i % 60)
        server:put_environment { id = string.format("env_many_%03d", i), name = "many-" .. i,
          type = "environment", archived_at = cjson.null, description = cjson.null, metadata = {},
          created_at = at, updated_at = at, config = { type = "self_hosted" } }
      end
      local out, _, code = run { "list", "--json" }
      assert.are.equal(0, code)
      local list = cjson.decode(out)
      assert.are.equal(104, #list)
      assert.are.equal("env_many_101", list[1].id)
      assert.are.equal(EXAMPLE_ID, list[104].id)
      local reqs = server:requests()
      assert.are.equal(2, #reqs)
      assert.matches("^limit=100&page=page_%x+$", reqs[2].query)
    end)

    it("--json prints a JSON array of the environments, empty arrays as []", function()
      local out, _, code = run { "list", "--json", "--limit", "1" }
      assert.are.equal(0, code)
      local _, body = server:api("GET", "/v1/environments/env_unrestricted01")
      assert.are.equal("[" .. body .. "]\n", out)
      assert.matches('"pip":[]', out, 1, true)
      assert.are.equal("limit=1", server:requests()[1].query)
    end)

    it("says so when there is nothing to list", function()
      server:script { { status = 200, body = '{"data":[],"next_page":null}' } }
      assert.are.equal("no environments\n", (run { "list" }))
      server:script { { status = 200, body = '{"data":[],"next_page":null}' } }
      assert.are.equal("[]\n", (run { "list", "--json" }))
    end)
  end)

  describe("get", function()
    it("prints one environment as a readable table", function()
      local out, err, code = run { "get", EXAMPLE_ID }
      assert.are.equal(0, code)
      assert.are.equal("", err)
      assert.are.equal(table.concat({
        "id                env_011CZkZ9X2dpNyB7HsEFoRfW",
        "name              python-data-analysis",
        "description       Python environment with data-analysis packages.",
        "scope             organization",
        "config            cloud/limited",
        "allowed hosts     api.example.com",
        "mcp servers       no",
        "package managers  yes",
        "packages apt      string",
        "packages cargo    string",
        "packages gem      string",
        "packages go       string",
        "packages npm      string",
        "packages pip      pandas, numpy",
        "metadata          -",
        "created           2026-03-15T10:00:00Z",
        "updated           2026-03-15T10:00:00Z",
        "archived          -",
        "" }, "\n"), out)
      local req = only_request()
      assert.are.equal("GET", req.method)
      assert.are.equal("/v1/environments/" .. EXAMPLE_ID, req.path)
    end)

    it("--json prints exactly the JSON the API sent (keys sorted, empty arrays kept)", function()
      for _, id in ipairs { EXAMPLE_ID, "env_selfhosted01", "env_unrestricted01" } do
        local out, _, code = run { "get", id, "--json" }
        assert.are.equal(0, code)
        local _, body = server:api("GET", "/v1/environments/" .. id)
        assert.are.equal(body .. "\n", out)
      end
    end)

    it("never writes control characters from the API to the terminal", function()
      server:put_environment { id = "env_evil", name = "evil\27[31mred\n", type = "environment",
        archived_at = cjson.null, description = "a\rb", metadata = { ["k\27"] = "v\7" },
        created_at = "2026-01-01T00:00:00Z", updated_at = "2026-01-01T00:00:00Z",
        config = { type = "self_hosted" } }
      local out = run { "get", "env_evil" }
      assert.is_nil(out:find("\27", 1, true))
      assert.is_nil(out:find("\r", 1, true))
      assert.is_nil(out:find("\7", 1, true))
      assert.matches("\nname +evil%?%[31mred%?\n", out)
      assert.matches("\ndescription +a%?b\n", out)
      assert.matches("\nmetadata +k%?=v%?\n", out)
    end)

    it("exits 1 with the API's error for an unknown id", function()
      local out, err, code = run { "get", "env_missing" }
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("^anthropic%-environments: api error 404 not_found_error %(environment_not_found%): "
        .. "Environment 'env_missing' not found %[request%-id req_fake_%d+%]\n$", err)
    end)

    it("exits 1 for a proxy's HTML error page", function()
      local quick = { ["retry-after-ms"] = "1" }
      server:script { { status = 502, headers = quick }, { status = 502, headers = quick },
                      { status = 502, headers = quick } }
      local _, err, code = run { "get", EXAMPLE_ID }
      assert.are.equal(1, code)
      assert.matches("api error 502", err, 1, true)
      assert.are.equal(3, #server:requests())   -- the library's retries
    end)
  end)

  describe("create", function()
    it("sends the flags as the body and prints the new environment", function()
      local path = os.tmpname()
      write_file(path, '{"type":"cloud","networking":{"type":"limited","allowed_hosts":[],'
        .. '"allow_package_managers":true},"packages":{"pip":["pandas"],"npm":[]}}')
      local out, err, code = run { "create", "--name", "data team", "--description", "for \"data\"",
        "--scope", "account", "--config", path, "--metadata", "team=data", "--metadata", "tier=a=b" }
      os.remove(path)
      assert.are.equal("", err)
      assert.are.equal(0, code)
      local req = only_request()
      assert.are.equal("POST", req.method)
      assert.are.equal("/v1/environments", req.path)
      assert.are.equal("application/json", req.header_map["content-type"])
      assert.are.equal('{"config":{"networking":{"allow_package_managers":true,"allowed_hosts":[],'
        .. '"type":"limited"},"packages":{"npm":[],"pip":["pandas"]},"type":"cloud"},'
        .. '"description":"for \\"data\\"","metadata":{"team":"data","tier":"a=b"},'
        .. '"name":"data team","scope":"account"}', req.body)
      assert.matches("^id                env_fake_%d+\nname              data team\n", out)
      assert.matches("packages pip      pandas\nmetadata          team=data, tier=a=b\n", out, 1, true)
    end)

    it("reads --config - from stdin, and --json prints what the API gave", function()
      local out, _, code = run({ "create", "--name=runner", "--config", "-", "--json" },
        { stdin = '{"type":"self_hosted"}' })
      assert.are.equal(0, code)
      assert.are.equal('{"config":{"type":"self_hosted"},"name":"runner"}', only_request().body)
      local env = cjson.decode(out)
      local _, body = server:api("GET", "/v1/environments/" .. env.id)
      assert.are.equal(body .. "\n", out)
    end)
  end)

  describe("update", function()
    it("sends only the flags given", function()
      local out, _, code = run { "update", "env_selfhosted01", "--name", "renamed", "--clear-description",
        "--metadata", "owner=", "--metadata", "new=1" }
      assert.are.equal(0, code)
      local req = only_request()
      assert.are.equal("POST", req.method)
      assert.are.equal("/v1/environments/env_selfhosted01", req.path)
      assert.are.equal('{"description":null,"metadata":{"new":"1","owner":""},"name":"renamed"}', req.body)
      assert.matches("\nname +renamed\ndescription +%-\n", out)
      assert.matches("\nmetadata +new=1\n", out)
    end)

    it("sends a config read back from get --json unchanged", function()
      local out = run { "get", "env_unrestricted01", "--json" }
      local path = os.tmpname()
      write_file(path, cjson.encode(cjson.decode(out).config))   -- empty arrays become {} here
      server:reset()
      local _, _, code = run { "update", "env_unrestricted01", "--config", path }
      os.remove(path)
      assert.are.equal(0, code)
      assert.are.equal('{"config":{"networking":{"type":"unrestricted"},"packages":{"apt":[],"cargo":[],'
        .. '"gem":[],"go":[],"npm":[],"pip":[],"type":"packages"},"type":"cloud"}}', only_request().body)
    end)

    it("exits 1 with the error code for an archived environment", function()
      run { "archive", EXAMPLE_ID }
      local out, err, code = run { "update", EXAMPLE_ID, "--name", "late" }
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("(environment_archived)", err, 1, true)
    end)
  end)

  describe("delete", function()
    it("deletes and says so; --json prints the API's answer", function()
      local out, err, code = run { "delete", "env_selfhosted01", "--yes" }
      assert.are.equal(0, code)
      assert.are.equal("", err)
      assert.are.equal("deleted env_selfhosted01\n", out)
      local req = only_request()
      assert.are.equal("DELETE", req.method)
      assert.are.equal("/v1/environments/env_selfhosted01", req.path)
      out, err, code = run { "--json", "delete", "--yes", "env_unrestricted01" }
      assert.are.equal(0, code)
      assert.are.equal("", err)
      assert.are.equal('{"id":"env_unrestricted01","type":"environment_deleted"}\n', out)
    end)

    it("exits 1 when there is nothing to delete", function()
      local out, err, code = run { "delete", "env_missing", "--yes" }
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("404", err, 1, true)
    end)
  end)
end)
