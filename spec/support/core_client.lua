-- The C core (anthropic.environments.core) driven directly, as the Lua
-- layer drives it, for the specs of the core itself: one blocking call is
-- client:start, client:run, request:result.
--
--   local cc = require "spec.support.core_client"
--   local client = cc.new(server)             -- core.new{...} for that fake
--   local status, headers, body = cc.call(client, "GET", server.url .. "/v1/environments/x")
--   -- or nil, failure: { kind =, message =, status = (seen, or nil), reason = }

local core = require "anthropic.environments.core"

local M = {}

-- The headers the fake wants on /v1 requests, as "Name: value" lines.
M.HEADERS = {
  "x-api-key: sk-fake-test",
  "anthropic-version: 2023-06-01",
  "anthropic-beta: managed-agents-2026-04-01",
  "accept: application/json",
}
M.JSON_HEADERS = { "content-type: application/json" }
for i, line in ipairs(M.HEADERS) do M.JSON_HEADERS[i + 1] = line end

-- core.new for `server` (trusting its certificate over TLS); opts add to the
-- config.
function M.new(server, opts)
  local config = { ca_file = server and server.ca_file }
  for k, v in pairs(opts or {}) do config[k] = v end
  return assert(core.new(config))
end

-- One attempt, to its end: status, headers, body  or  nil, failure.
function M.call(client, method, url, body, timeout, headers)
  local request, failure = client:start(method, url,
    headers or (body and M.JSON_HEADERS or M.HEADERS), body, timeout or 10)
  if not request then return nil, failure end
  assert(client:run(request, 30), "the request did not end within 30 s")
  return request:result()
end

-- The number of open socket descriptors of this process (needs spec_forker).
function M.count_sockets(forker)
  local n = 0
  for _, target in pairs(forker.fds()) do
    if target:find("^socket:") then n = n + 1 end
  end
  return n
end

return M
