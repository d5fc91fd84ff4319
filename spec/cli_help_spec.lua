-- The help of bin/anthropic-environments, for the tool, every group and
-- every command it has (each from its spec: every flag and argument is
-- listed), and --help and --version before the C core is built.
local environments = require "anthropic.environments"
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"
local cli = require "spec.support.cli"

-- Every command the CLI has, from its own modules.
local COMMANDS, GROUPS = {}, {}
for _, name in ipairs { "environment_commands", "webhook_commands", "work_commands" } do
  local module = require("anthropic.environments.cli." .. name)
  for _, command in ipairs(module.order) do
    COMMANDS[#COMMANDS + 1] = { name = command, spec = module.commands[command] }
  end
  if module.GROUP then GROUPS[#GROUPS + 1] = module.GROUP end
end

local function words(s)
  local list = {}
  for w in s:gmatch("%S+") do list[#list + 1] = w end
  return list
end

local function concat(a, b)
  local out = {}
  for _, x in ipairs(a) do out[#out + 1] = x end
  for _, x in ipairs(b) do out[#out + 1] = x end
  return out
end

describe("the command-line tool's help", function()
  local function run(args, opts)
    opts = opts or {}
    opts.env = opts.env or "ANTHROPIC_API_KEY=sk-help ANTHROPIC_BASE_URL=http://127.0.0.1:1"
    return cli.run(args, opts)
  end

  it("knows every command its modules define, each in the tool's help", function()
    assert.are.equal(15, #COMMANDS)
    local out, err, code = run { "--help" }
    assert.are.equal(0, code)
    assert.are.equal("", err)
    for _, c in ipairs(COMMANDS) do assert.matches("\n  " .. c.name .. " ", out, 1, true) end
  end)

  for _, c in ipairs(COMMANDS) do
    it("for " .. c.name .. ": --help, -h and help give its arguments and flags", function()
      local name = words(c.name)
      local out, err, code = run(concat(name, { "--help" }))
      assert.are.equal(0, code, err)
      assert.are.equal("", err)
      assert.matches("^Usage: anthropic%-environments " .. c.name:gsub("%-", "%%-") .. " ", out)
      for flag in pairs(c.spec.flags or {}) do
        assert.matches("\n  %-%-" .. flag:gsub("%-", "%%-") .. "[ =\n]", out)   -- in the Flags list
      end
      for _, param in ipairs(c.spec.params or {}) do
        assert.matches("\nArguments:\n.-  " .. param .. " ", out)
      end
      for _, global in ipairs { "--json", "--base-url URL", "--help, -h", "--version" } do
        assert.matches("\n  " .. global, out, 1, true)
      end
      assert.are.equal(out, (run(concat(name, { "-h" }))))
      assert.are.equal(out, (run(concat({ "help" }, name))))
      assert.are.equal(out, (run(concat({ "--help" }, name))))
      -- after flags and arguments too, whatever else is wrong with them
      assert.are.equal(out, (run(concat(name, { "--json", "x", "--frob", "-h" }))))
    end)
  end

  for _, group in ipairs(GROUPS) do
    it("for the group " .. group .. ": --help, -h and help list its subcommands", function()
      local out, err, code = run { group, "--help" }
      assert.are.equal(0, code, err)
      assert.matches("^Usage: anthropic%-environments " .. group .. " SUBCOMMAND", out)
      for _, c in ipairs(COMMANDS) do
        if c.name:match("^%S+") == group then
          assert.matches("\n  " .. c.name .. " ", out, 1, true)
        else
          assert.is_nil(out:find("\n  " .. c.name .. " ", 1, true))
        end
      end
      assert.are.equal(out, (run { group, "-h" }))
      assert.are.equal(out, (run { "help", group }))
    end)
  end

  it("lists the global flags, ANTHROPIC_LOG, and the exit statuses", function()
    local out = run { "help" }
    for _, text in ipairs {
      "Global flags (before or after the command):\n  --json ", "\n  --base-url URL ", "\n  --help, -h ",
      "\n  --version ", "\n  ANTHROPIC_LOG         \"debug\": log each HTTP attempt to stderr",
      "\n  1  the API answered with an error", "delete was not confirmed",
      "\n  2  usage error",
      "\n  3  configuration error",
    } do
      assert.matches(text, out, 1, true)
    end
  end)

  it("--version works before and after the command", function()
    for _, args in ipairs { { "--version" }, { "--json", "--version" }, { "list", "--version" } } do
      local out, err, code = run(args)
      assert.are.equal(0, code)
      assert.are.equal("", err)
      assert.are.equal("anthropic-environments " .. environments.VERSION .. "\n", out)
    end
  end)

  describe("without the C core", function()
    -- The tool beside a lua/ of this checkout but no build/, and a cpath
    -- that has no core: help and version still work; a command says that
    -- the library cannot be loaded.
    local dir
    setup(function()
      dir = os.tmpname()
      os.remove(dir)
      assert(os.execute(table.concat({
        "mkdir -p " .. dir .. "/bin",
        "cp " .. fake.shell_quote(cli.CLI) .. " " .. dir .. "/bin/",
        "ln -s " .. fake.shell_quote(hosts.ROOT .. "/lua") .. " " .. dir .. "/lua",
      }, " && ")))
    end)
    teardown(function() os.execute("rm -rf " .. dir) end)

    local function bare(args)
      return cli.run(args, { env = "ANTHROPIC_API_KEY=k LUA_CPATH=/nonexistent/?.so",
                             command = fake.interpreter() .. " " .. dir .. "/bin/anthropic-environments", dir = "/" })
    end

    it("prints the same help and version", function()
      for _, args in ipairs { { "--help" }, { "--version" }, { "list", "--help" }, { "help", "work", "poll" },
                              { "work", "-h" }, { "--base-url", "x", "delete", "--help" } } do
        local out, err, code = bare(args)
        assert.are.equal(0, code, err)
        assert.are.equal("", err)
        assert.are.equal(run(args), out)
      end
    end)

    it("gives usage errors, and exits 3 when a command needs the library", function()
      local _, err, code = bare { "get" }
      assert.are.equal(2, code)
      assert.matches("get: missing ID", err, 1, true)
      _, err, code = bare { "archive", "env_a", ".." }
      assert.are.equal(2, code, err)
      assert.matches("archive: invalid id '..'", err, 1, true)
      local out
      out, err, code = bare { "get", "env_x" }
      assert.are.equal(3, code)
      assert.are.equal("", out)
      assert.matches("^anthropic%-environments: cannot load the anthropic.environments library", err)
      assert.matches("anthropic.environments.core", err, 1, true)
    end)
  end)
end)
