-- Section 1: LuaSocket's socket.http.request (a new connection for every
-- call, as socket.http does) decoded with cjson. Same arguments as seq.lua.
local common = require "common"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"

local base_url, seconds, max_calls, warmup = common.args()
local url = base_url .. common.PATH
local headers = { ["content-length"] = "0" }
for name, value in pairs(common.HEADERS) do headers[name] = value end

local function call()
  local chunks = {}
  local ok, status = http.request {
    url = url, method = "POST", headers = headers, sink = ltn12.sink.table(chunks),
  }
  assert(ok and status == 200, "unexpected answer: " .. tostring(status))
  return cjson.decode(table.concat(chunks))
end

common.run(call, seconds, max_calls, warmup)
