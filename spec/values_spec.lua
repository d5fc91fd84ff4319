-- How values come back and print: the fields the API documents as integers
-- are Lua integers on 5.3 and 5.4 (numbers unchanged on 5.1, 5.2 and
-- LuaJIT), JSON null is environments.null, and clients, calls and errors
-- print usefully with tostring, never with a credential.
local environments = require "anthropic.environments"
local core = require "anthropic.environments.core"
local fake = require "spec.support.fake"

local KEY = "sk-ant-values-SECRET-0123"
local ENV = "env_selfhosted01"
local ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local null = environments.null
local INTEGERS = math.type ~= nil   -- Lua 5.3 and 5.4

-- v is a whole number of the type this runtime gives the API's integers.
local function integer(expected, v)
  assert.are.equal(expected, v)
  if INTEGERS then
    assert.are.equal("integer", math.type(v))
  else
    assert.are.equal("number", type(v))
  end
end

describe("values", function()
  local server, sleeps, new_client = fake.suite(KEY)

  describe("integers", function()
    it("work_stats: depth, pending and workers_polling (blocking and async, and null kept)", function()
      server:enqueue_work(ENV, { { id = "work_1", secret = "wsecret-0123456789" } })
      local client = new_client()
      local stats = assert(client:work_stats(ENV))
      integer(1, stats.depth)
      integer(1, stats.pending)
      local body = '{"type":"work_queue_stats","depth":3,"pending":2,"oldest_queued_at":null,"workers_polling":4}'
      server:script { { status = 200, body = body } }
      local done, async = client:work_stats_async(ENV):wait(10)
      assert.is_true(done)
      integer(3, async.depth)
      integer(2, async.pending)
      integer(4, async.workers_polling)
      assert.are.equal(null, async.oldest_queued_at)
      server:script { { status = 200, body = '{"type":"work_queue_stats","depth":3,"pending":2,'
        .. '"oldest_queued_at":null,"workers_polling":null}' } }
      stats = assert(client:work_stats(ENV))
      assert.are.equal(null, stats.workers_polling)
    end)

    it("work_heartbeat: ttl_seconds; a number that is not whole stays as it came", function()
      server:enqueue_work(ENV, { { id = "work_1", secret = "wsecret-0123456789" } })
      local client = new_client()
      local hb = assert(client:work_heartbeat(ENV, "work_1",
        { desired_ttl_seconds = 10, expected_last_heartbeat = "NO_HEARTBEAT" }))
      integer(10, hb.ttl_seconds)
      server:script { { status = 200, body = '{"type":"work_heartbeat","last_heartbeat":"x","lease_extended":true,'
        .. '"state":"active","ttl_seconds":7.5}' } }
      hb = assert(client:work_heartbeat(ENV, "work_1", { expected_last_heartbeat = "x" }))
      assert.are.equal(7.5, hb.ttl_seconds)
      if INTEGERS then assert.are.equal("float", math.type(hb.ttl_seconds)) end
    end)

    it("client:many gives the same integers", function()
      local results = assert(new_client():many { { "work_stats", ENV, key = "s" } })
      integer(0, results.s.depth)
    end)

    it("other numbers come as the decoder gives them (floats on 5.3 and 5.4 with Debian's lua-cjson)", function()
      local v = core.decode('{"n": 3}')
      assert.are.equal(3, v.n)
    end)
  end)

  describe("tostring", function()
    it("a client: base URL, transport, whether it has credentials; never the key", function()
      local client = new_client()
      local s = tostring(client)
      assert.are.equal("anthropic.environments client " .. server.url .. " (transport curl, credentials set)", s)
      assert.is_nil(s:find(KEY, 1, true))
      local bare = environments.new { base_url = server.url .. "/prefix/" }
      assert.matches("^anthropic.environments client http://127%.0%.0%.1:%d+/prefix %(transport %a+, "
        .. (bare:has_credentials() and "credentials set" or "no credentials") .. "%)$", tostring(bare))
      client:close()
      assert.matches(", closed%)$", tostring(client))
    end)

    it("a call: method, URL, state and attempt, through pending, retry, done and failed", function()
      server:script { { status = 503, headers = { ["retry-after"] = "30" } }, { status = 404 } }
      local client = new_client { max_retries = 2 }
      local url = server.url .. "/v1/environments/" .. ID .. "/archive"
      local c = client:archive_async(ID)
      assert.are.equal("anthropic.environments call POST " .. url .. ": pending (attempt 1)", tostring(c))
      -- until the 503 is in: the call then waits 30 s to retry
      local deadline = core.now() + 10
      while not c.retry_at and core.now() < deadline do
        client:drive(0.05)
        c:poll()
      end
      assert.matches("^anthropic.environments call POST " .. url:gsub("%p", "%%%0")
        .. ": retry in [23]%d%.%d s %(attempt 1%)$", tostring(c))
      local done, _, err = c:wait()   -- the fake client's sleep takes no time
      assert.is_true(done)
      assert.are.equal(404, err.status)
      assert.are.equal("anthropic.environments call POST " .. url .. ": failed api 404 (attempt 2)", tostring(c))
      assert.are.equal(1, #sleeps)
      assert.is_true(sleeps[1] > 29 and sleeps[1] <= 30, tostring(sleeps[1]))
      local ok = client:retrieve_async("env_selfhosted01")
      ok:wait()
      assert.are.equal("anthropic.environments call GET " .. server.url .. "/v1/environments/env_selfhosted01"
        .. ": done ok (attempt 1)", tostring(ok))
      for _, v in ipairs { c, ok } do assert.is_nil(tostring(v):find(KEY, 1, true)) end
    end)

    it("an error names its reason", function()
      local errors = require "anthropic.environments.errors"
      assert.are.equal("anthropic.environments: connection error (tls_certificate): certificate has expired",
        tostring(errors.new("connection", { reason = "tls_certificate", message = "certificate has expired" })))
    end)
  end)
end)
