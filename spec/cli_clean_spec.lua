-- Nothing the API or the command line sends reaches the terminal with its
-- control characters: C0 (ESC included) and C1 controls, DEL, the
-- bidirectional overrides and isolates, and bytes that are not UTF-8 are
-- shown as "?" in readable output, in error messages, in usage errors and
-- in ANTHROPIC_LOG=debug's lines (the request id is the server's text);
-- --json output escapes them.
local fake = require "spec.support.fake"
local cli = require "spec.support.cli"
local cjson = require "cjson"

local KEY = "sk-cli-clean"
local ESC, CSI8 = "\27", "\194\155"                     -- ESC, and U+009B (C1 CSI) in UTF-8
local RLO, LRI, PDI = "\226\128\174", "\226\129\166", "\226\129\169"   -- U+202E, U+2066, U+2069
local NEL, RAW = "\194\133", "\155"                      -- U+0085 (C1), and a byte that is not UTF-8
local BAD = { ESC, CSI8, RLO, LRI, PDI, NEL, RAW, "\127", "\7", "\r" }

-- No dangerous byte sequence in s (a raw 0x9B also means CSI to an 8-bit
-- terminal; in clean UTF-8 output it can only follow a lead byte).
local function assert_clean(s, what)
  for _, bad in ipairs(BAD) do
    if bad == RAW then
      assert.is_nil(s:find("[^\194-\244\128-\191]\155"), what)
    else
      assert.is_nil(s:find(bad, 1, true), (what or "") .. ": " .. s)
    end
  end
end

