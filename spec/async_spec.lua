-- Calls that never block: archive_async with poll/wait/cancel/__gc, retries
-- as timers, archive_many, and the hooks external event loops use.
local environments = require "anthropic.environments"
local core = require "anthropic.environments.core"
local fake = require "spec.support.fake"

local ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-ant-async"

describe("async", function()
  local server, sleeps, new_client = fake.suite(KEY)

  -- Polls until done; returns the results, the number of polls and the
  -- longest single poll in seconds. Bounded so that a bug cannot hang.
  local function poll_until_done(call, limit)
    local polls, longest, deadline = 0, 0, core.now() + (limit or 10)
    while core.now() < deadline do
      local started = core.now()
      local done, value, err = call:poll()
      longest = math.max(longest, core.now() - started)
      polls = polls + 1
      if done then return value, err, polls, longest end
      core.sleep(0.002)
    end
    error("the call did not finish in time")
  end

  describe("archive_async", function()
    it("returns at once and never blocks in poll, then gives the environment", function()
      server:config { delay_ms = 300 }
      local client = new_client()
      local started = core.now()
      local call = client:archive_async(ID)
      assert.is_true(core.now() - started < 0.1)
      assert.is_false(call:poll())
      local env, err, polls, longest = poll_until_done(call)
      assert.is_nil(err)
      assert.are.equal(ID, env.id)
      assert.is_true(polls > 10, "polled " .. polls .. " times")
      assert.is_true(longest < 0.05, string.format("a poll took %.3f s", longest))
      -- done stays done, with the same answer
      local done, again = call:poll()
      assert.is_true(done)
      assert.are.equal(env, again)
      assert.are.equal(1, #server:requests())
    end)

    it("sends exactly what the blocking call sends", function()
      local client = new_client { betas = { "files-api-2025-04-14" } }
      assert(client:archive(ID))
      local _, env = client:archive_async(ID, { workspace_id = "wrkspc_1" }):wait()
      assert.are.equal(ID, env.id)
      local reqs = server:requests()
      assert.are.equal(reqs[1].method, reqs[2].method)
      assert.are.equal(reqs[1].path, reqs[2].path)
      assert.are.equal(reqs[1].header_map["anthropic-beta"], reqs[2].header_map["anthropic-beta"])
      assert.are.equal("wrkspc_1", reqs[2].header_map["anthropic-workspace-id"])
      assert.are.equal(reqs[1].connection, reqs[2].connection)
    end)

    it("wait(timeout) gives false when time runs out, and the call goes on", function()
      server:config { delay_ms = 600 }
      local call = new_client():archive_async(ID)
      local started = core.now()
      assert.is_false(call:wait(0.1))
      local elapsed = core.now() - started
      assert.is_true(elapsed >= 0.09 and elapsed < 0.5, tostring(elapsed))
      local done, env = call:wait(5)
      assert.is_true(done)
      assert.are.equal(ID, env.id)
    end)

    it("gives API errors as the blocking call does", function()
      local done, env, err = new_client():archive_async("env_missing"):wait()
      assert.is_true(done)
      assert.is_nil(env)
      assert.are.equal("api", err.kind)
      assert.are.equal(404, err.status)
      assert.are.equal("environment_not_found", err.error_code)
      assert.are.equal(1, err.attempts)
    end)

    it("retries on timers inside poll, never through sleep", function()
      server:script { { status = 500, headers = { ["retry-after-ms"] = "150" } },
                      { status = 529, headers = { ["retry-after-ms"] = "150" } } }
      local call = new_client():archive_async(ID)
      local started = core.now()
      local env, err, _, longest = poll_until_done(call)
      assert.is_nil(err)
      assert.are.equal(ID, env.id)
      assert.are.same({}, sleeps)
      assert.is_true(core.now() - started >= 0.29)
      assert.is_true(longest < 0.05, string.format("a poll took %.3f s", longest))
      assert.are.equal(3, #server:requests())
    end)

    it("reports a connection failure after its retries", function()
      local client = environments.new { base_url = "http://127.0.0.1:1", api_key = KEY, max_retries = 1 }
      local call = client:archive_async(ID)
      local env, err = poll_until_done(call)
      assert.is_nil(env)
      assert.are.equal("connection", err.kind)
      assert.are.equal(2, err.attempts)
    end)

    it("cancel stops the call, frees its request, and the client goes on", function()
      server:config { delay_ms = 2000 }
      local client = new_client()
      local call = client:archive_async(ID)
      assert.is_false(call:poll())
      assert.are.equal(1, client:drive(0))
      call:cancel()
      assert.are.equal(0, client:drive(0))
      local done, env, err = call:poll()
      assert.is_true(done)
      assert.is_nil(env)
      assert.are.equal("cancelled", err.kind)
      call:cancel()   -- again: nothing happens
      server:config {}
      assert(client:archive(ID))
    end)

    it("a call dropped while in flight is freed by the garbage collector", function()
      server:config { delay_ms = 2000 }
      local client = new_client()
      client:archive_async(ID)   -- the call is dropped at once
      assert.are.equal(1, client:drive(0))
      collectgarbage()
      collectgarbage()
      assert.are.equal(0, client:drive(0))
    end)

    it("closing the client ends the calls in flight as cancelled", function()
      server:config { delay_ms = 2000 }
      local client = new_client()
      local call = client:archive_async(ID)
      assert.is_false(call:poll())
      client:close()
      local done, env, err = call:poll()
      assert.is_true(done)
      assert.is_nil(env)
      assert.are.equal("cancelled", err.kind)
      assert.are.equal("the client was closed", err.message)
      assert.are.equal(1, err.attempts)
      assert.has_error(function() client:archive_async(ID) end, "anthropic.environments.archive_async: client is closed")
    end)

    it("resolves a host name without blocking poll", function()
      server:config { delay_ms = 200 }
      local client = new_client { base_url = server.url:gsub("127%.0%.0%.1", "localhost") }
      local env, err, _, longest = poll_until_done(client:archive_async(ID))
      assert.is_nil(err)
      assert.are.equal(ID, env.id)
      assert.is_true(longest < 0.05, string.format("a poll took %.3f s", longest))
      assert.matches("^localhost:", server:requests()[1].header_map.host)
    end)

    it("checks its arguments like archive", function()
      local client = new_client()
      assert.has_error(function() client:archive_async("") end, "anthropic.environments.archive_async: id must not be empty")
      assert.has_error(function() client:archive_async(ID, { speed = 1 }) end,
        "anthropic.environments.archive_async: unknown option 'speed'")
    end)
  end)

  describe("archive_many", function()
    it("archives a list with per-id results and errors, each unique id once", function()
      server:script { { status = 500, path = "/v1/environments/env_selfhosted01/archive",
                        headers = { ["retry-after-ms"] = "50" } } }
      local seen = {}
      local ids = { ID, "env_missing", "env_selfhosted01", ID, "env_unrestricted01" }
      local results, errors = new_client():archive_many(ids, {
        concurrency = 2,
        on_result = function(id, env, err) seen[#seen + 1] = { id = id, ok = env ~= nil, err = err } end,
      })
      assert.are.equal(ID, results[ID].id)
      assert.are.equal("env_selfhosted01", results["env_selfhosted01"].id)
      assert.are.equal("env_unrestricted01", results["env_unrestricted01"].id)
      assert.is_nil(results["env_missing"])
      assert.are.equal(404, errors["env_missing"].status)
      assert.is_nil(errors[ID])
      assert.are.equal(4, #seen)
      -- 4 unique ids, plus one retry of the scripted 500
      local reqs = server:requests()
      assert.are.equal(5, #reqs)
      local per_path = {}
      for _, r in ipairs(reqs) do per_path[r.path] = (per_path[r.path] or 0) + 1 end
      assert.are.equal(2, per_path["/v1/environments/env_selfhosted01/archive"])
      assert.are.equal(1, per_path["/v1/environments/" .. ID .. "/archive"])
      -- the retry's 50 ms were waited through the sleep option at most once
      -- (not at all when another request was in flight meanwhile)
      assert.is_true(#sleeps <= 1)
      if sleeps[1] then assert.is_true(sleeps[1] > 0 and sleeps[1] <= 0.05) end
    end)

    it("keeps up to `concurrency` requests in flight on reused connections", function()
      server:config { delay_ms = 200 }
      local ids = {}
      for i = 1, 8 do
        local id = "env_many_" .. i
        server:put_environment { id = id, name = id, type = "environment", archived_at = environments.null,
          created_at = "2026-01-01T00:00:00Z", updated_at = "2026-01-01T00:00:00Z", description = "",
          metadata = {}, config = { type = "self_hosted" } }
        ids[i] = id
      end
      local client = new_client()
      local started = core.now()
      local results = client:archive_many(ids, { concurrency = 4 })
      local elapsed = core.now() - started
      for _, id in ipairs(ids) do assert.are.equal(id, results[id].id) end
      -- two waves of 200 ms, not eight
      assert.is_true(elapsed >= 0.39 and elapsed < 1.2, tostring(elapsed))
      local connections = {}
      for _, r in ipairs(server:requests()) do connections[r.connection] = true end
      local n = 0
      for _ in pairs(connections) do n = n + 1 end
      assert.is_true(n <= 4, n .. " connections")

      server:reset()
      server:config { delay_ms = 200 }
      for _, id in ipairs(ids) do
        server:put_environment { id = id, name = id, type = "environment", archived_at = environments.null,
          created_at = "2026-01-01T00:00:00Z", updated_at = "2026-01-01T00:00:00Z", description = "",
          metadata = {}, config = { type = "self_hosted" } }
      end
      started = core.now()
      client:archive_many(ids, { concurrency = 8 })
      elapsed = core.now() - started
      assert.is_true(elapsed >= 0.19 and elapsed < 0.8, tostring(elapsed))
    end)

    it("passes the call options to every request", function()
      new_client():archive_many({ ID, "env_selfhosted01" }, { max_retries = 0, workspace_id = "wrkspc_m" })
      for _, r in ipairs(server:requests()) do
        assert.are.equal("wrkspc_m", r.header_map["anthropic-workspace-id"])
      end
    end)

    it("an error raised by on_result cancels the rest and propagates", function()
      server:config { delay_ms = 100 }
      local client = new_client()
      assert.has_error(function()
        client:archive_many({ ID, "env_selfhosted01", "env_unrestricted01" }, {
          concurrency = 1,
          on_result = function() error("stop here", 0) end,
        })
      end, "stop here")
      collectgarbage()
      assert.are.equal(0, client:drive(0))
    end)

    it("gives empty tables for an empty list", function()
      local results, errors = new_client():archive_many({})
      assert.are.same({}, results)
      assert.are.same({}, errors)
      assert.are.equal(0, #server:requests())
    end)

    it("checks its arguments", function()
      local client = new_client()
      assert.has_error(function() client:archive_many("env_1") end,
        "anthropic.environments.archive_many: ids must be an array of ids")
      assert.has_error(function() client:archive_many({ ID, 7 }) end,
        "anthropic.environments.archive_many: ids[2] must be a string (got number)")
      assert.has_error(function() client:archive_many({ ID }, { concurrency = 0 }) end,
        "anthropic.environments.archive_many: option 'concurrency' must be a whole number from 1 to 1000")
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("external event loops", function()
    it("client:fds gives the sockets and timer to wait on while a call is in flight", function()
      server:config { delay_ms = 300 }
      local client = new_client()
      local call = client:archive_async(ID)
      local sockets, timeout
      for _ = 1, 50 do   -- until the connection is up
        client:drive(0.01)
        sockets, timeout = client:fds()
        if #sockets > 0 then break end
      end
      assert.is_true(#sockets >= 1)
      assert.is_number(sockets[1].fd)
      assert.is_boolean(sockets[1].read)
      assert.is_true(timeout == nil or timeout >= 0)
      assert.is_true(call:wait(5))
    end)

    it("call:next_timer tells when a waiting retry is due", function()
      server:script { { status = 503, headers = { ["retry-after-ms"] = "400" } } }
      local call = new_client():archive_async(ID)
      assert.is_nil(call:next_timer())
      for _ = 1, 200 do
        call:poll()
        if call:next_timer() then break end
        core.sleep(0.005)
      end
      local t = call:next_timer()
      assert.is_true(t > 0.2 and t <= 0.4, tostring(t))
      assert.is_true(call:wait(5))
    end)

    it("examples/luv_loop.lua archives from a libuv loop", function()
      server:script { { status = 500, path = "/v1/environments/env_selfhosted01/archive",
                        headers = { ["retry-after-ms"] = "100" } } }
      server:config { delay_ms = 100 }
      local lua = fake.interpreter()
      local cmd = string.format("ANTHROPIC_API_KEY=%s ANTHROPIC_BASE_URL=%s %s -e %s examples/luv_loop.lua %s env_selfhosted01 env_nope 2>&1",
        KEY, server.url, lua, fake.shell_quote("package.path = " .. string.format("%q", package.path)
          .. "; package.cpath = " .. string.format("%q", package.cpath)), ID)
      local p = io.popen(cmd)
      local out = p:read("*a")
      local _, _, code = p:close()
      assert.matches(ID .. " archived at 20", out, 1, true)
      assert.matches("env_selfhosted01 archived at 20", out, 1, true)
      assert.matches("env_nope failed: .*404", out)
      if code then assert.are.equal(1, code) end   -- Lua 5.1's close gives no code
      assert.are.equal(4, #server:requests())
    end)
  end)
end)
