-- A one-connection HTTP server that reads a request body slowly but
-- steadily, for the stall_timeout spec: `chunk` bytes every `pause`
-- seconds, through a small receive buffer, then answers 200 with the
-- number of body bytes it read. Run as a child process:
--   lua slow_reader.lua <port file> <chunk> <pause>
-- It writes "listening <port>\n" to the port file once it listens, and
-- exits after one request (or after 60 s).
local socket = require "socket"

local port_file, chunk, pause = arg[1], tonumber(arg[2]), tonumber(arg[3])
local server = assert((socket.tcp4 or socket.tcp)())
assert(server:setoption("reuseaddr", true))
assert(server:setoption("recv-buffer-size", 16384))   -- inherited by the connection
assert(server:bind("127.0.0.1", 0))
assert(server:listen(1))
local _, port = server:getsockname()
local f = assert(io.open(port_file .. ".tmp", "w"))
f:write("listening ", port, "\n")
f:close()
os.rename(port_file .. ".tmp", port_file)

server:settimeout(60)
local conn = assert(server:accept())
conn:settimeout(60)
local length = 0
while true do
  local line = assert(conn:receive("*l"))
  if line == "" then break end
  local n = line:lower():match("^content%-length:%s*(%d+)")
  if n then length = tonumber(n) end
end
local got = 0
while got < length do
  local data, err, partial = conn:receive(math.min(chunk, length - got))
  data = data or partial
  if err and err ~= "timeout" then break end
  got = got + #data
  socket.sleep(pause)
end
local body = string.format('{"read":%d}', got)
conn:send("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " .. #body
  .. "\r\nconnection: close\r\n\r\n" .. body)
conn:close()
server:close()
