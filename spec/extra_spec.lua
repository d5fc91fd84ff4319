-- The per-call options that send what the library does not know yet:
-- extra_body, extra_query and extra_headers (and the headers the library
-- owns, for headers too), on the blocking, async and batch forms: the exact
-- wire, and every refusal raising before anything is sent.
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"

local ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-ant-extra"

describe("extra options", function()
  local server, _, new_client = fake.suite(KEY)

  local function raises(pattern, f, ...)
    local ok, msg = pcall(f, ...)
    assert.is_false(ok, "did not raise")
    assert.matches(pattern, msg, 1, true)
  end

  -- The fake refuses fields it does not know: answer with a canned
  -- environment instead, so only the wire is under test.
  local function canned(n)
    local items = {}
    for i = 1, n or 1 do items[i] = { status = 200, json = { id = ID, type = "environment", name = "x" } } end
    server:script(items)
  end

  describe("extra_body", function()
    it("is merged into create's body, top-level fields replacing the call's own", function()
      canned()
      local env = assert(new_client():create({ name = "checked", description = "kept" }, {
        extra_body = { name = "replaced", future_field = { nested = environments.array(), n = 3 },
                       gone = environments.null },
      }))
      assert.are.equal(ID, env.id)
      local req = server:only_request()
      assert.are.equal('{"description":"kept","future_field":{"n":3,"nested":[]},"gone":null,"name":"replaced"}',
        req.body)
      assert.are.equal("application/json", req.header_map["content-type"])
      assert.are.equal(tostring(#req.body), req.header_map["content-length"])
    end)

    it("gives archive, a POST without a body, a JSON body", function()
      local env = assert(new_client():archive(ID, { extra_body = { reason = "cleanup" } }))
      assert.are.equal(ID, env.id)
      local req = server:only_request()
      assert.are.equal('{"reason":"cleanup"}', req.body)
      assert.are.equal("application/json", req.header_map["content-type"])
    end)

    it("works on the async form and in archive_many", function()
      canned()
      local _, env = new_client():update_async(ID, { name = "n" }, { extra_body = { x = true } }):wait()
      assert.are.equal(ID, env.id)
      assert.are.equal('{"name":"n","x":true}', server:only_request().body)
      server:reset()
      local results = new_client():archive_many({ ID, "env_unrestricted01" }, { extra_body = { y = 1 } })
      assert.are.equal(ID, results[ID].id)
      local reqs = server:requests()
      assert.are.equal(2, #reqs)
      for _, req in ipairs(reqs) do assert.are.equal('{"y":1}', req.body) end
    end)

    it("is a private copy: changing the table later changes nothing sent", function()
      canned(2)
      local client = new_client()
      local extra = { meta = { a = "1" } }
      local results = client:many({ { "update", ID, { name = "a" } }, { "update", ID, { name = "b" } } },
        { concurrency = 1, extra_body = extra,
          on_result = function() extra.meta.a = "changed" end })
      assert.are.equal(ID, results[1].id)
      local reqs = server:requests()
      assert.are.equal('{"meta":{"a":"1"},"name":"a"}', reqs[1].body)
      assert.are.equal('{"meta":{"a":"1"},"name":"b"}', reqs[2].body)
    end)

    it("does not let unknown params through: typos still raise", function()
      local client = new_client()
      raises("unknown parameter 'nmae'", client.create, client, { name = "x", nmae = "y" },
        { extra_body = { nmae = "y" } })
    end)

    it("is refused on calls without a body, before anything is sent", function()
      local client = new_client()
      raises("anthropic.environments.retrieve: option 'extra_body' is for calls that send a body (POST), not GET",
        client.retrieve, client, ID, { extra_body = { a = 1 } })
      raises("retrieve_async: option 'extra_body' is for calls that send a body (POST), not GET",
        client.retrieve_async, client, ID, { extra_body = { a = 1 } })
      raises("delete: option 'extra_body' is for calls that send a body (POST), not DELETE",
        client.delete, client, ID, { extra_body = { a = 1 } })
      raises("list: option 'extra_body'", client.list, client, nil, { extra_body = { a = 1 } })
      raises("each: option 'extra_body'", client.each, client, nil, { extra_body = { a = 1 } })
      assert.are.equal(0, #server:requests())
    end)

    it("is checked: a table of string keys to JSON values, at most 1 MiB", function()
      local client = new_client()
      local function body_raises(pattern, value)
        raises("anthropic.environments.create: " .. pattern, client.create, client, { name = "x" },
          { extra_body = value })
      end
      body_raises("option 'extra_body' must be a table of field names to JSON values (got string)", "x")
      body_raises("option 'extra_body' must be a table of field names to JSON values (got table)",
        environments.array { 1 })
      body_raises("option 'extra_body' must have string keys (got a number key)", { 1, 2 })
      body_raises("option 'extra_body' cannot be sent as JSON: ", { f = print })
      body_raises("option 'extra_body' cannot be sent as JSON: ", { n = 0 / 0 })
      local cycle = {}
      cycle.self = cycle
      body_raises("option 'extra_body' cannot be sent as JSON: ", { c = cycle })
      body_raises("option 'extra_body' is larger than 1048576 bytes as JSON", { big = ("x"):rep(1024 * 1024) })
      assert.are.equal(0, #server:requests())
    end)

    it("stops encoding at the cap: a value whose tables are shared costs no more than the cap", function()
      -- 20 levels of { a = t, b = t }: a few tables standing for 2^20 leaves,
      -- about 26 MB of JSON.
      local bomb = { leaf = "x" }
      for _ = 1, 20 do bomb = { a = bomb, b = bomb } end
      local client = new_client()
      local function peak_kb()   -- the process's peak resident memory (Linux)
        local f = io.open("/proc/self/status")
        if not f then return nil end
        local kb = tonumber(f:read("*a"):match("VmHWM:%s*(%d+)"))
        f:close()
        return kb
      end
      collectgarbage()
      local reset = io.open("/proc/self/clear_refs", "w")   -- peak := now, where Linux allows it
      if reset then
        reset:write("5")
        reset:close()
      end
      local before, started = peak_kb(), os.clock()
      raises("anthropic.environments.create: option 'extra_body' is larger than 1048576 bytes as JSON",
        client.create, client, { name = "x" }, { extra_body = { bomb = bomb } })
      local grew = before and peak_kb() - before
      assert.is_true(os.clock() - started < 5, "took " .. (os.clock() - started) .. " s of CPU")
      if grew then assert.is_true(grew < 12 * 1024, "the peak memory grew by " .. grew .. " KiB") end
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("extra_query", function()
    it("is added to the query, encoded and sorted, replacing the call's own parameter of the same name", function()
      local page = assert(new_client():list({ include_archived = true, limit = 5 }, {
        extra_query = { limit = 7, ["new field"] = "a&b=c /é", flag = false, n = 2.5, big = 2 ^ 40 },
      }))
      assert.are.equal("table", type(page.data))
      local req = server:only_request()
      assert.are.equal("include_archived=true&big=1099511627776&flag=false&limit=7&n=2.5"
        .. "&new%20field=a%26b%3Dc%20%2F%C3%A9", req.query)
    end)

    it("gives a call without a query one, on the async form and every page of each", function()
      local client = new_client()
      local _, env = client:retrieve_async(ID, { extra_query = { beta_view = "full" } }):wait()
      assert.are.equal(ID, env.id)
      assert.are.equal("/v1/environments/" .. ID, server:only_request().path)
      assert.are.equal("beta_view=full", server:only_request().query)
      server:reset()
      local n = 0
      for env2 in client:each({ limit = 1 }, { extra_query = { x = 1 } }) do
        n = n + 1
        assert.is_table(env2)
      end
      local reqs = server:requests()
      assert.are.equal(3, n)   -- the seed, a page each
      assert.are.equal(3, #reqs)
      assert.are.equal("limit=1&x=1", reqs[1].query)
      assert.matches("^limit=1&page=page_%x+&x=1$", reqs[2].query)
    end)

    it("goes on every request of archive_many", function()
      new_client():archive_many({ ID, "env_selfhosted01" }, { extra_query = { dry = true } })
      for _, req in ipairs(server:requests()) do assert.are.equal("dry=true", req.query) end
    end)

    it("is checked: names and values without control characters, capped", function()
      local client = new_client()
      local function query_raises(pattern, value)
        raises("anthropic.environments.retrieve: " .. pattern, client.retrieve, client, ID, { extra_query = value })
      end
      query_raises("option 'extra_query' must be a table of parameter names to values (got string)", "a=1")
      query_raises("option 'extra_query' has an invalid parameter name ''", { [""] = "x" })
      query_raises("option 'extra_query' has an invalid parameter name 1", { "x" })
      query_raises("option 'extra_query' has an invalid parameter name 'a\nb'", { ["a\nb"] = "x" })
      query_raises("extra_query['a'] must be a string, number or boolean (got table)", { a = {} })
      query_raises("extra_query['a'] must be a finite number", { a = 0 / 0 })
      query_raises("extra_query['a'] must be a finite number", { a = math.huge })
      query_raises("extra_query['a'] must not contain control characters", { a = "x\r\nHost: evil" })
      query_raises("extra_query['a'] is longer than 8192 bytes", { a = ("x"):rep(8193) })
      local many = {}
      for i = 1, 101 do many["p" .. i] = i end
      query_raises("option 'extra_query' has more than 100 entries", many)
      assert.are.equal(0, #server:requests())
    end)
  end)

  describe("extra_headers", function()
    it("beats headers, which beat the client's", function()
      local client = new_client { headers = { ["x-a"] = "client", ["x-b"] = "client", ["x-c"] = "client" } }
      assert(client:retrieve(ID, { headers = { ["x-b"] = "call", ["X-C"] = "call" },
                                   extra_headers = { ["x-c"] = "extra", ["x-new"] = "1" } }))
      local req = server:only_request()
      local seen = {}
      for _, kv in ipairs(req.headers) do seen[kv[1]] = (seen[kv[1]] or 0) + 1 end
      assert.are.equal("client", req.header_map["x-a"])
      assert.are.equal("call", req.header_map["x-b"])
      assert.are.equal("extra", req.header_map["x-c"])
      assert.are.equal("1", req.header_map["x-new"])
      assert.are.equal(1, seen["x-c"])
    end)

    it("may replace the version and credentials, as headers may", function()
      assert(new_client():archive(ID, { extra_headers = { ["anthropic-version"] = "2023-01-01",
                                                          ["x-api-key"] = "other" } }))
      local h = server:only_request().header_map
      assert.are.equal("2023-01-01", h["anthropic-version"])
      assert.are.equal("other", h["x-api-key"])
    end)

    it("works on the async form, in many and in archive_many", function()
      local client = new_client()
      client:archive_async(ID, { extra_headers = { ["x-t"] = "async" } }):wait()
      assert.are.equal("async", server:only_request().header_map["x-t"])
      server:reset()
      client:archive_many({ ID, "env_selfhosted01" }, { extra_headers = { ["x-t"] = "many" } })
      for _, req in ipairs(server:requests()) do assert.are.equal("many", req.header_map["x-t"]) end
      server:reset()
      client:many({ { "retrieve", ID, { extra_headers = { ["x-t"] = "own" } } }, { "retrieve", ID } },
        { extra_headers = { ["x-t"] = "default" }, concurrency = 1 })
      local reqs = server:requests()
      assert.are.equal("own", reqs[1].header_map["x-t"])
      assert.are.equal("default", reqs[2].header_map["x-t"])
    end)

    it("refuses the headers the library owns, in headers and extra_headers alike", function()
      local client = new_client()
      for _, name in ipairs { "content-length", "Content-Type", "HOST", "transfer-encoding", "connection",
                              "expect", "te", "upgrade", "keep-alive", "proxy-connection", "trailer" } do
        raises(string.format("anthropic.environments.update: header '%s' is set by the library and cannot be given", name),
          client.update, client, ID, { name = "x" }, { extra_headers = { [name] = "1" } })
        raises(string.format("anthropic.environments.archive: header '%s' is set by the library", name),
          client.archive, client, ID, { headers = { [name] = "1" } })
        raises(string.format("anthropic.environments.new: header '%s' is set by the library", name),
          environments.new, { api_key = KEY, headers = { [name] = "1" } })
      end
      assert.are.equal(0, #server:requests())
    end)

    it("is checked for names, control characters and size", function()
      local client = new_client()
      local function headers_raises(pattern, value)
        raises("anthropic.environments.retrieve: " .. pattern, client.retrieve, client, ID, { extra_headers = value })
      end
      headers_raises("option 'extra_headers' must be a table of header names to values", "x-a: 1")
      headers_raises("header name x a is not a valid HTTP header name", { ["x a"] = "1" })
      headers_raises("header 'x-a' must not contain control characters", { ["x-a"] = "1\r\nx-b: 2" })
      headers_raises("header 'x-a' must be a string (got number)", { ["x-a"] = 1 })
      headers_raises("header 'x-a' is longer than 8192 bytes", { ["x-a"] = ("v"):rep(8193) })
      headers_raises("header name 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is longer than 256 bytes",
        { [("n"):rep(257)] = "v" })
      local many = {}
      for i = 1, 101 do many["x-h" .. i] = "v" end
      headers_raises("option 'extra_headers' has more than 100 entries", many)
      assert.are.equal(0, #server:requests())
    end)
  end)

  it("refusals raise at the caller's line", function()
    local client = new_client()
    local ok, msg = pcall(function()
      client:archive(ID, { extra_headers = { ["content-length"] = "1" } })   -- this line
    end)
    assert.is_false(ok)
    local line = debug.getinfo(1, "l").currentline - 3
    assert.matches("extra_spec.lua:" .. line .. ": ", msg, 1, true)
  end)

  it("the extra options and with_response are per call, not client defaults", function()
    for _, name in ipairs { "extra_body", "extra_query", "extra_headers", "with_response" } do
      raises("anthropic.environments.new: unknown option '" .. name .. "'", environments.new,
        { api_key = KEY, [name] = {} })
    end
  end)
end)
