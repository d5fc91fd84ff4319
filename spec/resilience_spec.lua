-- Every failure the network or the API can produce ends in a clear nil, err
-- within a bounded time, with the exact number of attempts the official
-- SDKs would make, and the host process intact.
local environments = require "anthropic.environments"
local core = require "anthropic.environments.core"
local retry = require "anthropic.environments.retry"
local fake = require "spec.support.fake"
local socket = require "socket"

local ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-ant-resilience-SECRET"

describe("resilience", function()
  local server, sleeps, new_client = fake.suite(KEY)

  -- Runs f and returns its results plus the elapsed seconds.
  local function timed(f, ...)
    local started = core.now()
    local a, b = f(...)
    return a, b, core.now() - started
  end

  local function assert_no_secret(err)
    assert.is_nil(tostring(err):find(KEY, 1, true))
    assert.is_nil((err.message or ""):find(KEY, 1, true))
  end

  describe("retries", function()
    it("waits retry-after-ms after a 429, then succeeds", function()
      server:script { { status = 429, headers = { ["retry-after-ms"] = "250" } } }
      local env, err = new_client():archive(ID)
      assert.is_nil(err)
      assert.are.equal(ID, env.id)
      assert.are.equal(1, #sleeps)
      assert.is_true(math.abs(sleeps[1] - 0.25) < 0.01, tostring(sleeps[1]))
      assert.are.equal(2, #server:requests())
    end)

    it("retries 500 twice with backoff and jitter, then succeeds", function()
      server:script { { status = 500 }, { status = 500 } }
      local env = assert(new_client():archive(ID))
      assert.are.equal(ID, env.id)
      assert.are.equal(3, #server:requests())
      assert.are.equal(2, #sleeps)
      -- (a few ms less than the delay drawn: the time since it was drawn)
      assert.is_true(sleeps[1] > 0.365 and sleeps[1] <= 0.5, tostring(sleeps[1]))
      assert.is_true(sleeps[2] > 0.74 and sleeps[2] <= 1.0, tostring(sleeps[2]))
    end)

    it("gives up after 3 attempts on a 500 that never ends, with the last answer's fields", function()
      server:script { { status = 500 }, { status = 500 }, { status = 500 } }
      local env, err = new_client():archive(ID)
      assert.is_nil(env)
      assert.are.equal("api", err.kind)
      assert.are.equal(500, err.status)
      assert.are.equal("api_error", err.type)
      assert.are.equal(3, err.attempts)
      assert.matches("req_fake_", err.request_id, 1, true)
      assert.matches("after 3 attempts", tostring(err), 1, true)
      assert.are.equal(3, #server:requests())
    end)

    it("does not retry when the answer says x-should-retry: false", function()
      server:script { { status = 500, headers = { ["x-should-retry"] = "false" } } }
      local _, err = new_client():archive(ID)
      assert.are.equal(500, err.status)
      assert.are.equal(1, err.attempts)
      assert.are.equal(1, #server:requests())
      assert.are.same({}, sleeps)
    end)

    it("retries a 400 when the answer says x-should-retry: true", function()
      server:script { { status = 400, headers = { ["x-should-retry"] = "true" } } }
      assert(new_client():archive(ID))
      assert.are.equal(2, #server:requests())
    end)

    it("retries 529 overloaded, 408 and 409", function()
      server:script { { status = 529 }, { status = 408 } }
      assert(new_client():archive(ID))
      assert.are.equal(3, #server:requests())
      server:reset()
      server:script { { status = 409 } }
      assert(new_client():archive(ID))
      assert.are.equal(2, #server:requests())
    end)

    it("gives 529's type and status when retries run out", function()
      server:script { { status = 529 } }
      local _, err = new_client { max_retries = 0 }:archive(ID)
      assert.are.equal(529, err.status)
      assert.are.equal("overloaded_error", err.type)
    end)

    it("does not retry 400, 401, 403 or 404", function()
      for _, status in ipairs { 400, 401, 403, 404 } do
        server:reset()
        server:script { { status = status } }
        local _, err = new_client():archive(ID)
        assert.are.equal(status, err.status)
        assert.are.equal(1, #server:requests())
      end
    end)

    it("honours max_retries from the client and from the call", function()
      server:script { { status = 503 }, { status = 503 }, { status = 503 }, { status = 503 } }
      local client = new_client { max_retries = 1 }
      local _, err = client:archive(ID)
      assert.are.equal(2, err.attempts)
      _, err = client:archive(ID, { max_retries = 0 })
      assert.are.equal(1, err.attempts)
      assert.are.equal(3, #server:requests())
    end)

    it("takes retry-after in seconds and as an HTTP date, and ignores waits over 60 s", function()
      assert.are.equal(2, retry.delay(0, { ["retry-after"] = "2" }, 0))
      assert.are.equal(0.5, retry.delay(0, { ["retry-after-ms"] = "500", ["retry-after"] = "9" }, 0))
      local soon = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 30)
      local wait = retry.delay(0, { ["retry-after"] = soon }, 0)
      assert.is_true(wait > 25 and wait <= 31, tostring(wait))
      -- out of range or unreadable: the SDK backoff, min(0.5 * 2^n, 8) * (1 - 0.25 * jitter)
      assert.are.equal(0.5, retry.delay(0, { ["retry-after"] = "61" }, 0))
      assert.are.equal(1, retry.delay(1, { ["retry-after-ms"] = "-5" }, 0))
      assert.are.equal(8, retry.delay(10, { ["retry-after"] = "soon" }, 0))
      assert.are.equal(0.375, retry.delay(0, {}, 1))
    end)

    it("uses the caller's sleep from the call options", function()
      server:script { { status = 500 } }
      local mine = {}
      assert(new_client():archive(ID, { sleep = function(s) mine[#mine + 1] = s end }))
      assert.are.equal(1, #mine)
      assert.are.same({}, sleeps)
    end)

    it("really sleeps by default, for the time asked", function()
      server:script { { status = 429, headers = { ["retry-after-ms"] = "300" } } }
      local client = environments.new { base_url = server.url, api_key = KEY }
      local env, _, elapsed = timed(client.archive, client, ID)
      assert(env)
      assert.is_true(elapsed >= 0.29 and elapsed < 5, tostring(elapsed))
    end)
  end)

  describe("network failures", function()
    it("connection refused: 3 attempts, then a connection error", function()
      local client = environments.new { base_url = "http://127.0.0.1:1", api_key = KEY,
                                        sleep = function(s) sleeps[#sleeps + 1] = s end }
      local env, err = client:archive(ID)
      assert.is_nil(env)
      assert.are.equal("connection", err.kind)
      assert.are.equal(3, err.attempts)
      assert.are.equal(2, #sleeps)
      assert.matches("127.0.0.1", err.message, 1, true)
      assert_no_secret(err)
    end)

    it("connection reset before any answer: retried, then a connection error", function()
      server:script { { fault = "reset" }, { fault = "reset" }, { fault = "reset" } }
      local _, err = new_client():archive(ID)
      assert.are.equal("connection", err.kind)
      assert.are.equal(3, err.attempts)
      assert.are.equal(3, #server:requests())
    end)

    it("connection closed with no answer, then success", function()
      server:script { { fault = "close" } }
      assert(new_client():archive(ID))
      assert.are.equal(2, #server:requests())
    end)

    it("reset in the middle of the body", function()
      server:script { { fault = "partial_body", reset = true, status = 200, body = "{\"id\": \"env_", content_length = 500 } }
      local _, err = new_client { max_retries = 0 }:archive(ID)
      assert.are.equal("connection", err.kind)
      assert.are.equal(200, err.status)
      assert.are.equal(1, #server:requests())
    end)

    it("a body shorter than its Content-Length", function()
      server:script { { fault = "partial_body", status = 200, body = "{\"id\": \"env_", content_length = 1000 } }
      local _, err = new_client { max_retries = 0 }:archive(ID)
      assert.are.equal("connection", err.kind)
      assert.matches("bytes remaining", err.message, 1, true)
    end)

    it("a server that stalls past the timeout", function()
      server:script { { fault = "stall", seconds = 30 } }
      local client = new_client { max_retries = 0, timeout = 0.5 }
      local env, err, elapsed = timed(client.archive, client, ID)
      assert.is_nil(env)
      assert.are.equal("timeout", err.kind)
      assert.is_true(elapsed < 5, tostring(elapsed))
    end)

    it("a timed-out attempt is retried like the SDKs do", function()
      server:script { { fault = "stall", seconds = 30 }, { fault = "stall", seconds = 30 } }
      local client = new_client { timeout = 0.3 }
      local env, _, elapsed = timed(client.archive, client, ID)
      assert.are.equal(ID, env.id)
      assert.are.equal(3, #server:requests())
      assert.is_true(elapsed < 5, tostring(elapsed))
    end)

    it("the per-call timeout beats the client's", function()
      server:script { { fault = "stall", seconds = 30 } }
      local client = new_client { timeout = 60, max_retries = 0 }
      local _, err, elapsed = timed(client.archive, client, ID, { timeout = 0.3 })
      assert.are.equal("timeout", err.kind)
      assert.is_true(elapsed < 5, tostring(elapsed))
    end)

    it("a body that stops arriving is caught by stall_timeout", function()
      server:script { { fault = "stall_body", status = 200, body = "{\"id\":", seconds = 30 } }
      local client = new_client { stall_timeout = 1, max_retries = 0 }
      local _, err, elapsed = timed(client.archive, client, ID)
      assert.are.equal("timeout", err.kind)
      assert.matches("no data sent or received for 1000 ms", err.message, 1, true)
      assert.is_true(elapsed >= 0.9 and elapsed < 4, tostring(elapsed))
    end)

    it("a connect that never completes ends at connect_timeout", function()
      -- A listener whose accept queue is full: further SYNs go unanswered.
      local listener = assert(socket.tcp())
      assert(listener:bind("127.0.0.1", 0))
      assert(listener:listen(0))
      local _, port = listener:getsockname()
      local fillers = {}
      for i = 1, 4 do
        fillers[i] = socket.tcp()
        fillers[i]:settimeout(0)
        fillers[i]:connect("127.0.0.1", port)
      end
      local client = environments.new { base_url = "http://127.0.0.1:" .. port, api_key = KEY,
                                        connect_timeout = 0.3, max_retries = 0 }
      local _, err, elapsed = timed(client.archive, client, ID)
      for _, f in ipairs(fillers) do f:close() end
      listener:close()
      assert.are.equal("timeout", err.kind)
      assert.is_true(elapsed >= 0.25 and elapsed < 5, tostring(elapsed))
    end)
  end)

  describe("hostile answers", function()
    it("JSON nested 200,000 levels is refused without crashing", function()
      server:script { { status = 200, nested = 200000 } }
      local env, err = new_client():archive(ID)
      assert.is_nil(env)
      assert.are.equal("decode", err.kind)
      assert.matches("nested", err.message)
      assert.are.equal(1, #server:requests())
    end)

    it("a body over the cap with a Content-Length is refused before it is read", function()
      server:script { { status = 200, body_size = 2 * 1024 * 1024 } }
      local env, err = new_client { max_body = 1024 * 1024 }:archive(ID)
      assert.is_nil(env)
      assert.are.equal("decode", err.kind)
      assert.matches("larger than the limit of 1048576 bytes", err.message, 1, true)
      assert.are.equal(1, #server:requests())
    end)

    it("a chunked body over the cap is cut off at the cap", function()
      server:script { { status = 200, body_size = 4 * 1024 * 1024, chunked = true } }
      local _, err = new_client { max_body = 64 * 1024 }:archive(ID)
      assert.are.equal("decode", err.kind)
      assert.matches("larger than the limit", err.message, 1, true)
    end)

    it("the default cap is 16 MiB", function()
      server:script { { status = 200, body_size = 16 * 1024 * 1024 + 1 } }
      local _, err = new_client():archive(ID)
      assert.are.equal("decode", err.kind)
      assert.matches("16777216", err.message, 1, true)
    end)

    it("a body just under the cap is read", function()
      server:script { { status = 200, body_size = 1000 } }
      local env = assert(new_client { max_body = 1000 }:archive(ID))
      assert.are.equal("env_x", env.id)
    end)

    it("invalid UTF-8 in a string is passed through byte for byte", function()
      server:script { { status = 200, body = "{\"id\":\"env_\255\254\",\"name\":\"\192\"}" } }
      local env = assert(new_client():archive(ID))
      assert.are.equal("env_\255\254", env.id)
      assert.are.equal("\192", env.name)
    end)

    it("a request-id only in the body", function()
      server:script { { status = 529, no_request_id = true,
        json = { type = "error", request_id = "req_only_body", error = { type = "overloaded_error", message = "busy" } } } }
      local _, err = new_client { max_retries = 0 }:archive(ID)
      assert.are.equal("req_only_body", err.request_id)
      assert.are.equal("overloaded_error", err.type)
      assert.are.equal("busy", err.message)
    end)
  end)

  describe("logging", function()
    it("logs each attempt with method, URL, status, request id and timing, never the key", function()
      server:script { { status = 500 } }
      local lines = {}
      local client = new_client { logger = function(line) lines[#lines + 1] = line end }
      assert(client:archive(ID))
      assert.are.equal(2, #lines)
      local url = server.url .. "/v1/environments/" .. ID .. "/archive"
      local function literal(s) return (s:gsub("%p", "%%%0")) end
      assert.matches("^anthropic%.environments: POST " .. literal(url)
        .. " %-> 500 %(request%-id req_fake_%d+, attempt 1, [%d.]+ ms, curl%)$", lines[1])
      assert.matches("^anthropic%.environments: POST " .. literal(url)
        .. " %-> 200 %(request%-id req_fake_%d+, attempt 2, [%d.]+ ms, curl%)$", lines[2])
      for _, line in ipairs(lines) do assert.is_nil(line:find(KEY, 1, true)) end
    end)

    it("logs failures by kind", function()
      local lines = {}
      local client = environments.new { base_url = "http://127.0.0.1:1", api_key = KEY, max_retries = 0,
                                        logger = function(line) lines[#lines + 1] = line end }
      client:archive(ID)
      assert.matches("-> connection (request-id -, attempt 1,", lines[1], 1, true)
    end)

    it("writes to stderr with ANTHROPIC_LOG=debug", function()
      local code = "package.path = " .. string.format("%q", package.path) .. "; package.cpath = "
        .. string.format("%q", package.cpath) .. [[; local e = require "anthropic.environments"
        assert(e.archive("env_011CZkZ9X2dpNyB7HsEFoRfW"))]]
      local p = io.popen("ANTHROPIC_LOG=debug ANTHROPIC_API_KEY=" .. KEY .. " ANTHROPIC_BASE_URL=" .. server.url
        .. " " .. fake.interpreter() .. " -e " .. fake.shell_quote(code) .. " 2>&1 >/dev/null")
      local out = p:read("*a")
      p:close()
      assert.matches("anthropic.environments: POST ", out, 1, true)
      assert.matches("-> 200 (request-id req_fake_", out, 1, true)
      assert.is_nil(out:find(KEY, 1, true))
    end)
  end)

  describe("after 10,000 failing calls", function()
    local function open_fds()
      local p = io.popen("ls /proc/" .. fake.own_pid() .. "/fd")
      local n = 0
      for _ in p:lines() do n = n + 1 end
      p:close()
      return n
    end

    it("Lua memory and open file descriptors are back where they started", function()
      collectgarbage()   -- the clients of earlier tests let go of their sockets
      collectgarbage()
      local fds = open_fds()
      local refused = environments.new { base_url = "http://127.0.0.1:1", api_key = KEY, max_retries = 0 }
      local api = new_client { max_retries = 0 }
      -- warm up: the first calls load what every later call reuses
      refused:archive(ID)
      api:archive("env_missing")
      collectgarbage()
      collectgarbage()
      local memory = collectgarbage("count")
      for i = 1, 10000 do
        local env, err
        if i % 20 == 0 then env, err = api:archive("env_missing") else env, err = refused:archive(ID) end
        assert(env == nil and err.kind)
      end
      collectgarbage()
      collectgarbage()
      local grown = collectgarbage("count") - memory
      -- Every descriptor the calls opened is the clients' to close: none
      -- is left once they are closed (a kept-alive connection the server
      -- dropped and libcurl replaced is not a leak, and is not counted).
      local open = open_fds() - fds   -- the two clients' own: a few, not thousands
      assert.is_true(open >= 0 and open < 10, open .. " descriptors more after 10,000 calls")
      refused:close()
      api:close()
      assert.are.equal(fds, open_fds())
      assert.is_true(grown < 64, string.format("Lua memory grew by %.1f KiB", grown))
    end)
  end)
end)
