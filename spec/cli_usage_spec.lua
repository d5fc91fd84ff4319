-- bin/anthropic-environments run as a process against the fake API: its
-- usage errors (each saying what was wrong, in the tool's words, before any
-- request), --version, the tool's help, and the global flags before and
-- after the command. Each command's help is in cli_help_spec.lua.
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"
local hosts = require "spec.support.hosts"
local cli = require "spec.support.cli"

local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-cli-usage"

local write_file = hosts.write_file

describe("the command-line tool's usage", function()
  local server

  setup(function() server = fake.start() end)
  teardown(function() server:stop() end)
  before_each(function() server:reset() end)

  -- Runs the tool (spec/support/cli.lua); opts.env, a string of
  -- NAME=value words, replaces the default key and base URL.
  local function run(args, opts) return cli.runner(server, KEY)(args, opts) end

  local function only_request() return server:only_request() end

  describe("help and usage errors", function()
    it("--help prints the usage, the environment variables and the exit codes", function()
      for _, args in ipairs { { "--help" }, { "-h" }, { "help" }, { "--json", "--help" } } do
        local out, err, code = run(args)
        assert.are.equal(0, code)
        assert.are.equal("", err)
        assert.matches("^Usage: anthropic%-environments %[GLOBAL FLAGS%] COMMAND", out)
        for _, word in ipairs { "list", "get ID", "create --name", "update ID", "archive ID [ID ...]",
                                "delete ID [--yes]", "--json", "--base-url URL", "ANTHROPIC_API_KEY",
                                "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_LOG", "Exit status",
                                "  2  usage error" } do
          assert.matches(word, out, 1, true)
        end
      end
    end)

    it("--version prints the library's version", function()
      local out, _, code = run { "--version" }
      assert.are.equal(0, code)
      assert.are.equal("anthropic-environments " .. environments.VERSION .. "\n", out)
    end)

    it("exits 2 for usage errors, before any request", function()
      local cases = {
        { {}, "no command given" },
        { { "frob" }, "unknown command 'frob' (see anthropic-environments --help)" },
        { { "--json" }, "no command given" },
        { { "--frob", "list" }, "unknown option '--frob' before the command (only the global flags go there" },
        { { "--limit", "2", "list" }, "unknown option '--limit' before the command" },
        { { "--base-url" }, "--base-url needs a value" },
        { { "help", "frob" }, "help: unknown command 'frob'" },
        { { "help", "list", "x" }, "help takes a command's name (got 'x' after 'list')" },
        { { "list", "--frob" }, "list: unknown option '--frob' (see anthropic-environments list --help)" },
        { { "list", "--limit" }, "list: --limit needs a value" },
        { { "list", "--limit", "0" }, "list: --limit must be a whole number of at least 1 (got '0')" },
        { { "list", "--limit", "2.5" }, "--limit must be a whole number" },
        { { "list", "--json=yes" }, "list: --json takes no value" },
        { { "list", "--json", "--json=" }, "list: --json takes no value" },
        { { "list", "--base-url", "a", "--base-url", "b" }, "list: --base-url given twice" },
        { { "list", "extra" }, "list takes no arguments (got 'extra')" },
        { { "get" }, "get: missing ID (see anthropic-environments get --help)" },
        { { "get", "a", "b" }, "get takes one ID (got 2 arguments)" },
        { { "get", "" }, "get: invalid id '': must not be empty" },
        { { "archive" }, "archive: missing ID" },
        { { "archive", EXAMPLE_ID, ".." }, "archive: invalid id '..': must not be '..'" },
        { { "create" }, "create needs --name" },
        { { "create", "--name", "x", "--name", "y" }, "create: --name given twice" },
        { { "create", "--name", "" }, "create: --name must be 1 to 256 characters long (got 0)" },
        { { "create", "--name", "x", "--description", string.rep("d", 1025) },
          "create: --description must be at most 1024 characters long (got 1025)" },
        { { "create", "--name", "x", "--scope", "global" },
          "create: --scope must be 'organization' or 'account' (got 'global')" },
        { { "create", "--name", "x", "--metadata", "novalue" }, "create: --metadata 'novalue': expected KEY=VALUE" },
        { { "create", "--name", "x", "--clear-description" }, "create: unknown option '--clear-description'" },
        { { "create", "--name", "x", "--config", "/nonexistent/c.json" }, "--config: cannot read" },
        { { "update", EXAMPLE_ID, "--description", "d", "--clear-description" }, "together" },
        { { "update", EXAMPLE_ID }, "update: nothing to change" },
        { { "update", EXAMPLE_ID, "--name", "" }, "update: --name must be 1 to 256 characters long (got 0)" },
        { { "delete", EXAMPLE_ID, "--yes=no" }, "delete: --yes takes no value" },
      }
      for _, case in ipairs(cases) do
        local out, err, code = run(case[1])
        assert.are.equal(2, code, table.concat(case[1], " "))
        assert.are.equal("", out)
        assert.matches("^anthropic%-environments: ", err)
        assert.matches(case[2], err, 1, true)
        -- never the library's words: its module, its functions, its parameter names
        for _, word in ipairs { "anthropic.environments", "retrieve", "parameter", "environments.null", ".lua:" } do
          assert.is_nil(err:find(word, 1, true), err)
        end
      end
      assert.are.equal(0, #server:requests())
    end)

    it("exits 2 for a --config file that is not JSON or that the library refuses", function()
      local path = os.tmpname()
      write_file(path, "{ not json")
      local _, err, code = run { "create", "--name", "x", "--config", path }
      assert.are.equal(2, code)
      assert.matches("not valid JSON", err, 1, true)
      write_file(path, '{"type":"cloud","networking":{"type":"limited","alowed_hosts":[]}}')
      _, err, code = run { "create", "--name", "x", "--config", path }
      assert.are.equal(2, code)
      assert.matches("create: --config: unknown field 'config.networking.alowed_hosts'", err, 1, true)
      write_file(path, '["cloud"]')
      _, err, code = run { "update", EXAMPLE_ID, "--config", path }
      assert.are.equal(2, code)
      assert.matches("update: --config: 'config.type' must be 'cloud' or 'self_hosted' (missing)", err, 1, true)
      write_file(path, '{"type":"cloud","networking":{"type":"limited","allowed_hosts":[1]}}')
      _, err, code = run { "create", "--name", "x", "--config", path }
      assert.are.equal(2, code)
      assert.matches("create: --config: 'config.networking.allowed_hosts[1]' must be a string (got number)", err, 1, true)
      os.remove(path)
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("global flags", function()
    it("--base-url, before or after the command, goes over ANTHROPIC_BASE_URL", function()
      for _, args in ipairs { { "--base-url", server.url, "get", EXAMPLE_ID }, { "get", EXAMPLE_ID, "--base-url=" .. server.url },
                              { "--json", "get", "--base-url", server.url, EXAMPLE_ID } } do
        server:reset()
        local out, err, code = run(args, { env = "ANTHROPIC_API_KEY=" .. KEY .. " ANTHROPIC_BASE_URL=http://127.0.0.1:1" })
        assert.are.equal(0, code, err)
        assert.matches(EXAMPLE_ID, out, 1, true)
        assert.are.equal("/v1/environments/" .. EXAMPLE_ID, only_request().path)
      end
    end)

    it("--json before the command is the same as after it", function()
      local after = run { "get", EXAMPLE_ID, "--json" }
      local before, err, code = run { "--json", "get", EXAMPLE_ID }
      assert.are.equal(0, code, err)
      assert.are.equal(after, before)
      assert.matches('^{"archived_at":null,"config":', before)
    end)
  end)
end)
