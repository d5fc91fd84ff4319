-- An HTTP/1.1 upstream inside nginx for spec/nginx_pool_spec.lua, in a
-- content handler that takes the raw connection (ngx.req.socket(true)) and
-- serves every request that comes on it. Each answer is an environment
-- whose name is the x-api-key of the request it answers, so a spec sees at
-- once an answer that reached the wrong client. One answer in ten glitches:
--   - "late": a complete answer, then a second one 2 ms later, unasked;
--   - "204": a 204 that announces a Content-Length, its body 2 ms later
--     (itself a complete answer);
--   - "headers": (path /v1/environments/env_headers) 40,000 repeated
--     header lines, to be refused as too large;
--   - "stall": (path /v1/environments/env_stall) the answer 1 s late.
local M = {}

local count = 0

local function answer(key)
  count = count + 1
  local body = string.format('{"id":"env_glitch%06d","type":"environment","name":"%s"}', count, key)
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
end

local function hostile_headers()
  local t = { "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" }
  for i = 2, 40001 do t[i] = "X-Repeat: a\r\n" end
  t[#t + 1] = "Content-Length: 2\r\n\r\n{}"
  return table.concat(t)
end

-- Reads the next request's head (and body); nil when the client is gone.
local function next_request(sock)
  local line = sock:receive("*l")
  if not line then return nil end
  local key, length = "", 0
  while true do
    local h = sock:receive("*l")
    if not h then return nil end
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    name = name and name:lower()
    if name == "x-api-key" then key = value end
    if name == "content-length" then length = tonumber(value) end
  end
  if length > 0 and not sock:receive(length) then return nil end
  return key, line:match("^%S+ (%S+)")
end

M.served = 0

function M.serve()
  local sock = assert(ngx.req.socket(true))
  sock:settimeout(10000)
  local key, path = ngx.var.http_x_api_key or "", ngx.var.request_uri
  while key do
    M.served = M.served + 1
    local n = M.served
    if path:find("env_headers", 1, true) then
      sock:send(hostile_headers())
    elseif path:find("env_stall", 1, true) then
      ngx.sleep(1)
      sock:send(answer(key))
    elseif n % 20 == 0 then
      local late = answer(key)
      sock:send("HTTP/1.1 204 No Content\r\nContent-Length: " .. #late .. "\r\n\r\n")
      ngx.sleep(0.002)
      sock:send(late)
    elseif n % 10 == 0 then
      sock:send(answer(key))
      ngx.sleep(0.002)
      sock:send(answer(key))
    else
      sock:send(answer(key))
    end
    key, path = next_request(sock)
  end
end

return M
