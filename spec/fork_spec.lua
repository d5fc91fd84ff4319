-- Fork safety (issue 10, item 1): after fork(), a process never uses a
-- connection, TLS session or multi handle it did not open. Parent and child
-- both keep working over the one client they share, every answer reaches
-- the request that asked for it, and nothing leaks per fork. With a real
-- fork() (spec/support/forker.c, built into build/<ver>/spec_forker.so).

local forker = require "spec_forker"
local cjson = require "cjson"
local fake = require "spec.support.fake"
local cc = require "spec.support.core_client"

local IDS = 8        -- environments per process
local CALLS = 40     -- calls per process and fork

local function env_url(server, id)
  return server.url .. "/v1/environments/" .. id
end

-- Retrieves `id` and checks the answer is that environment's.
local function fetch(client, server, id)
  local status, headers, body = cc.call(client, "GET", env_url(server, id))
  if status ~= 200 then
    error(string.format("%s: %s %s %s", id, tostring(status), tostring(headers), tostring(body)), 2)
  end
  local env = cjson.decode(body)
  if env.id ~= id then error(string.format("asked for %s, got %s", id, tostring(env.id)), 2) end
end

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

-- Runs fn in a forked child, which always ends with _exit (never returning
-- into busted). Returns the child's pid and a function that waits for it
-- and raises with the child's error if it failed.
local function in_child(fn)
  local out = os.tmpname()
  local pid = assert(forker.fork())
  if pid == 0 then
    local ok, err = pcall(fn)
    if not ok then
      local f = io.open(out, "wb")
      if f then f:write(tostring(err)) f:close() end
    end
    forker._exit(ok and 0 or 1)
  end
  return pid, function()
    local code, why = forker.wait(pid)
    local message = read_all(out)
    os.remove(out)
    if code ~= 0 then error("child failed (" .. tostring(code or why) .. "): " .. message, 2) end
  end
end

for _, tls in ipairs { false, true } do
  describe("fork, over " .. (tls and "HTTPS" or "HTTP"), function()
    local server

    setup(function()
      server = fake.start { tls = tls }
      for _, who in ipairs { "parent", "child" } do
        for i = 1, IDS do
          server:put_environment { id = "env_" .. who .. "_" .. i, name = who .. " " .. i,
            scope = "organization", type = "environment",
            config = { type = "cloud", networking = { type = "unrestricted" } },
            metadata = {}, created_at = "2026-01-01T00:00:00Z", updated_at = "2026-01-01T00:00:00Z",
            archived_at = cjson.null, description = cjson.null }
        end
      end
      server:put_environment { id = "env_slow", name = "slow" }
    end)

    teardown(function() if server then server:stop() end end)

    it("parent and child each get their own answers over a client that was warm at the fork", function()
      local client = cc.new(server)
      fetch(client, server, "env_parent_1")   -- a kept-alive connection now
      local sockets = cc.count_sockets(forker)
      for round = 1, 3 do
        local _, wait = in_child(function()
          local at_fork = cc.count_sockets(forker)
          for i = 1, CALLS do fetch(client, server, "env_child_" .. (i % IDS + 1)) end
          -- The inherited connection (and the multi handle's own pair of
          -- sockets) were replaced, not added to.
          local now = cc.count_sockets(forker)
          assert(now == at_fork, string.format("child: %d sockets at the fork, %d after", at_fork, now))
          client:close()
        end)
        for i = 1, CALLS do fetch(client, server, "env_parent_" .. (i % IDS + 1)) end
        wait()
        assert.are.equal(sockets, cc.count_sockets(forker), "parent sockets after round " .. round)
      end
      client:close()
    end)

    it("a transfer running at the fork ends as a connection error in the child only", function()
      local client = cc.new(server)
      fetch(client, server, "env_parent_1")
      server:reset()
      for _, who in ipairs { "parent", "child" } do
        for i = 1, IDS do server:put_environment { id = "env_" .. who .. "_" .. i, name = who } end
      end
      server:put_environment { id = "env_slow", name = "slow" }
      server:script { { path = "/v1/environments/env_slow", delay = 0.5, pass = true } }
      local request = assert(client:start("GET", env_url(server, "env_slow"), cc.HEADERS, nil, 10))
      for _ = 1, 20 do client:drive(0.005) end   -- sent by now; the answer is 0.5 s away
      local _, wait = in_child(function()
        assert(client:drive(0) == 0, "the inherited transfer still runs in the child")
        assert(request:done(), "the inherited transfer is not done in the child")
        local status, failure = request:result()
        assert(status == nil and failure.kind == "connection", tostring(status) .. " " .. tostring(failure.kind))
        assert(failure.message:find("forked", 1, true), failure.message)
        assert(failure.reason == nil and failure.status == nil, "a fork is no certificate failure")
        fetch(client, server, "env_child_2")   -- and the client works on
      end)
      wait()
      assert.is_true(client:run(request, 10))
      local status, _, body = request:result()
      assert.are.equal(200, status)
      assert.are.equal("env_slow", cjson.decode(body).id)
      local slow = 0
      for _, r in ipairs(server:requests()) do
        if r.path == "/v1/environments/env_slow" then slow = slow + 1 end
      end
      assert.are.equal(1, slow)
      client:close()
    end)

    it("a child that only closes the client leaves the parent's connection working", function()
      server:reset()
      for i = 1, IDS do server:put_environment { id = "env_parent_" .. i, name = "p" } end
      local client = cc.new(server)
      fetch(client, server, "env_parent_1")
      local _, wait = in_child(function() client:close() end)
      wait()
      for i = 2, 6 do fetch(client, server, "env_parent_" .. i) end
      -- Still the connection opened before the fork: the child sent nothing
      -- on it (libcurl's cleanup would send a TLS close_notify, and the
      -- server would end the connection) and did not close it for the
      -- parent.
      local ports = {}
      for _, r in ipairs(server:requests()) do ports[r.connection] = true end
      local n = 0
      for _ in pairs(ports) do n = n + 1 end
      assert.are.equal(1, n)
      client:close()
    end)
  end)
end
