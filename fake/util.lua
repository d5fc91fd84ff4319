-- Small helpers shared by the fake's modules: logging, query strings, hex,
-- base64, header lookup, and the fake's clock.
local cqueues = require "cqueues"

local M = {}

function M.log(...)
  io.stderr:write("[fake] ", table.concat({ ... }), "\n")
end

function M.percent_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

function M.parse_query(q)
  local params = {}
  for pair in q:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    params[M.percent_decode((k:gsub("+", " ")))] = M.percent_decode((v:gsub("+", " ")))
  end
  return params
end

function M.utf8_len(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

function M.hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

function M.unhex(s)
  if #s % 2 ~= 0 or s:find("[^%x]") then return nil end
  return (s:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

-- The recorded request's first value for a header name (names are lower-case).
function M.header(req, name)
  for _, kv in ipairs(req.headers) do
    if kv[1] == name then return kv[2] end
  end
end

------------------------------------------------------------------------------
-- Base64 (RFC 4648, with padding)
------------------------------------------------------------------------------
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64_VALUE = {}
for i = 1, 64 do B64_VALUE[B64:byte(i)] = i - 1 end

function M.base64_encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local d1, d2 = math.floor(n / 262144), math.floor(n / 4096) % 64
    local d3, d4 = math.floor(n / 64) % 64, n % 64
    out[#out + 1] = B64:sub(d1 + 1, d1 + 1) .. B64:sub(d2 + 1, d2 + 1)
      .. (b and B64:sub(d3 + 1, d3 + 1) or "=") .. (c and B64:sub(d4 + 1, d4 + 1) or "=")
  end
  return table.concat(out)
end

-- Returns the decoded bytes, or nil when `s` is not canonical base64.
function M.base64_decode(s)
  if #s % 4 ~= 0 or s:find("[^%w+/=]") or s:find("=[^=]") or s:find("===") then
    return nil
  end
  local out = {}
  for i = 1, #s, 4 do
    local n, pad = 0, 0
    for j = i, i + 3 do
      local v = B64_VALUE[s:byte(j)]
      if v == nil then pad = pad + 1; v = 0 end
      n = n * 64 + v
    end
    local bytes = string.char(math.floor(n / 65536), math.floor(n / 256) % 256, n % 256)
    out[#out + 1] = bytes:sub(1, 3 - pad)
  end
  return table.concat(out)
end

------------------------------------------------------------------------------
-- Clock: wall time with sub-second resolution, which tests can move forward
-- (POST /_fake/clock). Leases, reclaim ages and timestamps all read it.
------------------------------------------------------------------------------
-- luasocket's gettime has sub-second resolution; os.time() could lag a second.
local has_socket, socket = pcall(require, "socket")
local wall0 = has_socket and socket.gettime() or os.time()
local mono0 = cqueues.monotime()
local offset = 0

function M.clock()
  return wall0 + (cqueues.monotime() - mono0) + offset
end

function M.advance_clock(seconds)
  offset = offset + seconds
end

function M.reset_clock()
  offset = 0
end

-- RFC 3339 in UTC; with `micro`, six fractional digits.
function M.rfc3339(t, micro)
  local s = math.floor(t)
  local out = os.date("!%Y-%m-%dT%H:%M:%S", s)
  if micro then
    out = out .. string.format(".%06d", math.floor((t - s) * 1e6))
  end
  return out .. "Z"
end

function M.now()
  return M.rfc3339(M.clock())
end

return M
