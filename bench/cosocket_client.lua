-- `make bench` section 6: the hand-written cosocket + cjson client the
-- library is measured against inside nginx. Minimal on purpose: one fixed
-- request, a status line, headers up to a blank line, a Content-Length
-- body, cjson.decode, and the connection back to nginx's pool. No retries,
-- no chunked bodies, no limits, no TLS: what a user would write for a
-- quick integration, and the floor of what a cosocket client costs.
local cjson = require "cjson"

local tonumber, format = tonumber, string.format

local M = {}

local REQUEST = "POST /v1/environments/%s/archive HTTP/1.1\r\nHost: %s:%d\r\n"
  .. "accept: application/json\r\nanthropic-version: 2023-06-01\r\nx-api-key: sk-ant-bench\r\n"
  .. "anthropic-beta: managed-agents-2026-04-01\r\nContent-Length: 0\r\n\r\n"

--- archive(host, port, id) -> the decoded environment, status  or  nil, err
function M.archive(host, port, id)
  local sock = ngx.socket.tcp()
  sock:settimeout(10000)
  local ok, err = sock:connect(host, port)
  if not ok then return nil, err end
  ok, err = sock:send(format(REQUEST, id, host, port))
  if not ok then return nil, err end
  local line
  line, err = sock:receive("*l")
  if not line then return nil, err end
  local status = tonumber(line:match("^HTTP/1%.%d (%d%d%d)"))
  local length
  while true do
    line, err = sock:receive("*l")
    if not line then return nil, err end
    if line == "" then break end
    local v = line:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if v then length = tonumber(v) end
  end
  local body
  body, err = sock:receive(length or 0)
  if not body then return nil, err end
  sock:setkeepalive()
  return cjson.decode(body), status
end

return M