describe("the command-line tool's cleaning of what it prints", function()
  local server

  setup(function() server = fake.start() end)
  teardown(function() server:stop() end)
  before_each(function() server:reset() end)

  local function run(args, opts)
    opts = opts or {}
    opts.env = (opts.env or "") .. " ANTHROPIC_API_KEY=" .. KEY .. " ANTHROPIC_BASE_URL=" .. server.url
    return cli.run(args, opts)
  end

  local EVIL_NAME = "ev" .. ESC .. "[31mil" .. CSI8 .. "2J" .. RLO .. "txt." .. LRI .. "exe" .. PDI .. NEL .. RAW
  local function put_evil()
    server:put_environment { id = "env_evil", name = EVIL_NAME, type = "environment",
      archived_at = cjson.null, description = "caf\195\169 \226\128\142ok" .. "\127",
      metadata = { ["k" .. RLO] = "v" .. CSI8 },
      created_at = "2026-01-01T00:00:00Z", updated_at = "2026-01-01T00:00:00Z",
      config = { type = "cloud", networking = { type = "limited", allowed_hosts = { "a" .. ESC .. "b", "c" .. NEL } } } }
  end

  it("shows C0, C1, DEL, bidirectional controls and non-UTF-8 bytes in fields as ?", function()
    put_evil()
    local out, err, code = run { "get", "env_evil" }
    assert.are.equal(0, code, err)
    assert_clean(out)
    assert.matches("\nname              ev?[31mil?2J?txt.?exe???\n", out, 1, true)
    -- other characters, in and out of the Latin range, stay
    assert.matches("\ndescription       caf\195\169 ?ok?\n", out, 1, true)
    assert.matches("\nmetadata          k?=v?\n", out, 1, true)
    assert.matches("\nallowed hosts     a?b, c?\n", out, 1, true)
    out = run { "list" }
    assert_clean(out)
    assert.matches("\nenv_evil  +ev%?%[31mil%?2J%?txt%.%?exe%?%?%?  ", out)
  end)

  it("--json escapes them, keeping the values", function()
    put_evil()
    local out, err, code = run { "get", "env_evil", "--json" }
    assert.are.equal(0, code, err)
    assert_clean((out:gsub("\195\169", "")))
    assert.matches("\\u001b[31mil\\u009b2J\\u202etxt.\\u2066exe\\u2069\\u0085", out, 1, true)
    assert.matches("\\u007f", out, 1, true)
    assert.matches("\\u0085\\ufffd\"", out, 1, true)   -- JSON text is UTF-8: a stray byte is U+FFFD
    local env = cjson.decode(out)
    assert.are.equal(EVIL_NAME:gsub(RAW .. "$", "\239\191\189"), env.name)
    assert.are.equal("v" .. CSI8, env.metadata["k" .. RLO])
  end)

  it("cleans the API's error message and request id, and ANTHROPIC_LOG=debug's lines", function()
    local rid = "req_" .. ESC .. "]0;pwned" .. "\7" .. CSI8 .. RLO
    local body = cjson.encode { type = "error", error = { type = "invalid_request_error",
      message = "bad " .. ESC .. "[2J" .. CSI8 .. "thing" .. LRI .. NEL } }
    server:script { { status = 400, body = body, headers = { ["request-id"] = rid } } }
    local out, err, code = run({ "get", "env_selfhosted01" }, { env = "ANTHROPIC_LOG=debug" })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert_clean(err)
    local lines = {}
    for line in err:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal(2, #lines, err)
    assert.matches("^anthropic%-environments: GET http://127%.0%.0%.1:%d+/v1/environments/env_selfhosted01 %-> 400 "
      .. "%(request%-id "
      .. "req_%?%]0;pwned%?%?%?, attempt 1, ", lines[1])
    assert.are.equal("anthropic-environments: api error 400 invalid_request_error: bad ?[2J?thing?? "
      .. "[request-id req_?]0;pwned???]", lines[2])
    -- archive's per-id error lines too
    server:script { { status = 400, body = body, headers = { ["request-id"] = rid } } }
    local _
    _, err, code = run { "archive", "env_" .. RLO .. "x" }
    assert.are.equal(1, code)
    assert_clean(err)
    assert.matches("anthropic-environments: env_?x: api error 400 invalid_request_error: bad ?[2J?thing??",
      err, 1, true)
  end)

  it("cleans the debug log of a success too", function()
    server:script { { status = 200, body = '{"data":[],"next_page":null}', headers = { ["request-id"] = "r" .. CSI8 .. RLO } } }
    local out, err, code = run({ "list" }, { env = "ANTHROPIC_LOG=debug" })
    assert.are.equal(0, code, err)
    assert.are.equal("no environments\n", out)
    assert.matches("^anthropic%-environments: GET http://127%.0%.0%.1:%d+/v1/environments%?limit=100 %-> 200 "
      .. "%(request%-id r%?%?, ", err)
    assert_clean(err)
  end)

  it("cleans the arguments echoed in usage errors", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("[1]")
    f:close()
    local cases = {
      { { "fr" .. ESC .. "ob" }, "unknown command 'fr?ob'" },
      { { "work", "fr" .. RLO .. "ob" }, "unknown work subcommand 'fr?ob'" },
      { { "help", "x" .. CSI8 }, "help: unknown command 'x?'" },
      { { "--x" .. LRI, "list" }, "unknown option '--x?' before the command" },
      { { "list", "--fr" .. CSI8 .. "ob" }, "list: unknown option '--fr?ob'" },
      { { "list", "a" .. RAW }, "list takes no arguments (got 'a?')" },
      { { "list", "--limit", "1" .. ESC }, "list: --limit must be a whole number of at least 1 (got '1?')" },
      { { "get", "env" .. ESC .. "x" }, "get: invalid id 'env?x': must not contain control characters" },
      { { "create", "--name", "x", "--metadata", "k" .. RLO .. NEL }, "create: --metadata 'k??': expected KEY=VALUE" },
      { { "create", "--name", "x", "--config", "/nonexistent/" .. ESC .. "c" }, "create: --config: cannot read /nonexistent/?c" },
      { { "create", "--name", "x", "--config", path .. "/../" .. CSI8 }, "--config: cannot read " },
      { { "create", "--name", "x", "--scope", "g" .. ESC .. "[2J" },
        "create: --scope must be 'organization' or 'account' (got 'g?[2J')" },
      { { "work", "poll", "env_x", "--worker-id", "w" .. ESC }, "work poll: --worker-id must not contain control" },
      { { "webhook", "verify", "--key", "k", "--headers", "/nonexistent/" .. RLO }, "webhook verify: --headers: cannot read /nonexistent/?" },
    }
    for _, case in ipairs(cases) do
      local out, err, code = run(case[1])
      assert.are.equal(2, code, err)
      assert.are.equal("", out)
      assert_clean(err, table.concat(case[1], " "))
      assert.matches(case[2], err, 1, true)
    end
    os.remove(path)
    assert.are.equal(0, #server:requests())
  end)
end)
