-- The C core (anthropic.environments.core) on its own, driven as the Lua
-- layer drives it: its version, the return shapes of client:start, the
-- checks it makes whatever the Lua layer passed (defence in depth), and the
-- transport's limits. Against the fake API and small servers on loopback.

local core = require "anthropic.environments.core"
local cjson = require "cjson"
local socket = require "socket"
local forker = require "spec_forker"
local fake = require "spec.support.fake"
local hosts = require "spec.support.hosts"
local cc = require "spec.support.core_client"

local EXAMPLE_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"

describe("core", function()
  local server

  setup(function() server = fake.start() end)
  teardown(function() if server then server:stop() end end)
  before_each(function() server:reset() end)

  local function url(id) return server.url .. "/v1/environments/" .. (id or EXAMPLE_ID) end

  it("has the version the Lua layer checks at require", function()
    assert.are.equal("0.2.0", core._VERSION)
  end)

  describe("core.new", function()
    it("type-checks its numeric options, naming them", function()
      for _, field in ipairs { "max_body", "max_connections", "connect_timeout", "stall_timeout" } do
        local ok, err = pcall(core.new, { [field] = "16" })
        assert.is_false(ok)
        assert.matches("core.new: " .. field .. " must be a number, got string", err, 1, true)
      end
      assert.has_error(function() core.new { max_body = -1 } end, "core.new: max_body out of range")
      assert.has_error(function() core.new { max_connections = 0 } end,
        "core.new: max_connections out of range")
      assert.has_error(function() core.new { stall_timeout = 0 / 0 } end,
        "core.new: stall_timeout out of range")
    end)

    it("takes math.huge as a timeout (no limit in practice)", function()
      local client = cc.new(nil, { connect_timeout = math.huge, stall_timeout = math.huge })
      local status = cc.call(client, "GET", url(), nil, math.huge)
      assert.are.equal(200, status)
      client:close()
    end)
  end)

  describe("client:start", function()
    local client
    before_each(function() client = cc.new(server) end)
    after_each(function() client:close() end)

    it("takes the method through a fixed list", function()
      assert.has_error(function() client:start("PUT", url(), cc.HEADERS) end)
      local ok, err = pcall(client.start, client, "get", url(), cc.HEADERS)
      assert.is_false(ok)
      assert.matches("invalid option 'get'", err, 1, true)
    end)

    it("refuses CR, LF, NUL and other control bytes in any header line, without echoing it", function()
      for _, bad in ipairs { "x-a: 1\r\nX-Injected: yes", "x-a: 1\nX-Injected: yes", "x-a: 1\rb",
                             "x-a: sk\0secret", "x-a: \1", "x-a: \127", "x-a\r\n: v" } do
        local headers = { cc.HEADERS[1], bad, cc.HEADERS[3] }
        local ok, err = pcall(client.start, client, "GET", url(), headers)
        assert.is_false(ok)
        assert.matches("header line 2 holds a control character", err, 1, true)
        assert.is_nil(err:find("secret", 1, true))
      end
      -- A tab is allowed, as HTTP allows it in values.
      assert.are.equal(200, (cc.call(client, "GET", url(), nil, nil,
        { cc.HEADERS[1], cc.HEADERS[2], cc.HEADERS[3], "x-tab: a\tb" })))
      assert.are.equal(1, #server:requests())
    end)

    it("sends no Expect: 100-continue, with a small body, a large one or a prepared header list", function()
      local prepared = core.headers(cc.JSON_HEADERS)
      for _, size in ipairs { 10, 1025, 2 * 1024 * 1024 } do
        for _, headers in ipairs { cc.JSON_HEADERS, prepared } do
          server:reset()
          local body = '{"name":"' .. string.rep("x", size) .. '"}'
          local status = cc.call(client, "POST", server.url .. "/v1/environments", body, 30, headers)
          assert.is_number(status)   -- an answer came (what the fake makes of the body does not matter)
          local req = server:requests()[1]
          assert.is_nil(req.header_map.expect, size)
          assert.are.equal(#body, tonumber(req.header_map["content-length"]))
        end
      end
    end)

    it("refuses control bytes in the URL", function()
      for _, bad in ipairs { url() .. "\r\nX-Injected: yes", url() .. "\0.evil", url() .. "\n" } do
        local ok, err = pcall(client.start, client, "GET", bad, cc.HEADERS)
        assert.is_false(ok)
        assert.matches("control character", err, 1, true)
      end
      assert.are.equal(0, #server:requests())
    end)

    it("gives nil, 'invalid_request' for a URL libcurl refuses, and sends nothing", function()
      local long = url(string.rep("a", 10 * 1024 * 1024))
      local request, failure = client:start("GET", long, cc.HEADERS, nil, 5)
      assert.is_nil(request)
      assert.are.same({ kind = "invalid_request",
                        message = "the URL is " .. #long .. " bytes, longer than libcurl accepts" }, failure)
      assert.are.equal(0, #server:requests())
      -- The client is unharmed.
      assert.are.equal(200, (cc.call(client, "GET", url())))
    end)

    it("gives nil, 'cancelled' on a closed client", function()
      client:close()
      local request, failure = client:start("GET", url(), cc.HEADERS)
      assert.is_nil(request)
      assert.are.same({ kind = "cancelled", message = "the client was closed" }, failure)
    end)
  end)

  describe("request:result", function()
    local client
    before_each(function() client = cc.new(server) end)
    after_each(function() client:close() end)

    it("decodes the body it pushes when asked", function()
      local request = assert(client:start("GET", url(), cc.HEADERS))
      assert.is_true(client:run(request, 10))
      local status, headers, body, value = request:result(true)
      assert.are.equal(200, status)
      assert.are.equal("application/json", headers["content-type"])
      assert.are.equal(EXAMPLE_ID, value.id)
      assert.are.same(cjson.decode(body), value)
    end)

    it("gives a 2xx's headers as their raw block when asked to be lazy, and header_table reads it", function()
      local request = assert(client:start("GET", url(), cc.HEADERS))
      assert.is_true(client:run(request, 10))
      local status, block, _, value = request:result(true, true)
      assert.are.equal(200, status)
      assert.are.equal(EXAMPLE_ID, value.id)
      assert.is_string(block)
      local headers = core.header_table(block)
      assert.are.equal("application/json", headers["content-type"])
      assert.matches("^req_fake_%d+$", headers["request-id"])
      -- repeated names are joined, names lower-cased, values trimmed
      assert.are.same({ ["x-a"] = "1, 2", b = "3" }, core.header_table("X-A: 1\r\nB:  3 \r\nx-a: 2\r\n\r\n"))
      -- not lazy for an error status, nor for a body that is not JSON
      server:script { { status = 404 }, { status = 200, body = "{not json" } }
      for _ = 1, 2 do
        request = assert(client:start("GET", url(), cc.HEADERS))
        assert.is_true(client:run(request, 10))
        local _, h = request:result(true, true)
        assert.is_table(h)
        assert.matches("^req_fake_%d+$", h["request-id"])
      end
    end)

    it("gives nil and the decoder's message for a body that is not JSON", function()
      server:script { { status = 200, body = "{not json" } }
      local request = assert(client:start("GET", url(), cc.HEADERS))
      assert.is_true(client:run(request, 10))
      local status, _, body, value, message = request:result(true)
      assert.are.equal(200, status)
      assert.are.equal("{not json", body)
      assert.is_nil(value)
      assert.is_string(message)
    end)

    it("gives the failure shape unchanged when asked to decode", function()
      server:script { { fault = "close" } }
      local request = assert(client:start("GET", url(), cc.HEADERS))
      assert.is_true(client:run(request, 10))
      local status, failure, extra = request:result(true)
      assert.is_nil(status)
      assert.is_nil(extra)
      assert.are.equal("connection", failure.kind)
      assert.is_string(failure.message)
      assert.is_nil(failure.status)   -- no status was seen
      assert.is_nil(failure.reason)
    end)
  end)

  describe("huge and NaN waits", function()
    local client
    before_each(function() client = cc.new(server) end)
    after_each(function() client:close() end)

    -- drive(wait) blocks until there is work, at most `wait`: a huge wait
    -- must block, not turn into a negative number that spins.
    for _, wait in ipairs { math.huge, 1e300, 2 ^ 63 } do
      it("client:drive(" .. tostring(wait) .. ") waits for work instead of spinning", function()
        server:script { { delay = 0.3, pass = true } }
        local request = assert(client:start("GET", url(), cc.HEADERS, nil, 10))
        local turns, started = 0, socket.gettime()
        while client:drive(wait) > 0 do turns = turns + 1 end
        assert.is_true(request:done())
        assert.are.equal(200, (request:result()))
        assert.is_true(socket.gettime() - started >= 0.25)
        assert.is_true(turns < 50, "drive returned " .. turns .. " times in 0.3 s")
      end)
    end

    it("client:drive(NaN) does not block", function()
      server:script { { delay = 0.5, pass = true } }
      local request = assert(client:start("GET", url(), cc.HEADERS, nil, 10))
      local started = socket.gettime()
      assert.are.equal(1, client:drive(0 / 0))
      assert.is_true(socket.gettime() - started < 0.25)
      request:cancel()
    end)

    it("client:run takes math.huge as no limit and NaN as none", function()
      server:script { { delay = 0.5, pass = true } }
      local request = assert(client:start("GET", url(), cc.HEADERS, nil, 10))
      local started = socket.gettime()
      assert.is_false(client:run(request, 0 / 0))
      assert.is_true(socket.gettime() - started < 0.25)
      assert.is_true(client:run(request, math.huge))
      assert.are.equal(200, (request:result()))
    end)

    it("a timeout of math.huge is no timeout", function()
      server:script { { delay = 0.3, pass = true } }
      assert.are.equal(200, (cc.call(client, "GET", url(), nil, math.huge)))
    end)
  end)

  describe("response headers", function()
    local client
    before_each(function() client = cc.new(server) end)
    after_each(function() client:close() end)

    local function many_headers(n, size)
      local h = {}
      for i = 1, n do h["x-filler-" .. i] = string.rep("h", size) end
      return h
    end

    it("over 64 KiB in all are refused as too large, not retried as a connection error", function()
      server:script { { status = 200, json = { id = "env_x" }, headers = many_headers(8, 10000) } }
      local status, failure = cc.call(client, "GET", url())
      assert.is_nil(status)
      assert.are.same({ kind = "decode", message = "response headers over 65536 bytes", status = 200 }, failure)
    end)

    it("of 1 MB in one line are refused as too large, not as out of memory", function()
      server:script { { status = 200, json = { id = "env_x" },
                        headers = { ["x-huge"] = string.rep("h", 1024 * 1024) } } }
      local status, failure = cc.call(client, "GET", url())
      assert.is_nil(status)
      assert.are.equal("decode", failure.kind)
      assert.are.equal("response headers over 65536 bytes", failure.message)
    end)

    it("just under the bound are read in full", function()
      server:script { { status = 200, json = { id = "env_x" }, headers = many_headers(6, 10000) } }
      local status, headers = cc.call(client, "GET", url())
      assert.are.equal(200, status)
      assert.are.equal(string.rep("h", 10000), headers["x-filler-6"])
    end)
  end)

  describe("stall_timeout", function()
    it("counts a slow but steady upload as progress", function()
      local port_file = os.tmpname()
      os.remove(port_file)
      -- 256 KiB every 10 ms: about 25 MB/s, so the 4 MB the kernel buffers
      -- drain in well under the stall timeout; the 24 MB body takes about a
      -- second, during which nothing at all is received.
      local cmd = string.format("env -u LD_PRELOAD %s %s %s %d %s >/dev/null 2>&1 &",
        fake.interpreter(), hosts.shell_quote(hosts.ROOT .. "/spec/support/slow_reader.lua"),
        hosts.shell_quote(port_file), 256 * 1024, "0.01")
      os.execute(cmd)
      local port
      local deadline = socket.gettime() + 5
      while not port and socket.gettime() < deadline do
        local f = io.open(port_file)
        if f then
          port = f:read("*a"):match("listening (%d+)")
          f:close()
        end
        if not port then socket.sleep(0.02) end
      end
      os.remove(port_file)
      assert(port, "the slow reader did not start")
      local client = cc.new(nil, { stall_timeout = 0.5 })
      local body = string.rep("u", 24 * 1024 * 1024)
      local started = socket.gettime()
      local status, headers, answer = cc.call(client, "POST", "http://127.0.0.1:" .. port .. "/upload",
        body, 30, { "content-type: application/octet-stream" })
      local elapsed = socket.gettime() - started
      client:close()
      assert.are.equal(200, status, status == nil and headers.kind .. ": " .. headers.message or tostring(answer))
      assert.are.equal(#body, cjson.decode(answer).read)
      assert.is_true(elapsed > 0.5, "the upload took only " .. elapsed .. " s: not slow enough to test")
    end)

    it("still ends a transfer on which nothing moves either way", function()
      server:script { { fault = "stall", seconds = 5 } }
      local client = cc.new(server, { stall_timeout = 0.3 })
      local status, failure = cc.call(client, "GET", url())
      client:close()
      assert.is_nil(status)
      assert.are.equal("timeout", failure.kind)
      assert.are.equal("no data sent or received for 300 ms (stall_timeout)", failure.message)
    end)
  end)

  describe("max_connections", function()
    -- A burst of concurrent requests opens one connection each (HTTP/1.1,
    -- the fake answering after a delay); afterwards at most max_connections
    -- stay open.
    local function burst(client, n)
      server:config { delay_ms = 300 }
      local requests = {}
      for i = 1, n do requests[i] = assert(client:start("GET", url(), cc.HEADERS, nil, 10)) end
      while client:drive(1) > 0 do end
      local ports = {}
      for _, request in ipairs(requests) do assert.are.equal(200, (request:result())) end
      for _, r in ipairs(server:requests()) do ports[r.connection] = true end
      local used = 0
      for _ in pairs(ports) do used = used + 1 end
      server:config {}
      return used
    end

    it("bounds the idle connections kept after a burst", function()
      local before = cc.count_sockets(forker)
      local client = cc.new(server, { max_connections = 4 })
      local own = cc.count_sockets(forker) - before   -- the multi handle's wake-up pair
      assert.is_true(burst(client, 12) > 8, "the burst did not open many connections")
      local idle = cc.count_sockets(forker) - before - own
      assert.is_true(idle <= 4, idle .. " connections stayed open")
      assert.is_true(idle >= 1)
      -- The kept ones are reused.
      server:reset()
      for _ = 1, 3 do assert.are.equal(200, (cc.call(client, "GET", url()))) end
      assert.are.equal(1, (function()
        local ports, n = {}, 0
        for _, r in ipairs(server:requests()) do
          if not ports[r.connection] then n = n + 1 end
          ports[r.connection] = true
        end
        return n
      end)())
      client:close()
      assert.are.equal(before, cc.count_sockets(forker))
    end)

    it("keeps 16 by default", function()
      local before = cc.count_sockets(forker)
      local client = cc.new(server)
      local own = cc.count_sockets(forker) - before
      assert.is_true(burst(client, 24) > 20, "the burst did not open many connections")
      local idle = cc.count_sockets(forker) - before - own
      assert.is_true(idle <= 16 and idle >= 8, idle .. " connections stayed open")
      client:close()
    end)
  end)
end)
