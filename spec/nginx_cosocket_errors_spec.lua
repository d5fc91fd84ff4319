-- The cosocket transport inside nginx (see spec/nginx_cosocket_spec.lua):
-- every error kind, each beside the same call forced onto libcurl in the
-- same handler, and TLS with and without lua_ssl_trusted_certificate.
-- LuaJIT only, once per `make test`.
local hosts = require "spec.support.hosts"
local cosocket = require "spec.support.cosocket"
local socket = require "socket"

if not hosts.ONCE then return end

local EXAMPLE_ID = cosocket.EXAMPLE_ID
local missing = cosocket.missing()

describe("the cosocket transport inside nginx: errors and TLS", function()
  if missing then
    pending("nginx with its Lua module is not installed: " .. missing)
    return
  end

  local h = cosocket.suite()
  local results, client, both, same_error = h.results, h.client, h.both, h.same_error

  describe("errors, as libcurl gives them", function()
    it("404", function()
      local a, b = both(nil, nil, "c:archive('env_nope')")
      same_error(a, b)
      assert.are.equal("api", a.err.kind)
      assert.are.equal(404, a.err.status)
      assert.are.equal("not_found_error", a.err.type)
      assert.are.equal("environment_not_found", a.err.error_code)
      assert.are.equal(a.requests[1].request_id, a.err.request_id)
      assert.are.equal(1, a.err.attempts)
      assert.matches("%-> 404 %(request%-id req_fake_%d+, attempt 1, [%d.]+ ms, ngx%)$", a.lines[1])
    end)

    it("429, then retried on the same connection after retry-after-ms", function()
      local a, b = both({ { status = 429, headers = { ["retry-after-ms"] = "50" } } })
      assert.are.equal(EXAMPLE_ID, a.value.id)
      assert.are.equal(EXAMPLE_ID, b.value.id)
      assert.are.equal(2, #a.requests)
      assert.are.equal(a.requests[1].connection, a.requests[2].connection)
      assert.are.same(a.requests[1].headers, a.requests[2].headers)
      assert.matches("%-> 429 .*attempt 1, .*ngx%)$", a.lines[1])
      assert.matches("%-> 200 .*attempt 2, .*ngx%)$", a.lines[2])
    end)

    it("500 every time: retried max_retries times, then the error", function()
      local five = { { status = 500 }, { status = 500 }, { status = 500 } }
      local a, b = both(five, "max_retries = 2, sleep = function() end")
      same_error(a, b)
      assert.are.equal(500, a.err.status)
      assert.are.equal("api_error", a.err.type)
      assert.are.equal(3, a.err.attempts)
      assert.are.equal(3, #a.requests)
    end)

    it("a reset in the middle of the body: a connection error with the status seen, and a new connection", function()
      local item = { fault = "partial_body", status = 200, body = '{"id":"env_', content_length = 500, reset = true }
      local a, b = both({ item }, "max_retries = 0")
      same_error(a, b)
      assert.are.equal("connection", a.err.kind)
      assert.are.equal(200, a.err.status)
      -- The next call does not reuse the broken connection.
      local r = results(client() .. "local c2 = c; return c2:archive(ctx.id)")
      assert.are.equal(EXAMPLE_ID, r[1].id)
      local reqs = h.api:requests()
      assert.are_not.equal(reqs[1].connection, reqs[2].connection)
    end)

    it("a body over max_body, with a length or chunked", function()
      for _, chunked in ipairs { false, true } do
        local a, b = both({ { status = 200, body_size = 5000, chunked = chunked } }, "max_body = 1000, max_retries = 0")
        same_error(a, b)
        assert.are.equal("decode", a.err.kind)
        assert.are.equal("response body larger than the limit of 1000 bytes", a.err.message)
        assert.are.equal(b.err.message, a.err.message)
      end
    end)

    it("invalid JSON", function()
      local a, b = both({ { status = 200, body = '{"id": nope' } })
      same_error(a, b)
      assert.are.equal("decode", a.err.kind)
      assert.are.equal(200, a.err.status)
      assert.are.equal('{"id": nope', a.err.body)
      assert.matches("^invalid JSON in the answer", a.err.message)
    end)

    it("a timeout: the attempt's timeout, then stall_timeout", function()
      local a, b = both({ { fault = "stall", seconds = 3 } }, "timeout = 0.3, max_retries = 0")
      same_error(a, b)
      assert.are.equal("timeout", a.err.kind)
      assert.matches("^Operation timed out after %d+ milliseconds with 0 bytes received$", a.err.message)
      assert.is_true(a.took < 1, string.format("took %.3f s", a.took))
      a, b = both({ { fault = "stall_body", status = 200, body = '{"id":', seconds = 3 } },
        "stall_timeout = 0.3, max_retries = 0")
      same_error(a, b)
      assert.are.equal("timeout", a.err.kind)
      assert.are.equal(b.err.message, a.err.message)
      assert.are.equal("no data sent or received for 300 ms (stall_timeout)", a.err.message)
    end)

    it("a refused connection", function()
      local s = socket.bind("127.0.0.1", 0)
      local _, port = s:getsockname()
      s:close()
      local r = results(client("max_retries = 0, base_url = 'http://127.0.0.1:" .. port .. "'")
        .. "return c:archive(ctx.id)")
      local err = r[2]
      assert(err, require("cjson").encode(r))
      assert.are.equal("connection", err.kind)
      assert.are.equal("ngx", err.transport)
      assert.matches("could not connect to 127.0.0.1:" .. port .. ": connection refused", err.message, 1, true)
    end)

    it("the error predicates agree with libcurl's for each status, a timeout and a refused connection", function()
      local names = { "is_retryable", "is_not_found", "is_rate_limited", "is_auth", "is_connection",
                      "is_timeout", "is_conflict", "is_server_error" }
      -- the predicates of the call's error, as a plain table (methods do not
      -- cross back from nginx)
      local call = "(function() local _, e = c:archive(ctx.id); local t = { kind = e.kind }\n"
        .. "for _, n in ipairs { '" .. table.concat(names, "', '") .. "' } do t[n] = e[n](e) end\n"
        .. "return nil, t end)()"
      local s = socket.bind("127.0.0.1", 0)
      local _, port = s:getsockname()
      s:close()
      local cases = {
        { { { status = 404 } }, "", { "is_not_found" } },
        { { { status = 401 } }, "", { "is_auth" } },
        { { { status = 403 } }, "", { "is_auth" } },
        { { { status = 409 } }, "", { "is_retryable", "is_conflict" } },
        { { { status = 429 } }, "", { "is_retryable", "is_rate_limited" } },
        { { { status = 503 } }, "", { "is_retryable", "is_server_error" } },
        { { { status = 400 } }, "", {} },
        { { { fault = "stall", seconds = 3 } }, "timeout = 0.3, ", { "is_retryable", "is_connection", "is_timeout" } },
        { nil, "base_url = 'http://127.0.0.1:" .. port .. "', ", { "is_retryable", "is_connection" } },
      }
      for _, case in ipairs(cases) do
        local a, b = both(case[1], case[2] .. "max_retries = 0", call)
        local expected = {}
        for _, n in ipairs(names) do expected[n] = false end
        for _, n in ipairs(case[3]) do expected[n] = true end
        expected.kind = b.err.kind
        assert.are.same(expected, b.err, case[2])
        assert.are.same(b.err, a.err, case[2])
      end
    end)

    it("a host name without a `resolver`: says which directive to add", function()
      local r = results(client("max_retries = 0, base_url = 'http://h.api.example.invalid'")
        .. "return c:archive(ctx.id)")
      local err = r[2]
      assert.are.equal("connection", err.kind)
      assert.are.equal("ngx", err.transport)
      assert.matches("no resolver defined", err.message, 1, true)
      assert.matches("add one to the http block of nginx.conf, e.g. `resolver 127.0.0.53 ipv6=off;`",
        err.message, 1, true)
    end)
  end)

  describe("TLS", function()
    local function tls_client(opts)
      return client("base_url = ctx.tls, " .. (opts or ""))
    end

    it("verifies against lua_ssl_trusted_certificate and keeps the connection and session", function()
      local r = results(tls_client() .. [[
        local a, ea = c:archive(ctx.id)
        local b, eb = c:retrieve("env_selfhosted01")
        return a, ea, b, eb
      ]])
      assert.are.equal(EXAMPLE_ID, r[1] and r[1].id, tostring(r[2] and r[2].message))
      assert.are.equal("env_selfhosted01", r[3].id)
      local reqs = h.tls_api:requests()
      assert.are.equal(2, #reqs)
      assert.are.equal(reqs[1].connection, reqs[2].connection)
      assert.are.equal(h.tls_api.url:match("//(.*)$"), reqs[1].header_map.host)
    end)

    it("without lua_ssl_trusted_certificate: says which directive to add", function()
      local r = results(client("base_url = ctx.tls_other, max_retries = 0") .. "return c:archive(ctx.id)",
        "/run-untrusted")
      local err = r[2]
      assert.are.equal("connection", err.kind)
      assert.are.equal("ngx", err.transport)
      -- nginx names the reason, unless the failed handshake completed at
      -- once (resty.core then has none to give).
      if not err.message:find("gave no reason", 1, true) then
        assert.matches("TLS certificate verification of 127.0.0.1:%d+ failed: ", err.message)
        assert.are.equal("tls_certificate", err.reason)   -- as on libcurl: never retried
      end
      assert.matches("e.g. `lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;`", err.message, 1, true)
      assert.are.equal(0, #h.tls_other:requests())
    end)

    it("insecure_skip_tls_verify still skips the verification", function()
      local r = results(client("base_url = ctx.tls_other, insecure_skip_tls_verify = true")
        .. "return c:archive(ctx.id)", "/run-untrusted")
      assert.are.equal(EXAMPLE_ID, r[1].id)
    end)
  end)

end)
