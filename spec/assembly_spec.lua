-- How the library is put together: the client's methods and the
-- one-liners come from the calls' declarations in one place (methods.lua),
-- no module adds methods when it is required, and only the modules that
-- need the network (or the C core's crypto) require the core; the others
-- take JSON and the clock from basics.lua.
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"

local CALLS = { "archive", "create", "retrieve", "update", "delete", "list",
                "work_poll", "work_ack", "work_heartbeat", "work_stop", "work_retrieve",
                "work_update", "work_list", "work_stats" }

describe("the assembly of the client", function()
  it("gives every call a blocking and an _async method, and a one-liner", function()
    local Client = environments.Client
    for _, name in ipairs(CALLS) do
      assert.are.equal("function", type(Client[name]), name)
      assert.are.equal("function", type(Client[name .. "_async"]), name .. "_async")
      assert.are.equal("function", type(environments[name]), "environments." .. name)
    end
    for _, name in ipairs { "each", "collect", "each_work", "collect_work" } do
      assert.are.equal("function", type(Client[name]), name)
      assert.are.equal("function", type(environments[name]), "environments." .. name)
    end
    for _, name in ipairs { "many", "archive_many", "work_lease" } do
      assert.are.equal("function", type(Client[name]), name)
      assert.is_nil(rawget(environments, name), "no one-liner for " .. name)
      assert.is_nil(Client[name .. "_async"])
    end
  end)

  it("adds no method when a module is required, only when methods.install runs", function()
    local code = [[
      package.path = ...
      local client = require "anthropic.environments.client"
      for _, m in ipairs { "environment_calls", "work_calls", "batch", "lease", "listing", "methods" } do
        require("anthropic.environments." .. m)
      end
      local before = {}
      for name in pairs(client.Client) do before[#before + 1] = name end
      table.sort(before)
      require("anthropic.environments.methods").install()
      print(table.concat(before, " "), client.Client.archive ~= nil, client.Client.work_lease ~= nil)]]
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(code)
    f:close()
    local p = io.popen(string.format("%s -e %s %s %s 2>&1", fake.interpreter(),
      fake.shell_quote("package.cpath = " .. string.format("%q", package.cpath)), fake.shell_quote(path),
      fake.shell_quote(package.path)))
    local out = p:read("*a")
    p:close()
    os.remove(path)
    assert.is_nil(out:find("archive", 1, true), out)
    assert.matches("\ttrue\ttrue\n$", out)
  end)

  it("requires the C core only from the modules that need it", function()
    local allowed = {
      ["lua/anthropic/environments.lua"] = true,                       -- the version check, the public face
      ["lua/anthropic/environments/basics.lua"] = true,                -- JSON and the clock, for the others
      ["lua/anthropic/environments/client.lua"] = true,
      ["lua/anthropic/environments/headers.lua"] = true,               -- libcurl's header lists
      ["lua/anthropic/environments/webhook.lua"] = true,               -- the HMAC
      ["lua/anthropic/environments/transport/curl.lua"] = true,
      ["lua/anthropic/environments/transport/ngx.lua"] = true,
    }
    local p = io.popen("find lua -name '*.lua' | sort")
    local n = 0
    for path in p:lines() do
      local text = assert(io.open(path)):read("*a")
      if text:find('require%s*%(?%s*"anthropic%.environments%.core"') then
        assert.is_true(allowed[path] == true, path .. " requires the core")
        n = n + 1
      end
    end
    p:close()
    assert.is_true(n >= 5)
  end)
end)
