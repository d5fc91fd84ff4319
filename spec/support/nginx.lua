-- Starts Debian's nginx with its Lua module on loopback, from a temporary
-- prefix, for spec/nginx_spec.lua.
--
--   local nginx = require "spec.support.nginx"
--   local missing = nginx.missing()       -- nil, or what is not installed
--   local server = nginx.start { conf = text, env = { NAME = value } }
--   server.url, server:get(path, timeout), server:error_log(), server:stop()
--
-- nginx runs in the foreground as one process (master_process off): one
-- worker serves every request; with master = true, a master forks workers. A watchdog shell stops it when this process
-- dies without calling stop().
local socket = require "socket"
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"

local M = {}

M.MODULES = "/usr/lib/nginx/modules"
M.LUA_MODULE = M.MODULES .. "/ngx_http_lua_module.so"
M.NDK_MODULE = M.MODULES .. "/ndk_http_module.so"
M.RESTY_CORE = "/usr/share/lua/5.1/resty/core.lua"

local START_TIMEOUT = 5

local function nginx_binary()
  for _, candidate in ipairs { "/usr/sbin/nginx", "/usr/bin/nginx" } do
    if hosts.read_file(candidate) then return candidate end
  end
  local out, _, code = hosts.run("command -v nginx")
  if code == 0 then return (out:gsub("%s+$", "")) end
  return nil
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

--- nil when nginx and its Lua module are installed, else what is missing.
function M.missing()
  if not nginx_binary() then return "nginx (nginx-light)" end
  if not exists(M.LUA_MODULE) then return M.LUA_MODULE .. " (libnginx-mod-http-lua)" end
  if not exists(M.NDK_MODULE) then return M.NDK_MODULE .. " (libnginx-mod-http-ndk)" end
  if not exists(M.RESTY_CORE) then return M.RESTY_CORE .. " (lua-resty-core)" end
  return nil
end

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function alive(pid)
  local st = (hosts.read_file("/proc/" .. pid .. "/stat") or ""):match("^%d+ %(.*%) (%a)")
  return st ~= nil and st ~= "Z" and st ~= "X"
end

--- nginx.conf{ http = text [, workers = n or "@WORKERS@"] [, connections = n] }
-- -> the config of a test nginx: the Lua module loaded by absolute path,
-- `workers` worker processes (1), access log off, JSON by default, every
-- temp path under the prefix, this checkout's lua/ (and the repository
-- root, for spec.support modules) and build/jit/ on the package paths,
-- then `http` inside the http block. @PREFIX@ and @ROOT@ are left for
-- nginx.start and the caller to fill.
function M.conf(opts)
  return table.concat {
    "load_module /usr/lib/nginx/modules/ndk_http_module.so;\n",
    "load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;\n",
    "worker_processes ", tostring(opts.workers or 1), ";\n",
    "events { worker_connections ", tostring(opts.connections or 1024), "; }\n",
    "http {\n",
    "    access_log off;\n",
    "    default_type application/json;\n",
    "    client_body_temp_path @PREFIX@/body;\n",
    "    proxy_temp_path @PREFIX@/proxy;\n",
    "    fastcgi_temp_path @PREFIX@/fastcgi;\n",
    "    uwsgi_temp_path @PREFIX@/uwsgi;\n",
    "    scgi_temp_path @PREFIX@/scgi;\n",
    '    lua_package_path "@ROOT@/lua/?.lua;@ROOT@/?.lua;;";\n',
    '    lua_package_cpath "@ROOT@/build/jit/?.so;;";\n',
    opts.http,
    "}\n",
  }
end

local Server = {}
Server.__index = Server

