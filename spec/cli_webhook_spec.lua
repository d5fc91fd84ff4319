-- `anthropic-environments webhook verify` run as a process: deliveries
-- signed by the openssl command (never by the code under test), read from
-- files or stdin, checked offline with the key from --key or the
-- environment; its output and exit codes.
local cli = require "spec.support.cli"
local hosts = require "spec.support.hosts"
local vectors = require "spec.support.webhook"
local cjson = require "cjson"

local format = string.format

local SECRET = vectors.SECRET
local OTHER = vectors.OTHER
local ID = vectors.ID
local BODY = vectors.BODY

local sign = vectors.sign

-- The header block of a delivery signed now (plus `offset` seconds).
local function header_block(opts)
  opts = opts or {}
  local timestamp = tostring(os.time() + (opts.offset or 0))
  local signature = sign(opts.secret or SECRET, ID, timestamp, opts.signed_body or opts.body or BODY)
  return format("POST /hooks/environments HTTP/1.1%sHost: example.com%swebhook-id: %s%s"
    .. "Webhook-Timestamp: %s%swebhook-signature: v1,bm90LXRoaXMtb25l %s%sContent-Type: application/json%s",
    opts.eol or "\r\n", opts.eol or "\r\n", ID, opts.eol or "\r\n", timestamp, opts.eol or "\r\n", signature,
    opts.eol or "\r\n", opts.eol or "\r\n")
end

local function temp(text)
  local name = os.tmpname()
  hosts.write_file(name, text)
  return name
end

local function run(args, stdin, key_env)
  return cli.run(args, { stdin = stdin, env = key_env ~= false and ("ANTHROPIC_WEBHOOK_SIGNING_KEY=" .. (key_env or SECRET)) or "" })
end

describe("the command-line tool's webhook verify", function()
  it("verifies a whole delivery from stdin and prints a summary, with no API credentials", function()
    local out, err, code = run({ "webhook", "verify" }, header_block() .. "\r\n" .. BODY)
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.are.equal(table.concat({
      "event         wevt_01",
      "type          environment.archived",
      "environment   env_011CZkZ9X2dpNyB7HsEFoRfW",
      "organization  org_01",
      "workspace     wrkspc_01",
      "created       2026-04-01T00:00:00Z",
    }, "\n") .. "\n", out)
  end)

  it("reads --headers FILE and --body FILE (or the body from stdin); --json prints the event", function()
    local headers, body = temp(header_block { eol = "\n" }), temp(BODY)
    local out, err, code = run { "webhook", "verify", "--headers", headers, "--body", body, "--json" }
    assert.are.equal(0, code, err)
    assert.are.same(cjson.decode(BODY), cjson.decode(out))
    out, err, code = run({ "webhook", "verify", "--headers", headers, "--json" }, BODY)
    assert.are.equal(0, code, err)
    assert.are.same(cjson.decode(BODY), cjson.decode(out))
    out, err, code = run({ "webhook", "verify", "--headers", "-", "--body", body }, header_block())
    assert.are.equal(0, code, err)
    assert.matches("^event ", out)
    os.remove(headers); os.remove(body)
  end)

  it("takes the key from --key over the environment", function()
    local delivery = header_block { secret = OTHER } .. "\r\n" .. BODY
    local _, _, code = run({ "webhook", "verify", "--key", OTHER }, delivery)
    assert.are.equal(0, code)
    local _, err = run({ "webhook", "verify" }, delivery)
    assert.matches("not authentic", err, 1, true)
  end)

  it("exits 1 with the reason when the delivery is not authentic", function()
    local cases = {
      { header_block() .. "\r\n" .. BODY:gsub("archived", "deleted"), "not authentic: .-%(bad_signature%)" },
      { header_block { secret = OTHER } .. "\r\n" .. BODY, "not authentic: .-%(bad_signature%)" },
      { header_block { offset = -1000 } .. "\r\n" .. BODY, "not authentic: .-%(timestamp_too_old%)" },
      { header_block { offset = 1000 } .. "\r\n" .. BODY, "not authentic: .-%(timestamp_in_future%)" },
      { "webhook-id: x\n\n" .. BODY, "not authentic: .-webhook%-timestamp.-%(missing_header%)" },
      { header_block { body = "not json" } .. "\r\n" .. "not json", "authentic, but .-%(invalid_json%)" },
    }
    for _, case in ipairs(cases) do
      local out, err, code = run({ "webhook", "verify" }, case[1])
      assert.are.equal(1, code, err)
      assert.are.equal("", out)
      assert.matches("^anthropic%-environments: webhook verify: " .. case[2] .. "\n$", err)
    end
  end)

  it("--tolerance widens the window", function()
    local delivery = header_block { offset = -1000 } .. "\r\n" .. BODY
    local _, err, code = run({ "webhook", "verify", "--tolerance", "2000" }, delivery)
    assert.are.equal(0, code, err)
  end)

  it("exits 2 for usage errors and 3 without a valid key", function()
    local delivery = header_block() .. "\r\n" .. BODY
    local cases = {
      { { "webhook" }, 2, "webhook needs a subcommand: verify" },
      { { "webhook", "verify", "--tolerance", "0" }, 2, "--tolerance must be a whole number from 1 to 1000000000" },
      { { "webhook", "verify", "--tolerance", "soon" }, 2, "--tolerance must be a whole number" },
      { { "webhook", "verify", "--body", "/nonexistent/body" }, 2, "webhook verify: --body: cannot read" },
      { { "webhook", "verify", "--headers", "-" }, 2, "only one of --headers and --body can read stdin" },
      { { "webhook", "verify", "--key", "" }, 2, "--key must not be empty" },
      { { "webhook", "verify", "extra" }, 2, "webhook verify takes no arguments" },
      { { "webhook", "verify", "--key", "whsec_***" }, 3, "webhook verify: " },
    }
    for _, case in ipairs(cases) do
      local out, err, code = run(case[1], delivery)
      assert.are.equal(case[2], code, err)
      assert.are.equal("", out)
      assert.matches(case[3], err, 1, true)
    end
    local _, err, code = run({ "webhook", "verify" }, delivery, false)
    assert.are.equal(3, code)
    assert.are.equal("anthropic-environments: webhook verify: no signing key: set "
      .. "ANTHROPIC_WEBHOOK_SIGNING_KEY or give --key\n", err)
    _, err, code = run({ "webhook", "verify" }, BODY)
    assert.are.equal(2, code)
    assert.matches("no empty line between the headers and the body", err, 1, true)
    _, err, code = run({ "webhook", "verify" }, "webhook-id x\n\n" .. BODY)
    assert.are.equal(2, code)
    assert.matches("webhook verify: the headers: line 1 is not a 'Name: value' header", err, 1, true)
  end)

  it("never shows the key", function()
    local _, err = run({ "webhook", "verify", "--key", OTHER }, header_block() .. "\r\n" .. BODY)
    assert.is_nil(err:find(OTHER:sub(7), 1, true))
    _, err = run({ "webhook", "verify", "--key", "whsec_not base64!" }, header_block() .. "\r\n" .. BODY)
    assert.is_nil(err:find("not base64", 1, true))
  end)
end)
