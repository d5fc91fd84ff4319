-- The validation every option and header goes through (check.lua): empty
-- header values and numeric options out of range are programmer mistakes,
-- raised at the caller's line before anything is sent, whatever the
-- transport.
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"

local ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local ENV = "env_selfhosted01"

describe("validation", function()
  local server, _, new_client = fake.suite("sk-validation")
  -- the clients made here close their connections now, not during a later
  -- file's count of sockets
  teardown(function() collectgarbage() collectgarbage() end)

  -- f() must raise `message` (plain text) blamed on the line of this file
  -- that called the library, and nothing may reach the server.
  local function raises(message, f)
    local ok, err = pcall(f)
    assert.is_false(ok, "expected an error: " .. message)
    assert.matches("anthropic.environments." .. message, err, 1, true)
    assert.matches("^[^:]*validation_spec%.lua:%d+: ", err)
    assert.are.equal(0, #server:requests())
  end

  describe("empty header values", function()
    -- libcurl would drop such a header, and its own of that name with it
    -- (an empty X-Api-Key: a call without credentials), where cosockets
    -- send it empty: refused before a transport is chosen, so the same on
    -- both.
    for _, value in ipairs { "", " ", "\t " } do
      it(string.format("are refused in headers and extra_headers (%q)", value), function()
        local client = new_client()
        raises("archive: header 'X-Api-Key' must not be empty",
          function() client:archive(ID, { headers = { ["X-Api-Key"] = value } }) end)
        raises("archive: header 'X-Api-Key' must not be empty",
          function() client:archive(ID, { extra_headers = { ["X-Api-Key"] = value } }) end)
        raises("retrieve_async: header 'X-Trace' must not be empty",
          function() client:retrieve_async(ID, { extra_headers = { ["X-Trace"] = value } }) end)
        raises("work_poll: header 'Anthropic-Worker-ID' must not be empty",
          function() client:work_poll(ENV, nil, { headers = { ["Anthropic-Worker-ID"] = value } }) end)
        raises("many: header 'X-Trace' must not be empty",
          function() client:many({ { "retrieve", ID } }, { extra_headers = { ["X-Trace"] = value } }) end)
      end)
    end

    it("are refused in the client's options", function()
      raises("new: header 'X-Api-Key' must not be empty",
        function() new_client { headers = { ["X-Api-Key"] = "" } } end)
      raises("new: option 'api_key' must not be empty", function() new_client { api_key = "" } end)
      raises("new: option 'auth_token' must not be empty", function() new_client { auth_token = "" } end)
      raises("new: option 'workspace_id' must not be empty", function() new_client { workspace_id = "" } end)
      raises("archive: option 'workspace_id' must not be empty",
        function() new_client():archive(ID, { workspace_id = "" }) end)
    end)

    it("leave a header with a value as it was", function()
      assert(new_client():archive(ID, { extra_headers = { ["X-Trace"] = "0" } }))
      assert.are.equal("0", server:only_request().header_map["x-trace"])
    end)
  end)

  describe("numeric options out of range", function()
    it("max_body: a whole number of bytes up to 10^15, raised as an argument error", function()
      for _, bad in ipairs { 1e16, 2 ^ 63, math.huge, -1, 0 / 0, 1.5, "1000" } do
        raises("new: option 'max_body' must be a whole number from 0 to 1000000000000000",
          function() new_client { max_body = bad } end)
      end
      assert(new_client { max_body = 1e15 }:archive(ID))
    end)

    it("the timeouts: positive seconds up to 10^9", function()
      for _, name in ipairs { "timeout", "connect_timeout", "stall_timeout" } do
        for _, bad in ipairs { 0, -1, 1e10, math.huge, 0 / 0, "5" } do
          raises("new: option '" .. name .. "' must be a positive number of seconds, at most 1000000000",
            function() new_client { [name] = bad } end)
        end
      end
      for _, bad in ipairs { 0, 1e10, math.huge } do
        raises("archive: option 'timeout' must be a positive number of seconds",
          function() new_client():archive(ID, { timeout = bad }) end)
      end
    end)

    it("the counts: whole numbers in their range", function()
      local client = new_client()
      local cases = {
        { "new: option 'max_retries' must be a whole number from 0 to 100",
          function(v) new_client { max_retries = v } end, { -1, 101, 1.5, math.huge } },
        { "archive: option 'max_retries' must be a whole number from 0 to 100",
          function(v) client:archive(ID, { max_retries = v }) end, { -1, 101, 0 / 0 } },
        { "new: option 'max_idle_connections' must be a whole number from 1 to 100000",
          function(v) new_client { max_idle_connections = v } end, { 0, 100001, 1e300 } },
        { "many: option 'concurrency' must be a whole number from 1 to 1000",
          function(v) client:many({ { "retrieve", ID } }, { concurrency = v }) end, { 0, 1001, 2.5 } },
        { "each: option 'max_pages' must be a whole number from 1 to 1000000000",
          function(v) client:each(nil, { max_pages = v }) end, { 0, 1e10, math.huge } },
        { "collect: option 'max_items' must be a whole number from 1 to 1000000000",
          function(v) client:collect(nil, { max_items = v }) end, { 0, 1e10, -3 } },
        { "work_lease: option 'desired_ttl_seconds' must be a whole number from 1 to 1000000000",
          function(v) client:work_lease(ENV, "work_1", { desired_ttl_seconds = v }) end, { 0, 1e10 } },
        { "work_lease: option 'interval' must be a positive number of seconds, at most 1000000000",
          function(v) client:work_lease(ENV, "work_1", { interval = v }) end, { 0, 1e10, math.huge } },
      }
      for _, case in ipairs(cases) do
        for _, bad in ipairs(case[3]) do raises(case[1], function() case[2](bad) end) end
      end
    end)
  end)

  it("the one-liners refuse them as the methods do", function()
    raises("archive: header 'X-Api-Key' must not be empty",
      function() environments.archive(ID, { headers = { ["X-Api-Key"] = "" } }) end)
  end)
end)
