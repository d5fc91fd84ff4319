-- examples/host: a C program that embeds Lua 5.4 with the core compiled in
-- and polls an archive from a 60 Hz frame loop. Built with make, run
-- against the fake API with every request delayed 500 ms: no frame may take
-- 250 ms (one blocking call would take the whole 500). Runs once per
-- `make test`, in its LuaJIT run (see spec/support/hosts.lua).
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"

if not hosts.ONCE then return end

local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local HOST = hosts.ROOT .. "/build/host/host"
local DELAY_MS = 500

describe("examples/host, a 60 Hz frame loop", function()
  local server

  setup(function()
    hosts.build("build/host/host")
    server = fake.start()
  end)
  teardown(function() server:stop() end)
  before_each(function()
    server:reset()
    server:config { delay_ms = DELAY_MS }
  end)

  -- Runs the host program; returns stdout, stderr, exit code and the
  -- longest frame, the frame count and the whole run's time in ms.
  local function run_host(args)
    local out, err, code = hosts.run(string.format(
      "cd /tmp && env -u ANTHROPIC_AUTH_TOKEN ANTHROPIC_API_KEY=sk-host-test ANTHROPIC_BASE_URL=%s %s %s",
      hosts.shell_quote(server.url), hosts.shell_quote(HOST), args))
    local longest, frames, total = out:match("longest frame: ([%d.]+) ms %((%d+) frames, (%d+) ms in all%)")
    assert(longest, "no 'longest frame' line in:\n" .. out .. err)
    return out, err, code, tonumber(longest), tonumber(frames), tonumber(total)
  end

  it("archives without any frame taking 250 ms, and prints the environment's name", function()
    local out, err, code, longest, frames, total = run_host(EXAMPLE_ID)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("archived " .. EXAMPLE_ID .. ": python-data-analysis\n", 1, true), out)
    assert.is_true(longest < 250, "longest frame " .. longest .. " ms")
    -- The archive really was in flight across many frames.
    assert.is_true(total >= DELAY_MS, "the whole run took " .. total .. " ms")
    assert.is_true(frames >= 20, "only " .. frames .. " frames")
    local reqs = server:requests()
    assert.are.equal(1, #reqs)
    assert.are.equal("/v1/environments/" .. EXAMPLE_ID .. "/archive", reqs[1].path)
    assert.are.equal("sk-host-test", reqs[1].header_map["x-api-key"])
    assert.is_string(server:get_environment(EXAMPLE_ID).archived_at)   -- not null
  end)

  it("exits 1 with the error when the API refuses, still without a long frame", function()
    local out, err, code, longest = run_host("env_nope")
    assert.are.equal(1, code, out .. err)
    assert.truthy(err:find("api error 404 not_found_error (environment_not_found)", 1, true), err)
    assert.falsy(out:find("archived", 1, true))
    assert.is_true(longest < 250, "longest frame " .. longest .. " ms")
  end)

  it("exits 2 on a usage error or without credentials", function()
    local _, err, code = hosts.run(hosts.shell_quote(HOST))
    assert.are.equal(2, code)
    assert.truthy(err:find("usage: host", 1, true), err)
    _, err, code = hosts.run("env -u ANTHROPIC_API_KEY -u ANTHROPIC_AUTH_TOKEN "
      .. hosts.shell_quote(HOST) .. " " .. EXAMPLE_ID)
    assert.are.equal(2, code)
    assert.truthy(err:find("no credentials", 1, true), err)
  end)

  it("shows what it guards against: with the blocking call one frame takes the whole delay", function()
    local out, err, code, longest = run_host("--blocking " .. EXAMPLE_ID)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("python-data-analysis", 1, true), out)
    assert.is_true(longest >= DELAY_MS * 0.9, "longest frame " .. longest .. " ms")
  end)
end)
