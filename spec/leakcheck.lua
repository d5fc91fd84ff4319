-- C-level leak check driver, run under valgrind by scripts/run-tests:
--   valgrind --leak-check=full lua5.4 spec/leakcheck.lua [CALLS]
-- Makes CALLS calls against the fake API, mixing successes, API errors,
-- decode errors and connection failures, on one client and on fresh ones,
-- with request bodies through the C encoder and its failures.
package.path = "lua/?.lua;lua/?/init.lua;./?.lua;" .. package.path
package.cpath = "build/5.4/?.so;" .. package.cpath

local environments = require "anthropic.environments"
local fake = require "spec.support.fake"

local calls = tonumber(arg[1]) or 1000
local server = fake.start()
local ok, err = pcall(function()
  local client = environments.new { base_url = server.url, api_key = "sk-leak", max_retries = 0 }
  local refused = environments.new { base_url = "http://127.0.0.1:1", api_key = "sk-leak", max_retries = 0 }
  server:script { { status = 200, body = "{\"id\": " }, { status = 502, body = "<html></html>" } }
  for i = 1, calls do
    local kind = i % 10
    if kind == 1 then
      assert(not client:archive("env_missing"))
    elseif kind == 2 then
      assert(not refused:archive("env_x"))
    elseif kind == 4 then
      -- a body through the C encoder, and the encoder's failure paths
      local env = assert(client:create { name = "leak-" .. i, metadata = { k = "v" },
        config = { type = "cloud", packages = { pip = { "a" }, npm = {} } } })
      assert(client:update(env.id, { description = environments.null }))
      assert(client:delete(env.id))
      local cycle = {}
      cycle.self = cycle
      assert(not environments.encode(cycle))
      assert(not environments.encode({ a = { 0 / 0 } }))
      assert(not environments.encode({ [1] = 1, x = 2 }))
    elseif kind == 5 then
      local n = 0
      for _ in client:each { limit = 2 } do
        n = n + 1
        if n == 3 then break end   -- two pages, then the iterator is dropped
      end
      assert(client:delete("env_missing") == nil)
    elseif kind == 3 then
      local fresh = environments.new { base_url = server.url, api_key = "sk-leak" }
      assert(fresh:archive("env_011CZkZ9X2dpNyB7HsEFoRfW"))
      if i % 20 == 3 then fresh:close() end   -- the others go to __gc
    else
      client:archive("env_011CZkZ9X2dpNyB7HsEFoRfW")
    end
  end
  client:close()
  collectgarbage()
  collectgarbage()
end)
server:stop()
if not ok then
  io.stderr:write("leakcheck failed: ", tostring(err), "\n")
  os.exit(1)
end
print(string.format("leakcheck: %d calls done", calls))
