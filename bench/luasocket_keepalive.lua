-- Section 1: a hand-written HTTP/1.1 call over one kept-alive LuaSocket TCP
-- connection, decoded with cjson: what a careful user writes without a
-- client library. Same arguments as seq.lua. Section 5: with an https://
-- URL the connection goes through LuaSec, trusting $BENCH_CA_FILE.
local common = require "common"
local socket = require "socket"
local cjson = require "cjson"

local base_url, seconds, max_calls, warmup = common.args()
local scheme, host, port = base_url:match("^(https?)://([^:/]+):(%d+)$")
assert(host, "expected http(s)://host:port")

local lines = { "POST " .. common.PATH .. " HTTP/1.1", "host: " .. host .. ":" .. port, "content-length: 0" }
for name, value in pairs(common.HEADERS) do lines[#lines + 1] = name .. ": " .. value end
local request = table.concat(lines, "\r\n") .. "\r\n\r\n"

local conn = assert(socket.connect(host, tonumber(port)))
conn:setoption("tcp-nodelay", true)
if scheme == "https" then
  local ssl = require "ssl"
  conn = assert(ssl.wrap(conn, {
    mode = "client", protocol = "any", verify = "peer", options = "all",
    cafile = assert(os.getenv("BENCH_CA_FILE"), "set BENCH_CA_FILE"),
  }))
  conn:sni(host)
  assert(conn:dohandshake())
end

local function call()
  assert(conn:send(request))
  local status_line = assert(conn:receive("*l"))
  local status = tonumber(status_line:match("^HTTP/1%.%d (%d%d%d)"))
  local length
  while true do
    local line = assert(conn:receive("*l"))
    if line == "" then break end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name and name:lower() == "content-length" then length = tonumber(value) end
  end
  assert(status == 200 and length, "unexpected answer: " .. status_line)
  local body = assert(conn:receive(length))
  return cjson.decode(body)
end

common.run(call, seconds, max_calls, warmup)
conn:close()
