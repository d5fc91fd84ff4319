-- transport/common.lua: the limits' defaults and the failure texts both
-- transports share. Each transport is checked against it: libcurl here, on
-- every runtime; nginx's cosockets inside nginx (LuaJIT, once per `make
-- test`).
local environments = require "anthropic.environments"
local common = require "anthropic.environments.transport.common"
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"

local ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"

-- The failures every transport must word as common.lua does, as a function
-- of a client's options (a table constructor's contents) and a fake; each
-- gives the call to make and the message expected.
local CASES = {
  { name = "a body over max_body", opts = "max_body = 1000",
    script = { { status = 200, body_size = 5000 } }, message = common.body_too_large(1000) },
  { name = "an answer that stalls", opts = "stall_timeout = 0.3",
    script = { { fault = "stall_body", status = 200, body = '{"id":', seconds = 3 } },
    message = common.stalled(0.3) },
  { name = "an attempt's timeout", opts = "timeout = 0.3",
    script = { { fault = "stall", seconds = 3 } },
    pattern = "^" .. common.timed_out(999, 0):gsub("%p", "%%%0"):gsub("999", "%%d+") .. "$" },
}

describe("the texts and limits both transports share", function()
  it("are the client's defaults", function()
    assert.are.equal(common.DEFAULT_MAX_BODY, environments.DEFAULT_MAX_BODY)
    assert.are.equal(16 * 1024 * 1024, common.DEFAULT_MAX_BODY)
    assert.are.equal(common.DEFAULT_CONNECT_TIMEOUT, environments.DEFAULT_CONNECT_TIMEOUT)
    assert.are.equal(common.DEFAULT_TIMEOUT, environments.DEFAULT_TIMEOUT)
  end)

  describe("libcurl says them", function()
    local server
    setup(function() server = fake.start() end)
    teardown(function() server:stop() end)
    before_each(function() server:reset() end)

    for _, case in ipairs(CASES) do
      it(case.name, function()
        server:script(case.script)
        local opts = assert((loadstring or load)("return { " .. case.opts .. " }"))()
        opts.base_url, opts.api_key, opts.max_retries = server.url, "k", 0
        local _, err = environments.new(opts):archive(ID)
        assert.are.equal("curl", err.transport)
        if case.message then
          assert.are.equal(case.message, err.message)
        else
          assert.matches(case.pattern, err.message)
        end
      end)
    end

    it("a call ended by close", function()
      server:config { delay_ms = 2000 }
      local c = environments.new { base_url = server.url, api_key = "k", max_retries = 0 }
      local call = c:archive_async(ID)
      c:drive(0.05)
      c:close()
      local done, _, err = call:poll()
      assert.is_true(done)
      assert.are.same({ "cancelled", common.CLOSED }, { err.kind, err.message })
    end)
  end)

  if not hosts.ONCE then return end
  local cosocket = require "spec.support.cosocket"
  describe("nginx's cosockets say them", function()
    local missing = cosocket.missing()
    if missing then
      pending("nginx with its Lua module is not installed: " .. missing)
      return
    end
    local h = cosocket.suite()

    for _, case in ipairs(CASES) do
      it(case.name, function()
        h.api:script(case.script)
        local r = h.results(h.client("transport = 'ngx', max_retries = 0, " .. case.opts)
          .. "local v, e = c:archive(ctx.id) return e")
        assert.are.equal("ngx", r[1].transport)
        if case.message then
          assert.are.equal(case.message, r[1].message)
        else
          assert.matches(case.pattern, r[1].message)
        end
      end)
    end

    it("a call ended by close", function()
      h.api:config { delay_ms = 2000 }
      local r = h.results(h.client("transport = 'ngx', max_retries = 0") .. [[
        local call = c:archive_async(ctx.id)
        ngx.sleep(0.05)
        c:close()
        local _, _, e = call:wait()
        return e
      ]])
      assert.are.same({ "cancelled", require("anthropic.environments.transport.common").CLOSED },
        { r[1].kind, r[1].message })
    end)
  end)
end)
