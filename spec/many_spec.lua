-- client:many (any list of calls on the scheduler) and the response
-- metadata of successful calls (with_response, call:response()), and the
-- elapsed time on errors.
local environments = require "anthropic.environments"
local core = require "anthropic.environments.core"
local fake = require "spec.support.fake"

local ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-ant-many"

describe("many", function()
  local server, sleeps, new_client = fake.suite(KEY)

  local function raises(pattern, f, ...)
    local ok, msg = pcall(f, ...)
    assert.is_false(ok, "did not raise")
    assert.matches(pattern, msg, 1, true)
  end

  local function count_connections(reqs)
    local seen, n = {}, 0
    for _, r in ipairs(reqs) do
      if not seen[r.connection] then seen[r.connection], n = true, n + 1 end
    end
    return n
  end

  describe("client:many", function()
    it("runs different calls, with results and errors keyed by index or key", function()
      local seen = {}
      local results, errors, responses = new_client():many({
        { "retrieve", ID },
        { "update", "env_selfhosted01", { name = "renamed" }, key = "upd" },
        { "retrieve", "env_missing" },
        { "delete", "env_unrestricted01" },
        { "create", { name = "made" } },
        { "list", nil, { extra_query = { limit = 1 } } },
      }, { concurrency = 3, on_result = function(key, value, err, extra)
        seen[#seen + 1] = { key = key, ok = value ~= nil, err = err, extra = extra }
      end })
      assert.is_nil(responses)
      assert.are.equal(ID, results[1].id)
      assert.are.equal("renamed", results.upd.name)
      assert.is_nil(results[2])
      assert.is_nil(results[3])
      assert.are.equal(404, errors[3].status)
      assert.are.equal("env_unrestricted01", results[4].id)
      assert.are.equal("environment_deleted", results[4].type)
      assert.matches("^env_fake_", results[5].id)
      assert.are.equal(1, #results[6].data)
      assert.are.equal(6, #seen)
      local keys = {}
      for _, s in ipairs(seen) do
        keys[tostring(s.key)] = true
        assert.is_nil(s.extra)
      end
      assert.are.same({ ["1"] = true, upd = true, ["3"] = true, ["4"] = true, ["5"] = true, ["6"] = true }, keys)
      local reqs = server:requests()
      assert.are.equal(6, #reqs)
      local by_path = {}
      for _, r in ipairs(reqs) do by_path[r.method .. " " .. r.path .. (r.query ~= "" and "?" .. r.query or "")] = r end
      assert.are.equal('{"name":"renamed"}', by_path["POST /v1/environments/env_selfhosted01"].body)
      assert.are.equal('{"name":"made"}', by_path["POST /v1/environments"].body)
      assert.is_table(by_path["DELETE /v1/environments/env_unrestricted01"])
      assert.is_table(by_path["GET /v1/environments?limit=1"])
    end)

    it("keeps up to `concurrency` calls in flight, each retried on its own", function()
      server:config { delay_ms = 200 }
      server:script { { status = 529, path = "/v1/environments/" .. ID, headers = { ["retry-after-ms"] = "10" } } }
      local calls = {}
      for i = 1, 6 do calls[i] = { i % 2 == 0 and "retrieve" or "archive", ID } end
      local started = core.now()
      local results, errors = new_client():many(calls, { concurrency = 3 })
      local elapsed = core.now() - started
      for i = 1, 6 do
        assert.are.equal(ID, results[i].id)
        assert.is_nil(errors[i])
      end
      -- two waves of 200 ms (and the retry's), not six
      assert.is_true(elapsed >= 0.39 and elapsed < 1.4, tostring(elapsed))
      local reqs = server:requests()
      assert.are.equal(7, #reqs)
      assert.is_true(count_connections(reqs) <= 3, count_connections(reqs) .. " connections")
      assert.is_true(#sleeps <= 1)
    end)

    it("checks every entry before anything is sent", function()
      local client = new_client()
      local function many_raises(pattern, calls, opts)
        raises(pattern, client.many, client, calls, opts)
      end
      local good = { "retrieve", ID }
      many_raises("anthropic.environments.many: calls must be an array of calls", "x")
      many_raises("anthropic.environments.many: calls[2] must be a table { name, args... } (got string)",
        { good, "retrieve" })
      many_raises("anthropic.environments.many: calls[2][1] must name a call, such as \"retrieve\" (got 'retreive')",
        { good, { "retreive", ID } })
      many_raises("calls[2][1] must name a call, such as \"retrieve\" (got 'many')", { good, { "many", {} } })
      many_raises("anthropic.environments.many: calls[2] has an unknown field 'kye'", { good, { "retrieve", ID, kye = 1 } })
      many_raises("anthropic.environments.many: calls[3] has the key 'a' of calls[1]: keys must differ",
        { { "retrieve", ID, key = "a" }, good, { "retrieve", ID, key = "a" } })
      many_raises("calls[2] has the key 1 of calls[1]", { good, { "retrieve", ID, key = 1 } })
      many_raises("anthropic.environments.many: calls[3] (update): unknown parameter 'nmae'",
        { good, good, { "update", ID, { nmae = "x" } } })
      many_raises("anthropic.environments.many: calls[2] (retrieve): id must not be empty", { good, { "retrieve", "" } })
      many_raises("anthropic.environments.many: calls[2] (archive): unknown option 'tiemout'",
        { good, { "archive", ID, { tiemout = 1 } } })
      many_raises("anthropic.environments.many: calls[2] (delete): option 'extra_body' is for calls that send a body",
        { good, { "delete", ID, { extra_body = {} } } })
      many_raises("anthropic.environments.many: calls[1] (retrieve): option 'extra_body' is for calls that send a body",
        { good }, { extra_body = {} })
      many_raises("anthropic.environments.many: unknown option 'concurrenCy'", { good }, { concurrenCy = 1 })
      local no_key = environments.new { base_url = server.url }
      raises("anthropic.environments.many: calls[1] (retrieve): no credentials", no_key.many, no_key, { good })
      raises("call it as client:many", client.many, { good })
      assert.are.equal(0, #server:requests())
    end)

    it("gives empty tables for an empty list, sending nothing", function()
      local results, errors = new_client():many({})
      assert.are.same({}, results)
      assert.are.same({}, errors)
      assert.are.equal(0, #server:requests())
    end)

    it("cancels the calls in flight when on_result raises", function()
      server:script { { path = "/v1/environments/env_selfhosted01", delay = 2, pass = true } }
      local client = new_client()
      local ok, msg = pcall(client.many, client, { { "retrieve", ID }, { "retrieve", "env_selfhosted01" } }, {
        on_result = function(key) if key == 1 then error("stop here", 0) end end,
      })
      assert.is_false(ok)
      assert.are.equal("stop here", msg)
      assert.are.equal(0, client:drive(0))
    end)
  end)

  describe("with_response", function()
    it("gives a blocking call's status, headers, request id, attempts and elapsed time as a third value", function()
      server:script { { status = 500, path = "/v1/environments/" .. ID, headers = { ["retry-after-ms"] = "1" } } }
      local env, err, response = new_client():retrieve(ID, { with_response = true })
      assert.is_nil(err)
      assert.are.equal(ID, env.id)
      assert.are.equal(200, response.status)
      assert.matches("^req_fake_%d+$", response.request_id)
      assert.are.equal(response.request_id, response.headers["request-id"])
      assert.are.equal("application/json", response.headers["content-type"])
      assert.are.equal(2, response.attempts)
      assert.is_true(response.elapsed > 0 and response.elapsed < 5, tostring(response.elapsed))
      assert.are.equal(server:requests()[2].request_id, response.request_id)
    end)

    it("counts the time of the whole call", function()
      server:config { delay_ms = 150 }
      local page, _, response = new_client():list(nil, { with_response = true })
      assert.is_table(page.data)
      assert.is_true(response.elapsed >= 0.14, tostring(response.elapsed))
    end)

    it("changes nothing for calls without it, and nothing on failures", function()
      local client = new_client()
      assert.are.equal(2, select("#", client:retrieve(ID)))
      assert.are.equal(2, select("#", client:retrieve("env_missing", { with_response = true })))
      local env, err = client:retrieve(ID, { with_response = false })
      assert.are.equal(ID, env.id)
      assert.is_nil(err)
    end)

    it("is call:response() on an async call once it succeeded", function()
      server:config { delay_ms = 100 }
      local client = new_client()
      local call = client:archive_async(ID, { with_response = true })
      assert.is_nil(call:response())
      local done, env = call:wait()
      assert.is_true(done)
      assert.are.equal(ID, env.id)
      local response = call:response()
      assert.are.equal(200, response.status)
      assert.are.equal(1, response.attempts)
      assert.is_true(response.elapsed >= 0.09)
      assert.are.equal(response, call:response())
      local failed = client:retrieve_async("env_missing", { with_response = true })
      failed:wait()
      assert.is_nil(failed:response())
      local plain = client:retrieve_async(ID)
      plain:wait()
      raises("anthropic.environments.response: the call was started without the option with_response = true",
        plain.response, plain)
      raises("anthropic.environments.response: expected a call", plain.response, {})
    end)

    it("gives many a third table, and on_result a fourth value", function()
      local got = {}
      local results, errors, responses = new_client():many({ { "retrieve", ID }, { "retrieve", "env_missing" } },
        { with_response = true, on_result = function(key, _, _, response) got[key] = response or false end })
      assert.are.equal(ID, results[1].id)
      assert.are.equal(404, errors[2].status)
      assert.are.equal(200, responses[1].status)
      assert.is_nil(responses[2])
      assert.are.equal(responses[1], got[1])
      assert.is_false(got[2])
      local _, _, by_id = new_client():archive_many({ ID }, { with_response = true })
      assert.are.equal(200, by_id[ID].status)
    end)

    it("each refuses it (it gives environments, not responses)", function()
      local client = new_client()
      raises("anthropic.environments.each: option 'with_response' is not for each", client.each, client, nil,
        { with_response = true })
      raises("option 'with_response' must be a boolean (got number)", client.retrieve, client, ID, { with_response = 1 })
    end)
  end)

  describe("errors", function()
    it("carry the seconds since the first attempt started", function()
      server:config { delay_ms = 100 }
      server:script { { status = 529, headers = { ["retry-after-ms"] = "1" } } }
      local env, err = new_client({ max_retries = 1 }):retrieve("env_missing")
      assert.is_nil(env)
      assert.are.equal(404, err.status)
      assert.are.equal(2, err.attempts)
      assert.is_true(err.elapsed >= 0.19 and err.elapsed < 5, tostring(err.elapsed))
      local call = new_client():retrieve_async(ID)
      call:cancel()
      local _, _, cancelled = call:poll()
      assert.are.equal("cancelled", cancelled.kind)
      assert.is_true(cancelled.elapsed >= 0)
    end)
  end)
end)
