-- The environments resource's parameters are checked before any traffic,
-- and the module-level one-liners use the environment variables.
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"
local wire = require "spec.support.wire"

local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-ant-test-SECRET-0123456789"
local null = environments.null
local raises = wire.raises

describe("the environments resource: parameters and one-liners", function()
  local server, _, new_client = fake.suite(KEY)

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

