-- The error predicates (err:is_retryable(), err:is_not_found(), ...): each
-- against the fake for each status and for connection and timeout
-- failures, and is_retryable agreeing with the retry policy, which never
-- retries a certificate failure. The cosocket transport's side is in
-- spec/nginx_cosocket_errors_spec.lua.
local environments = require "anthropic.environments"
local errors = require "anthropic.environments.errors"
local retry = require "anthropic.environments.retry"
local fake = require "spec.support.fake"
local socket = require "socket"

local ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-ant-predicates-SECRET"

local PREDICATES = { "is_retryable", "is_not_found", "is_rate_limited", "is_auth", "is_connection",
                     "is_timeout", "is_conflict", "is_server_error" }

-- The predicates that hold for err, as a set.
local function holding(err)
  local out = {}
  for _, name in ipairs(PREDICATES) do
    local v = err[name](err)
    assert.is_boolean(v, name)
    if v then out[name] = true end
  end
  return out
end

describe("error predicates", function()
  local server, _, new_client = fake.suite(KEY)

  -- status -> the predicates that hold for an API answer with it
  local BY_STATUS = {
    [400] = {},
    [401] = { is_auth = true },
    [403] = { is_auth = true },
    [404] = { is_not_found = true },
    [408] = { is_retryable = true },
    [409] = { is_retryable = true, is_conflict = true },
    [422] = {},
    [429] = { is_retryable = true, is_rate_limited = true },
    [500] = { is_retryable = true, is_server_error = true },
    [503] = { is_retryable = true, is_server_error = true },
    [529] = { is_retryable = true, is_server_error = true },
  }

  for status, expected in pairs(BY_STATUS) do
    it("an API answer " .. status, function()
      server:script { { status = status } }
      local env, err = new_client { max_retries = 0 }:archive(ID)
      assert.is_nil(env)
      assert.is_true(environments.is_error(err))
      assert.are.equal("api", err.kind)
      assert.are.equal(status, err.status)
      assert.are.same(expected, holding(err))
      assert.are.equal(retry.should(err), err:is_retryable())
    end)
  end

  it("an API answer 404 from the fake's own routes (not scripted)", function()
    local _, err = new_client():retrieve("env_nope")
    assert.are.same({ is_not_found = true }, holding(err))
    assert.are.equal(1, #server:requests())
  end)

  it("x-should-retry: false makes a 503 not retryable, and true a 400 retryable", function()
    server:script { { status = 503, headers = { ["x-should-retry"] = "false" } },
                    { status = 400, headers = { ["x-should-retry"] = "true" } } }
    local client = new_client { max_retries = 0 }
    local _, err = client:archive(ID)
    assert.are.same({ is_server_error = true }, holding(err))
    _, err = client:archive(ID)
    assert.are.same({ is_retryable = true }, holding(err))
  end)

  it("a refused connection", function()
    local s = socket.bind("127.0.0.1", 0)
    local _, port = s:getsockname()
    s:close()
    local client = environments.new { api_key = KEY, base_url = "http://127.0.0.1:" .. port, max_retries = 0 }
    local _, err = client:archive(ID)
    assert.are.equal("connection", err.kind)
    assert.are.same({ is_retryable = true, is_connection = true }, holding(err))
  end)

  it("a connection reset in the middle of the body, after a 200 was seen", function()
    server:script { { fault = "partial_body", status = 200, body = '{"id":"env_', content_length = 500, reset = true } }
    local _, err = new_client { max_retries = 0 }:archive(ID)
    assert.are.equal("connection", err.kind)
    assert.are.same({ is_retryable = true, is_connection = true }, holding(err))
  end)

  it("a timeout", function()
    server:script { { fault = "stall", seconds = 5 } }
    local _, err = new_client { max_retries = 0, timeout = 0.3 }:archive(ID)
    assert.are.equal("timeout", err.kind)
    assert.are.same({ is_retryable = true, is_connection = true, is_timeout = true }, holding(err))
  end)

  it("a decode failure is none of them", function()
    server:script { { status = 200, body = "[1, 2]" } }
    local _, err = new_client():archive(ID)
    assert.are.equal("decode", err.kind)
    assert.are.same({}, holding(err))
    assert.are.equal(1, #server:requests())
  end)

  it("a cancelled call is none of them", function()
    server:script { { fault = "stall", seconds = 5 } }
    local call = new_client():archive_async(ID)
    call:cancel()
    local _, _, err = call:poll()
    assert.are.equal("cancelled", err.kind)
    assert.are.same({}, holding(err))
  end)

  it("a status seen before a broken connection is not an API status", function()
    local err = errors.new("connection", { status = 500, message = "reset" })
    assert.is_false(err:is_server_error())
    assert.is_true(err:is_connection())
  end)

  describe("certificate failures", function()
    it("are never retried: neither by the policy nor by is_retryable, x-should-retry or not", function()
      for _, headers in ipairs { false, { ["x-should-retry"] = "true" } } do
        local err = errors.new("connection", { reason = "tls_certificate", message = "certificate verify failed",
                                                headers = headers or nil })
        assert.is_false(retry.should(err))
        assert.is_false(err:is_retryable())
        assert.is_true(err:is_connection())
      end
    end)

    it("other connection failures, and other reasons, are retried", function()
      for _, reason in ipairs { false, "tls_handshake", "dns" } do
        local err = errors.new("connection", { reason = reason or nil, message = "x" })
        assert.is_true(retry.should(err), tostring(reason))
        assert.is_true(err:is_retryable())
      end
      -- the reason counts for kind "connection" only
      assert.is_true(retry.should(errors.new("timeout", { reason = "tls_certificate" })))
    end)

    it("a call that fails so is made once, whatever max_retries says", function()
      -- A TLS server whose certificate the client does not trust: libcurl
      -- names the failure; with the reason set, the call is not retried.
      local tls = fake.start { tls = true }
      local ok, err_or = pcall(function()
        local client = environments.new { api_key = KEY, base_url = tls.url, max_retries = 2,
                                          sleep = function() end }
        local _, err = client:archive(ID)
        assert.are.equal("connection", err.kind)
        assert.are.equal("tls_certificate", err.reason)
        assert.are.equal(1, err.attempts)
        assert.is_false(err:is_retryable())
        assert.is_true(err:is_connection())
      end)
      tls:stop()
      assert(ok, err_or)
    end)
  end)
end)
