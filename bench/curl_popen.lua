-- Section 1: the curl command line through io.popen for every call, decoded
-- with cjson: the quickest thing to write from Lua. Same arguments as seq.lua.
local common = require "common"
local cjson = require "cjson"

local base_url, seconds, max_calls, warmup = common.args()
local parts = { "curl -sS --fail -X POST" }
for name, value in pairs(common.HEADERS) do parts[#parts + 1] = "-H '" .. name .. ": " .. value .. "'" end
parts[#parts + 1] = "'" .. base_url .. common.PATH .. "'"
local command = table.concat(parts, " ")

local function call()
  local p = assert(io.popen(command, "r"))
  local body = p:read("*a")
  assert(p:close(), "curl failed")
  return cjson.decode(body)
end

common.run(call, seconds, max_calls, warmup)