--- nginx.start{ conf = text with @PORT@ and @PREFIX@, env = { NAME = value },
-- master = true (a master process forking the conf's worker_processes) }
-- Raises if nginx does not answer within 5 s (with its error log).
function M.start(opts)
  local binary = assert(nginx_binary(), "nginx is not installed")
  local last_log
  for _ = 1, 3 do   -- another process may take the port between probe and bind
    local prefix = os.tmpname()
    os.remove(prefix)
    assert(os.execute("mkdir -p " .. hosts.shell_quote(prefix .. "/logs")))
    local port = free_port()
    local conf = prefix .. "/nginx.conf"
    hosts.write_file(conf, (opts.conf:gsub("@PORT@", tostring(port)):gsub("@PREFIX@", prefix)))
    local env = {}
    for name, value in pairs(opts.env or {}) do
      env[#env + 1] = name .. "=" .. hosts.shell_quote(value)
    end
    local error_log = prefix .. "/logs/error.log"
    local command = string.format(
      "env -u LD_PRELOAD %s %s -p %s -c %s -e %s -g %s",
      table.concat(env, " "), binary, hosts.shell_quote(prefix), hosts.shell_quote(conf),
      hosts.shell_quote(error_log),
      hosts.shell_quote("daemon off; master_process " .. (opts.master and "on" or "off")
        .. "; pid " .. prefix .. "/logs/nginx.pid;"))
    -- The watchdog: nginx in the background, stopped when we are gone.
    local script = string.format(
      "%s </dev/null >%s 2>&1 & pid=$!; echo $pid; "
      .. "while kill -0 $pid 2>/dev/null && kill -0 %s 2>/dev/null; do sleep 0.5; done; "
      .. "kill $pid 2>/dev/null",
      command, hosts.shell_quote(prefix .. "/logs/stdout.log"), fake.own_pid())
    local p = assert(io.popen("sh -c " .. hosts.shell_quote(script) .. " >" .. hosts.shell_quote(prefix .. "/logs/pid")
      .. " 2>/dev/null & echo started"))
    p:read("*a")
    p:close()

    local server = setmetatable({ prefix = prefix, port = port, url = "http://127.0.0.1:" .. port },
                                Server)
    local deadline = socket.gettime() + START_TIMEOUT
    while socket.gettime() < deadline do
      server.pid = server.pid or (hosts.read_file(prefix .. "/logs/pid") or ""):match("^(%d+)")
      local c = socket.tcp()
      c:settimeout(0.2)
      local ok = c:connect("127.0.0.1", port)
      c:close()
      if ok and server.pid then return server end
      if server.pid and not alive(server.pid) then break end
      socket.sleep(0.02)
    end
    last_log = server:error_log()
    server:stop()
    if not last_log:find("Address already in use", 1, true) then break end
  end
  error("nginx did not start; its error log:\n" .. tostring(last_log), 2)
end

function Server:error_log()
  return (hosts.read_file(self.prefix .. "/logs/error.log") or "")
    .. (hosts.read_file(self.prefix .. "/logs/stdout.log") or "")
end

--- One GET over a new connection, reading to the end within `timeout`
-- seconds (default 5). Returns status, body, seconds taken; or nil, the
-- error, seconds taken.
function Server:get(path, timeout)
  local started = socket.gettime()
  local c = socket.tcp()
  c:settimeout(timeout or 5, "t")
  local ok, err = c:connect("127.0.0.1", self.port)
  if ok then
    ok, err = c:send("GET " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
  end
  local response
  if ok then response, err = c:receive("*a") end
  c:close()
  local took = socket.gettime() - started
  if not response then return nil, err, took end
  local status, body = response:match("^HTTP/1%.%d (%d+) .-\r\n\r\n(.*)$")
  return tonumber(status), body, took
end

--- Sends a GET and returns without waiting for the answer; finish() then
-- reads it: status, body, seconds since sent.
function Server:send(path)
  local started = socket.gettime()
  local c = socket.tcp()
  c:settimeout(10, "t")
  assert(c:connect("127.0.0.1", self.port))
  assert(c:send("GET " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"))
  return {
    finish = function()
      local response, err = c:receive("*a")
      c:close()
      local took = socket.gettime() - started
      if not response then return nil, err, took end
      local status, body = response:match("^HTTP/1%.%d (%d+) .-\r\n\r\n(.*)$")
      return tonumber(status), body, took
    end,
  }
end

function Server:stop()
  if self.pid then
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    local deadline = socket.gettime() + 3
    while alive(self.pid) and socket.gettime() < deadline do socket.sleep(0.02) end
    if alive(self.pid) then os.execute("kill -9 " .. self.pid .. " 2>/dev/null") end
    self.pid = nil
  end
  if self.prefix then
    os.execute("rm -rf " .. hosts.shell_quote(self.prefix))
    self.prefix = nil
  end
end

return M
