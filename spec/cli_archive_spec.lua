-- `anthropic-environments archive` run as a process against the fake API:
-- ids from the arguments and from stdin, --concurrency, the summary, --json,
-- and the progress line, which only a terminal (a pty from script(1)) sees.
local fake = require "spec.support.fake"
local cli = require "spec.support.cli"
local cjson = require "cjson"

local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-cli-archive"

describe("the command-line tool's archive", function()
  local server

  setup(function() server = fake.start() end)
  teardown(function() server:stop() end)
  before_each(function() server:reset() end)

  local function env() return "ANTHROPIC_API_KEY=" .. KEY .. " ANTHROPIC_BASE_URL=" .. server.url end
  local function run(args, stdin) return cli.run(args, { env = env(), stdin = stdin }) end

  local function paths()
    local list = {}
    for i, r in ipairs(server:requests()) do list[i] = r.path:match("^/v1/environments/(.-)/archive$") end
    return list
  end

  it("archives every id given, in order, with a summary on stderr", function()
    local out, err, code = run { "archive", EXAMPLE_ID, "env_selfhosted01" }
    assert.are.equal(0, code)
    assert.matches("^archived " .. EXAMPLE_ID .. "  python%-data%-analysis  %d%d%d%d%-%d%d%-%d%dT[%d:]+Z\n"
      .. "archived env_selfhosted01  self%-hosted%-runner  %d%d%d%d%-%d%d%-%d%dT[%d:]+Z\n$", out)
    assert.are.equal("archived 2 of 2 environments\n", err)   -- no progress: stderr is a file
    assert.are.same({ EXAMPLE_ID, "env_selfhosted01" }, paths())
    local req = server:requests()[2]
    assert.are.equal("POST", req.method)
    assert.are.equal("", req.body)
  end)

  it("goes on after a failure, reports it, and exits 1", function()
    local out, err, code = run { "archive", "env_missing", EXAMPLE_ID }
    assert.are.equal(1, code)
    assert.matches("^archived " .. EXAMPLE_ID, out)
    assert.matches("^anthropic%-environments: env_missing: api error 404 not_found_error "
      .. "%(environment_not_found%)[^\n]*\narchived 1 of 2 environments, 1 failed\n$", err)
    assert.are.equal(2, #server:requests())
  end)

  it("--json prints one result per id, in the order given, with the environment or the error", function()
    local out, err, code = run { "archive", "--json", "--concurrency", "2", "env_missing", "env_unrestricted01" }
    assert.are.equal(1, code)
    assert.matches("archived 1 of 2 environments, 1 failed\n$", err)
    local results = cjson.decode(out)
    assert.are.equal(2, #results)
    assert.are.equal("env_missing", results[1].id)
    assert.are.same({ kind = "api", status = 404, type = "not_found_error", error_code = "environment_not_found",
      message = "Environment 'env_missing' not found", request_id = results[1].error.request_id }, results[1].error)
    assert.are.equal("env_unrestricted01", results[2].id)
    assert.are.equal("env_unrestricted01", results[2].environment.id)
    assert.matches('"pip":[]', out, 1, true)
  end)

  describe("with - ", function()
    it("reads the ids from stdin, one a line, skipping blanks and # comments, each id once", function()
      local stdin = "# ids to archive\n  " .. EXAMPLE_ID .. "  \r\n\n\t\nenv_selfhosted01\n# env_unrestricted01\n"
        .. EXAMPLE_ID .. "\nenv_missing"   -- no newline at the end
      local out, err, code = run({ "archive", "env_unrestricted01", "-" }, stdin)
      assert.are.equal(1, code)
      assert.are.same({ "env_unrestricted01", EXAMPLE_ID, "env_selfhosted01", "env_missing" }, paths())
      local _, lines = out:gsub("\n", "")
      assert.are.equal(3, lines)
      assert.matches("archived 3 of 4 environments, 1 failed\n$", err)
    end)

    it("refuses a bad id on stdin, an empty stdin, or - twice, before archiving anything", function()
      local cases = {
        { { "archive", EXAMPLE_ID, "-" }, "env_a\n.\n", "archive: stdin line 2: invalid id '.': must not be '.'" },
        { { "archive", "-" }, "env_a\nenv\1b\n", "archive: stdin line 2: invalid id 'env?b': must not contain control characters" },
        { { "archive", "-" }, "# nothing\n\n", "archive: no ids on stdin" },
        { { "archive", "-", "-" }, "env_a\n", "archive: - given twice" },
        { { "archive" }, "", "archive: missing ID (one or more, or - to read them from stdin)" },
      }
      for _, case in ipairs(cases) do
        local out, err, code = run(case[1], case[2])
        assert.are.equal(2, code, err)
        assert.are.equal("", out)
        assert.are.equal("anthropic-environments: " .. case[3] .. " (see anthropic-environments archive --help)\n", err)
      end
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("--concurrency N", function()
    it("keeps N requests in flight and prints each result as it ends", function()
      server:config { delay_ms = 300 }
      local stdin = EXAMPLE_ID .. "\nenv_selfhosted01\nenv_unrestricted01\nenv_missing\n"
      local started = require("socket").gettime()
      local out, err, code = run({ "archive", "--concurrency", "4", "-" }, stdin)
      local elapsed = require("socket").gettime() - started
      assert.are.equal(1, code)
      -- one wave of 300 ms, not four (the process start is in there too)
      assert.is_true(elapsed < 1.1, tostring(elapsed))
      local reqs = server:requests()
      assert.are.equal(4, #reqs)
      local connections = {}
      for _, r in ipairs(reqs) do connections[r.connection] = true end
      local n = 0
      for _ in pairs(connections) do n = n + 1 end
      assert.is_true(n >= 2 and n <= 4, n .. " connections")
      for _, id in ipairs { EXAMPLE_ID, "env_selfhosted01", "env_unrestricted01" } do
        assert.matches("archived " .. id .. "  ", out, 1, true)
      end
      assert.matches("^anthropic%-environments: env_missing: api error 404[^\n]*\n"
        .. "archived 3 of 4 environments, 1 failed\n$", err)
    end)

    it("is a whole number from 1 to 1000", function()
      for _, bad in ipairs { "0", "1001", "x", "1.5", "-1" } do
        local out, err, code = run { "archive", "--concurrency=" .. bad, EXAMPLE_ID }
        assert.are.equal(2, code)
        assert.are.equal("", out)
        assert.matches("archive: --concurrency must be a whole number from 1 to 1000", err, 1, true)
      end
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("on a terminal", function()
    it("shows done, failed and remaining on one line of stderr, updated in place", function()
      local terminal, out, code = cli.on_terminal({ "archive", EXAMPLE_ID, "env_missing", "env_selfhosted01" },
        { env = env() })
      if not terminal then
        pending("needs script(1) (util-linux) for a pseudo-terminal")
        return
      end
      assert.are.equal(1, code)
      local steps = {}
      for line in terminal:gmatch("\r\27%[K(archiving: [^\r\n\27]*)") do steps[#steps + 1] = line end
      assert.are.same({
        "archiving: 0 done, 0 failed, 3 remaining",
        "archiving: 1 done, 0 failed, 2 remaining",
        "archiving: 1 done, 1 failed, 1 remaining",
        "archiving: 2 done, 1 failed, 0 remaining",
      }, steps)
      -- the line is cleared before an error and before the summary
      assert.matches("\r\27[Kanthropic-environments: env_missing: api error 404", terminal, 1, true)
      assert.matches("\r\27%[Karchived 2 of 3 environments, 1 failed\r?\n", terminal)
      -- stdout (a file) gets the results and no terminal codes
      assert.is_nil(out:find("\27", 1, true))
      assert.matches("^archived " .. EXAMPLE_ID .. "  [^\n]*\narchived env_selfhosted01  [^\n]*\n$", out)
    end)

    it("and nothing of it when stderr is not a terminal, even with stdout on one", function()
      local out, err, code = run { "archive", EXAMPLE_ID }
      assert.are.equal(0, code)
      assert.is_nil(err:find("\27", 1, true))
      assert.is_nil(err:find("\r", 1, true))
      assert.matches("^archived ", out)
    end)
  end)
end)
