-- Writing answers: the API's error bodies, whole responses, and dropping a
-- connection (with a TCP RST when asked).
local cqueues = require "cqueues"
local http_headers = require "http.headers"
local json = require "fake.json"
local util = require "fake.util"

local encode, log = json.encode, util.log

local M = {}

local ERROR_TYPES = {
  [400] = "invalid_request_error", [401] = "authentication_error",
  [402] = "billing_error", [403] = "permission_error",
  [404] = "not_found_error", [405] = "invalid_request_error",
  [408] = "timeout_error", [409] = "invalid_request_error",
  [412] = "invalid_request_error", [413] = "request_too_large", [422] = "invalid_request_error",
  [429] = "rate_limit_error", [500] = "api_error", [504] = "timeout_error",
  [529] = "overloaded_error",
}

local function error_body(status, message, error_code, request_id)
  local err = {
    type = ERROR_TYPES[status] or (status >= 500 and "api_error" or "invalid_request_error"),
    message = message,
  }
  if error_code then err.details = { error_code = error_code } end
  return { type = "error", error = err, request_id = request_id }
end

-- What a proxy in front of the API answers with for 502/503.
local function proxy_page(status)
  local title = status == 502 and "502 Bad Gateway" or "503 Service Temporarily Unavailable"
  return "<html>\r\n<head><title>" .. title .. "</title></head>\r\n<body>\r\n<center><h1>"
    .. title .. "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
end

local function new_headers(status, list)
  local h = http_headers.new()
  h:append(":status", string.format("%d", status))
  for _, kv in ipairs(list or {}) do h:append(kv[1], kv[2]) end
  if not h:has("content-type") then h:append("content-type", "application/json") end
  return h
end

-- Writes a whole response. `headers` is a list of {name, value}.
local function send(stream, status, body, headers, chunked)
  local h = new_headers(status, headers)
  if status == 204 or status == 304 then  -- may not carry a body or length
    return stream:write_headers(h, true)
  end
  if not chunked then h:append("content-length", string.format("%d", #body)) end
  if (#body == 0 and not chunked) or stream.req_method == "HEAD" then
    return stream:write_headers(h, true)  -- a HEAD answer has headers only
  end
  local ok, err = stream:write_headers(h, false)
  if not ok then return nil, err end
  return stream:write_chunk(body, true)
end

local function send_json(stream, status, value)
  return send(stream, status, encode(value))
end


-- luasocket, if present, can set SO_LINGER=0 on the connection's descriptor
-- (cqueues has no such option) so that closing it sends a TCP RST.
local has_luasocket, luasocket = pcall(require, "socket")

local function set_linger_zero(sock)
  if not has_luasocket then return false end
  local t = luasocket.tcp()
  t:close()                   -- drop its own descriptor; we only want the object
  t:setfd(sock:pollfd())      -- borrow the connection's descriptor ...
  local ok = t:setoption("linger", { on = true, timeout = 0 })
  t:setfd(-1)                 -- ... and give it back, so only cqueues closes it
  return ok == 1 or ok == true
end

-- Ends the connection now, whatever was (or was not) written on it.
local function drop(stream, rst)
  local sock = stream.connection:take_socket()
  if not sock then return end
  if rst and not set_linger_zero(sock) then log("reset: cannot set SO_LINGER, closing instead") end
  cqueues.cancel(sock)  -- wake coroutines still polling it before it goes away
  sock:close()
end

-- A handler's answer is a value to encode as JSON, or raw(bytes) to send
-- as they are (an empty body, for instance).
local RAW_MT = {}
function M.raw(s) return setmetatable({ bytes = s }, RAW_MT) end
function M.body_of(value)
  if getmetatable(value) == RAW_MT then return value.bytes end
  return encode(value)
end

M.ERROR_TYPES = ERROR_TYPES
M.error_body = error_body
M.proxy_page = proxy_page
M.new_headers = new_headers
M.send = send
M.send_json = send_json
M.drop = drop

return M
