-- Issue 10's fork case inside nginx: a client that made a call in
-- init_by_lua_block, before the master forks its workers, is then used by
-- every worker at once (on libcurl, forced: the content handlers would
-- otherwise take cosockets). Every answer must be the environment asked
-- for: no worker reads another's answer off the inherited connection.
-- LuaJIT only, like the other nginx specs.
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"
local nginx = require "spec.support.nginx"

if not hosts.ONCE then return end

local KEY = "sk-nginx-fork-test"
local WORKERS = 4
local IDS = { "env_011CZkZ9X2dpNyB7HsEFoRfW", "env_selfhosted01", "env_unrestricted01" }

local CONF = nginx.conf { workers = "@WORKERS@", http = [[
    init_by_lua_block {
        local environments = require "anthropic.environments"
        client = environments.new { base_url = "@API@", api_key = "@KEY@", transport = "curl",
                                    max_retries = 0 }
        -- the warm-up: a live kept-alive connection before the fork
        assert(client:retrieve("env_011CZkZ9X2dpNyB7HsEFoRfW"))
    }
    server {
        listen 127.0.0.1:@PORT@;
        location = /get {
            content_by_lua_block {
                local env, err = client:retrieve(ngx.var.arg_id)
                ngx.say(ngx.var.arg_id, " ", env and env.id or tostring(err), " ", ngx.worker.pid())
            }
        }
    }
]] }

local missing = nginx.missing()

describe("inside nginx, a client warmed up before the workers fork", function()
  if missing then
    pending("nginx with its Lua module is not installed: " .. missing)
    return
  end

  local api, server
  setup(function()
    api = fake.start()
    api:config { delay_ms = 30 }   -- answers overlap across the workers
    server = nginx.start {
      master = true,
      conf = CONF:gsub("@WORKERS@", tostring(WORKERS)):gsub("@ROOT@", hosts.ROOT)
        :gsub("@API@", api.url):gsub("@KEY@", KEY),
    }
  end)
  teardown(function()
    if server then server:stop() end
    if api then api:stop() end
  end)

  it("gives every request its own answer, from every worker", function()
    local pending_requests, workers, wrong = {}, {}, {}
    for round = 1, 10 do
      for i = 1, 12 do   -- 12 at once, spread over the workers
        local id = IDS[(round + i) % #IDS + 1]
        pending_requests[#pending_requests + 1] = { id = id, req = server:send("/get?id=" .. id) }
      end
      for _, p in ipairs(pending_requests) do
        local status, body = p.req.finish()
        assert.are.equal(200, status, tostring(body))
        local asked, got, pid = body:match("^(%S+) (%S+) (%d+)")
        assert.are.equal(p.id, asked)
        if got ~= asked then wrong[#wrong + 1] = body end
        workers[pid] = true
      end
      pending_requests = {}
    end
    assert.are.same({}, wrong)
    local n = 0
    for _ in pairs(workers) do n = n + 1 end
    assert.is_true(n >= 2, "only " .. n .. " worker answered")
    assert.are.equal(121, #api:requests())   -- the warm-up and 120, each once
  end)
end)
