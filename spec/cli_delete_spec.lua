-- `anthropic-environments delete` asks before it deletes: on a terminal
-- (stdin and stderr, a pty from script(1)) it asks "Delete environment ID?
-- [y/N]" unless --yes; without one (a script) it does not ask.
local fake = require "spec.support.fake"
local cli = require "spec.support.cli"

local KEY = "sk-cli-delete"
local ID = "env_selfhosted01"

describe("the command-line tool's delete", function()
  local server

  setup(function() server = fake.start() end)
  teardown(function() server:stop() end)
  before_each(function() server:reset() end)

  local function env() return "ANTHROPIC_API_KEY=" .. KEY .. " ANTHROPIC_BASE_URL=" .. server.url end

  local function deletes()
    local n = 0
    for _, r in ipairs(server:requests()) do
      if r.method == "DELETE" then n = n + 1 end
    end
    return n
  end

  describe("on a terminal", function()
    local function on_terminal(args, typed)
      local terminal, out, code = cli.on_terminal(args, { env = env(), typed = typed })
      if not terminal then pending("needs script(1) (util-linux) for a pseudo-terminal") end
      return terminal, out, code
    end

    it("asks, and deletes on y or yes", function()
      for _, answer in ipairs { "y\n", "yes\n", " YES \n", "Y\n" } do
        server:reset()
        local terminal, out, code = on_terminal({ "delete", ID }, answer)
        if not terminal then return end
        assert.are.equal(0, code, terminal)
        assert.matches("Delete environment " .. ID .. "? [y/N] ", terminal, 1, true)
        assert.are.equal("deleted " .. ID .. "\n", out)
        assert.are.equal(1, deletes())
        assert.are.equal("/v1/environments/" .. ID, server:only_request().path)
      end
    end)

    it("deletes nothing on any other answer, or none, and exits 1", function()
      for _, answer in ipairs { "n\n", "\n", "yess\n", "no\n", "" } do
        local terminal, out, code = on_terminal({ "delete", ID }, answer)
        if not terminal then return end
        assert.are.equal(1, code, terminal)
        assert.matches("Delete environment " .. ID .. "? [y/N] ", terminal, 1, true)
        assert.matches("anthropic-environments: not deleted: " .. ID, terminal, 1, true)
        assert.are.equal("", out)
      end
      assert.are.equal(0, #server:requests())
    end)

    it("does not ask with --yes", function()
      local terminal, out, code = on_terminal({ "delete", "--yes", ID }, "n\n")
      if not terminal then return end
      assert.are.equal(0, code, terminal)
      assert.is_nil(terminal:find("Delete environment", 1, true))
      assert.are.equal("deleted " .. ID .. "\n", out)
      assert.are.equal(1, deletes())
    end)

    it("shows the id it asks about cleaned", function()
      local terminal, _, code = on_terminal({ "delete", "env_\194\155" .. "2J\226\128\174x" }, "n\n")
      if not terminal then return end
      assert.are.equal(1, code)
      assert.is_nil(terminal:find("\194\155", 1, true))
      assert.is_nil(terminal:find("\226\128\174", 1, true))
      assert.matches("Delete environment env_?2J?x? [y/N] ", terminal, 1, true)
      assert.matches("not deleted: env_?2J?x", terminal, 1, true)
    end)
  end)

  it("does not ask when stdin is not a terminal, even with stderr on one", function()
    local terminal, out, code = cli.on_terminal({ "delete", ID }, { env = env(), stdin = "n\n" })
    if not terminal then
      pending("needs script(1) (util-linux) for a pseudo-terminal")
      return
    end
    assert.are.equal(0, code, terminal)
    assert.are.equal("deleted " .. ID .. "\n", out)
    assert.is_nil(terminal:find("[y/N]", 1, true))
    assert.are.equal(1, deletes())
  end)

  it("does not ask without a terminal (a script), as before the question existed; nor with --yes", function()
    local out, err, code = cli.run({ "delete", ID }, { env = env(), stdin = "n\n" })
    assert.are.equal(0, code, err)
    assert.are.equal("deleted " .. ID .. "\n", out)
    assert.are.equal("", err)
    assert.are.equal(1, deletes())
    server:reset()
    out, err, code = cli.run({ "delete", ID, "--yes" }, { env = env() })
    assert.are.equal(0, code, err)
    assert.are.equal("deleted " .. ID .. "\n", out)
    assert.are.equal(1, deletes())
  end)
end)
