-- The `work` commands of bin/anthropic-environments, run as a process
-- against the fake's work queue: output (readable and --json), exit codes,
-- the exact requests, and a work item's secret printed only with --json.
local fake = require "spec.support.fake"
local hosts = require "spec.support.hosts"
local cjson = require "cjson"

local KEY = "sk-cli-work"
local ENV = "env_selfhosted01"
local BASE = "/v1/environments/" .. ENV .. "/work"
local SECRET = "wsecret-CLI-0123456789"
local CLI = hosts.ROOT .. "/bin/anthropic-environments"

describe("the work commands", function()
  local server

  setup(function() server = fake.start() end)
  teardown(function() server:stop() end)
  before_each(function() server:reset() end)

  -- Runs the tool; returns stdout, stderr, exit code.
  local function run(argv)
    local out, err = os.tmpname(), os.tmpname()
    local words = {}
    for i, a in ipairs(argv) do words[i] = fake.shell_quote(a) end
    local cmd = string.format("env -u LUA_PATH -u LUA_CPATH -u ANTHROPIC_AUTH_TOKEN -u ANTHROPIC_LOG "
      .. "ANTHROPIC_API_KEY=%s ANTHROPIC_BASE_URL=%s %s %s %s </dev/null >%s 2>%s; echo $?",
      KEY, server.url, fake.interpreter(), fake.shell_quote(CLI), table.concat(words, " "), out, err)
    local p = io.popen(cmd)
    local code = tonumber(p:read("*a"):match("(%d+)%s*$"))
    p:close()
    local stdout, stderr = hosts.read_file(out), hosts.read_file(err)
    os.remove(out); os.remove(err)
    return stdout, stderr, code
  end

  local function enqueue(spec)
    return server:enqueue_work(ENV, { spec or { id = "work_1", session_id = "session_1", secret = SECRET,
                                                metadata = { team = "ml" } } })[1]
  end

  local function request_line(r)
    return r.method .. " " .. r.path .. (r.query ~= "" and "?" .. r.query or "")
  end

  it("work poll prints the item with its secret hidden, and sends the flags", function()
    enqueue()
    local out, err, code = run { "work", "poll", ENV, "--block-ms", "20", "--reclaim-older-than-ms", "60000",
                                 "--worker-id", "cli-1" }
    assert.are.equal(0, code, err)
    assert.are.equal("", err)
    assert.falsy(out:find(SECRET, 1, true), out)
    assert.matches("secret          (hidden; --json shows it)\n", out, 1, true)
    assert.matches("^id%s+work_1\nstate%s+queued\nenvironment%s+env_selfhosted01\ndata%s+session session_1\n"
      .. "metadata%s+team=ml\n", out)
    local r = server:only_request()
    assert.are.equal("GET " .. BASE .. "/poll?block_ms=20&reclaim_older_than_ms=60000", request_line(r))
    assert.are.equal("cli-1", r.header_map["anthropic-worker-id"])
    assert.are.equal(KEY, r.header_map["x-api-key"])
  end)

  it("work poll --json gives the API's answer, secret included; no work is null or 'no work'", function()
    enqueue()
    local out, _, code = run { "work", "poll", ENV, "--json" }
    assert.are.equal(0, code)
    local item = cjson.decode(out)
    assert.are.same({ "work_1", SECRET, "work" }, { item.id, item.secret, item.type })
    out, _, code = run { "work", "poll", ENV, "--json" }
    assert.are.same({ "null\n", 0 }, { out, code })
    out, _, code = run { "work", "poll", ENV }
    assert.are.same({ "no work\n", 0 }, { out, code })
  end)

  it("work ack, heartbeat, get, stop: the requests and their output", function()
    enqueue()
    local out, err, code = run { "work", "ack", ENV, "work_1" }
    assert.are.equal(0, code, err)
    assert.matches("^id%s+work_1\nstate%s+starting\n", out)
    assert.falsy(out:find("secret", 1, true))
    out, err, code = run { "work", "heartbeat", ENV, "work_1", "--desired-ttl-seconds", "10" }
    assert.are.equal(0, code, err)
    local last = out:match("^last heartbeat  (%S+)\n")
    assert.truthy(last, out)
    assert.matches("\nlease extended  yes\nstate           active\nttl seconds     10\n$", out)
    out, err, code = run { "work", "heartbeat", ENV, "work_1", "--expected-last-heartbeat", last, "--json" }
    assert.are.equal(0, code, err)
    local hb = cjson.decode(out)
    assert.are.same({ "work_heartbeat", true, 30 }, { hb.type, hb.lease_extended, hb.ttl_seconds })
    out, err, code = run { "work", "get", ENV, "work_1", "--json" }
    assert.are.equal(0, code, err)
    assert.are.equal(cjson.null, cjson.decode(out).secret)
    assert.are.equal("active", cjson.decode(out).state)
    out, err, code = run { "work", "stop", ENV, "work_1", "--force" }
    assert.are.equal(0, code, err)
    assert.matches("\nstate%s+stopped\n", out)
    local lines = {}
    for i, r in ipairs(server:requests()) do lines[i] = request_line(r) .. (r.body ~= "" and " " .. r.body or "") end
    assert.are.same({
      "POST " .. BASE .. "/work_1/ack",
      "POST " .. BASE .. "/work_1/heartbeat?desired_ttl_seconds=10&expected_last_heartbeat=NO_HEARTBEAT",
      "POST " .. BASE .. "/work_1/heartbeat?expected_last_heartbeat=" .. last:gsub(":", "%%3A"),
      "GET " .. BASE .. "/work_1",
      "POST " .. BASE .. "/work_1/stop {\"force\":true}",
    }, lines)
  end)

  it("work list and work stats", function()
    for i = 1, 3 do enqueue { id = "work_" .. i, session_id = "session_" .. i } end
    local out, err, code = run { "work", "list", ENV, "--limit", "2" }
    assert.are.equal(0, code, err)
    assert.matches("^ID%s+STATE%s+DATA%s+CREATED%s+LAST HEARTBEAT\nwork_3%s+queued%s+session session_3%s+%S+%s+%-\n"
      .. "work_2%s+queued", out)
    assert.are.equal(3, select(2, out:gsub("\n", "")))
    local _
    out, _, code = run { "work", "list", ENV, "--json" }
    assert.are.equal(0, code)
    assert.are.same({ "work_3", "work_2", "work_1" }, (function()
      local ids = {}
      for i, item in ipairs(cjson.decode(out)) do ids[i] = item.id end
      return ids
    end)())
    out, _, code = run { "work", "stats", ENV }
    assert.are.equal(0, code)
    assert.matches("^depth%s+3\npending%s+3\noldest queued%s+%S+\nworkers polling%s+%-\n$", out)
    out = run { "work", "stats", ENV, "--json" }
    assert.are.equal("work_queue_stats", cjson.decode(out).type)
    local lines = {}
    for i, r in ipairs(server:requests()) do lines[i] = request_line(r) end
    assert.are.same({ "GET " .. BASE .. "?limit=2", "GET " .. BASE .. "?limit=100", "GET " .. BASE .. "/stats",
                      "GET " .. BASE .. "/stats" }, lines)
    server:reset()
    assert.are.same({ "no work items\n", "", 0 }, { run { "work", "list", ENV } })
  end)

  it("exits 1 with the API's error (a stale heartbeat, an unknown item)", function()
    enqueue()
    local out, err, code, _ = run { "work", "heartbeat", ENV, "work_1", "--expected-last-heartbeat", "2020-01-01T00:00:00Z" }
    assert.are.same({ "", 1 }, { out, code })
    assert.matches("api error 412 invalid_request_error", err, 1, true)
    _, err, code = run { "work", "get", ENV, "work_nope" }
    assert.are.equal(1, code)
    assert.matches("api error 404 not_found_error", err, 1, true)
  end)

  it("work update sends --metadata as the body (KEY= as null, which deletes it) and prints the item", function()
    enqueue()
    local out, err, code = run { "work", "update", ENV, "work_1", "--metadata", "team=", "--metadata", "stage=b=c" }
    assert.are.equal(0, code, err)
    assert.are.equal("", err)
    local r = server:only_request()
    assert.are.equal("POST " .. BASE .. "/work_1", request_line(r))
    assert.are.equal("application/json", r.header_map["content-type"])
    assert.are.equal('{"metadata":{"stage":"b=c","team":null}}', r.body)
    assert.matches("^id%s+work_1\nstate%s+queued\n", out)
    assert.matches("\nmetadata%s+stage=b=c\n", out)
    assert.falsy(out:find(SECRET, 1, true))
    out, err, code = run { "--json", "work", "update", ENV, "work_1", "--metadata=team=ml" }
    assert.are.equal(0, code, err)
    local item = cjson.decode(out)
    assert.are.same({ stage = "b=c", team = "ml" }, item.metadata)
    assert.are.equal(cjson.null, item.secret)
    local _, err3, code3 = run { "work", "update", ENV, "work_nope", "--metadata", "a=b" }
    assert.are.equal(1, code3)
    assert.matches("api error 404 not_found_error", err3, 1, true)
  end)

  it("exits 2 for usage errors, before any request, and lists the commands in --help", function()
    local cases = {
      { { "work" }, "work needs a subcommand: ack, get, heartbeat, list, poll, stats, stop and update" },
      { { "work", "frob", ENV }, "unknown work subcommand 'frob' (work has ack, get, heartbeat, list, poll, stats, "
        .. "stop and update)" },
      { { "work", "poll" }, "work poll: missing ENV_ID (see anthropic-environments work poll --help)" },
      { { "work", "ack" }, "work ack: missing ENV_ID and WORK_ID" },
      { { "work", "ack", ENV }, "work ack: missing WORK_ID" },
      { { "work", "ack", ENV, "w", "x" }, "work ack takes only ENV_ID and WORK_ID (got 3 arguments)" },
      { { "work", "stats", ENV, "x" }, "work stats takes one ENV_ID (got 2 arguments)" },
      { { "work", "poll", ENV, "--block-ms", "0" }, "work poll: --block-ms must be a whole number from 1 to 999" },
      { { "work", "poll", ENV, "--block-ms", "1000" }, "--block-ms must be a whole number from 1 to 999" },
      { { "work", "list", ENV, "--limit", "x" }, "--limit must be a whole number" },
      { { "work", "stop", ENV, "work_1", "--force=yes" }, "--force takes no value" },
      { { "work", "get", ENV, "stats" }, "work get: WORK_ID must not be 'stats' (that is another route" },
      { { "work", "poll", ENV, "--worker-id", "" }, "work poll: --worker-id must not be empty" },
      { { "work", "poll", ENV, "--worker-id", "a\tb\27" }, "work poll: --worker-id must not contain" },
      { { "work", "update", ENV, "w" }, "work update: nothing to change (give --metadata KEY=VALUE)" },
      { { "work", "update", ENV, "w", "--metadata", "x" }, "work update: --metadata 'x': expected KEY=VALUE" },
      { { "work", "get", "..", "work_1" }, "work get: invalid ENV_ID '..': must not be '..'" },
      { { "work", "stop", ENV, "" }, "work stop: invalid WORK_ID '': must not be empty" },
      { { "work", "heartbeat", ENV, "w", "--expected-last-heartbeat", "" },
        "work heartbeat: --expected-last-heartbeat must not be empty" },
      { { "work", "heartbeat", ENV, "w", "--desired-ttl-seconds", "0" }, "--desired-ttl-seconds must be a whole number" },
    }
    for _, case in ipairs(cases) do
      local out, err, code = run(case[1])
      assert.are.equal(2, code, table.concat(case[1], " "))
      assert.are.equal("", out)
      assert.matches(case[2], err, 1, true)
      assert.is_nil(err:find("work_poll", 1, true), err)
      assert.is_nil(err:find("anthropic.environments", 1, true), err)
    end
    assert.are.equal(0, #server:requests())
    local out, _, code = run { "--help" }
    assert.are.equal(0, code)
    for _, word in ipairs { "work poll ENV_ID", "work ack ENV_ID WORK_ID", "work heartbeat ENV_ID WORK_ID",
                            "work stop ENV_ID WORK_ID [--force]", "work get", "work update ENV_ID WORK_ID --metadata",
                            "work list ENV_ID", "work stats ENV_ID" } do
      assert.matches(word, out, 1, true)
    end
  end)
end)
