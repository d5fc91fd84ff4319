#!/usr/bin/env lua5.3
--[[
A stateful fake of Anthropic's Environments API (paths under /v1), plus
control endpoints under /_fake for tests. See fake/README.md.

  lua5.3 fake/server.lua [--host 127.0.0.1] [--port 0] [--watch-pid PID]

Runs under lua5.3, lua5.1 and luajit (Debian ships lua-http for 5.1-5.3).
HTTP/1.1 is handled by lua-http over cqueues: every connection and every
request runs in its own coroutine, so sleeps (delays, stalls, long polls)
never block other clients.

This file is the entry point: it reads requests and hands them to the
modules beside it (fake/api.lua, fake/control.lua, ...), which it finds
from its own path, whatever the current directory.
]]

-- Debian ships two pure-Lua dependencies of lua-http (fifo, lpeg_patterns)
-- for Lua 5.1 and 5.2 only; under 5.3 use the 5.2 copies, searched last.
if _VERSION == "Lua 5.3" then
  package.path = package.path .. ";/usr/share/lua/5.2/?.lua;/usr/share/lua/5.2/?/init.lua"
end
do -- the fake's modules are fake/*.lua, loaded as "fake.<name>"
  local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
  package.path = dir .. "/../?.lua;" .. package.path
end

local cqueues = require "cqueues"
local http_server = require "http.server"
local http_util = require "http.util"
local json = require "fake.json"
local util = require "fake.util"
local store = require "fake.store"
local respond = require "fake.respond"
local api = require "fake.api"
local faults = require "fake.faults"
local control = require "fake.control"

local encode, log, header = json.encode, util.log, util.header
local error_body, send, drop = respond.error_body, respond.send, respond.drop

local READ_TIMEOUT = 60          -- seconds to wait for a request's headers/body

store.reset()  -- after every module has registered its part of the state

------------------------------------------------------------------------------
-- Request entry points
------------------------------------------------------------------------------
local function api_request(stream, req)
  local counters, state = store.counters, store.state
  counters.request = counters.request + 1
  req.request_id = "req_fake_" .. counters.request
  if state.config.record ~= false then
    state.requests[#state.requests + 1] = req
  end
  local item, n = faults.take(req)
  local delay_ms = state.config.delay_ms
  if delay_ms and delay_ms > 0 then cqueues.sleep(delay_ms / 1000) end
  if item then return faults.play(stream, req, item, n) end
  return api.answer(stream, req)
end
-- For a request that could not be read (malformed, timed out, hung up).
-- lua-http's own clean-up can loop forever on some of these (e.g. after an
-- invalid Content-Length), so answer 400 while a status line can still be
-- written and close the connection ourselves.
local function reject(stream)
  if stream.state ~= "idle" and stream.body_write_type == nil and stream.connection.socket then
    http_util.yieldable_pcall(send, stream, 400,
      encode(error_body(400, "Malformed HTTP request")))
  end
  drop(stream)
end

-- Reads one request and answers it.
local function serve(stream)
  local headers = stream:get_headers(READ_TIMEOUT)
  if not headers then return reject(stream) end
  local target = headers:get(":path") or ""
  local path, query = target:match("^([^?]*)%??(.*)$")
  local req = { method = headers:get(":method"), path = path, query = query, headers = {} }
  -- The client's port names the TCP connection, so tests can see reuse.
  local _, _, peer_port = stream.connection:peername()
  req.connection = peer_port
  -- arrival order is kept; lua-http turns Host into the :authority pseudo-header
  for name, value in headers:each() do
    if name == ":authority" then name = "host" end
    if name:sub(1, 1) ~= ":" then req.headers[#req.headers + 1] = { name, value } end
  end
  if header(req, "expect") == "100-continue" and stream.peer_version ~= 1.0 then
    stream:write_continue()
  end
  req.body = stream:get_body_as_string(READ_TIMEOUT)
  if not req.body then return reject(stream) end
  stream.fake_req = req  -- for the error report in onstream

  if path == "/_fake" or path:sub(1, 7) == "/_fake/" then
    return control.handle(stream, req)
  end
  return api_request(stream, req)
end

-- lua-http calls this in a fresh coroutine for every request.
local function onstream(_, stream)
  stream.use_zlib = false  -- never gzip-encode: bodies go out byte for byte
  local ok, err = http_util.yieldable_pcall(serve, stream)
  if ok then return end
  local req = stream.fake_req or {}
  log("error handling ", tostring(req.method), " ", tostring(req.path), ": ", tostring(err))
  -- Answer 500 if nothing has been written yet (body_write_type is lua-http's
  -- record of having sent headers), then make sure the connection goes away
  -- unless the exchange finished cleanly.
  if stream.state ~= "idle" and stream.body_write_type == nil and stream.connection.socket then
    http_util.yieldable_pcall(send, stream, 500,
      encode(error_body(500, "Internal error in the fake server", nil, req.request_id)),
      req.request_id and { { "request-id", req.request_id } } or {})
  end
  if stream.state ~= "closed" then drop(stream) end
end

------------------------------------------------------------------------------
-- Main
------------------------------------------------------------------------------
local function parse_args(args)
  local opts = { host = "127.0.0.1", port = 0 }
  local i = 1
  while i <= #args do
    local a, v = args[i], args[i + 1]
    if a == "--host" and v then opts.host = v
    elseif a == "--port" and v and v:match("^%d+$") then opts.port = tonumber(v)
    elseif a == "--watch-pid" and v and v:match("^%d+$") then opts.watch_pid = v
    elseif a == "--tls-cert" and v then opts.tls_cert = v
    elseif a == "--tls-key" and v then opts.tls_key = v
    else
      io.stderr:write("usage: fake/server.lua [--host 127.0.0.1] [--port 0] [--watch-pid PID]"
        .. " [--tls-cert PEM --tls-key PEM]\n")
      os.exit(2)
    end
    i = i + 2
  end
  if not (opts.host == "localhost" or opts.host == "::1" or opts.host:match("^127%.%d+%.%d+%.%d+$")) then
    io.stderr:write("fake/server.lua: refusing to bind non-loopback host ", opts.host, "\n")
    os.exit(2)
  end
  return opts
end

-- True while the process exists and is not a zombie.
local function process_alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local stat = f:read("*a") or ""
  f:close()
  local st = stat:match("^%d+ %(.*%) (%a)")
  return st ~= nil and st ~= "Z" and st ~= "X"
end

local function own_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("*l"):match("^(%d+)")
  f:close()
  return pid
end

-- A TLS context from PEM files (luaossl, which lua-http itself uses).
local function tls_context(cert_file, key_file)
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
  end
  local ctx = require("openssl.ssl.context").new("TLS", true)
  ctx:setCertificate(require("openssl.x509").new(read(cert_file)))
  ctx:setPrivateKey(require("openssl.pkey").new(read(key_file)))
  return ctx
end

local function main()
  local opts = parse_args(arg)
  local tls = opts.tls_cert ~= nil and opts.tls_key ~= nil
  local cq = cqueues.new()
  -- Request lines up to 1 MiB (cqueues' default is 4096 bytes), so that a
  -- client can send back the huge page cursors a script gives it.
  require("cqueues.socket").setmaxline(1024 * 1024)
  local server = assert(http_server.listen {
    cq = cq,
    host = opts.host,
    port = opts.port,
    reuseaddr = true,
    tls = tls,
    ctx = tls and tls_context(opts.tls_cert, opts.tls_key) or nil,
    version = 1.1,            -- the faults work on HTTP/1 connections
    intra_stream_timeout = 30, -- idle keep-alive connections are closed after this
    onstream = onstream,
    onerror = function(_, context, op, err)
      log(tostring(op), " error: ", tostring(err), " (", tostring(context), ")")
    end,
  })
  assert(server:listen())
  local _, _, port = server:localname()
  io.stdout:write(string.format("listening %s %d %s\n", opts.host, port, own_pid()))
  io.stdout:flush()

  if opts.watch_pid then
    cq:wrap(function()
      while process_alive(opts.watch_pid) do cqueues.sleep(0.5) end
      log("watched process ", opts.watch_pid, " is gone; exiting")
      os.exit(0)
    end)
  end

  while true do
    local ok, err = cq:loop()
    if ok then break end
    log("event loop error: ", tostring(err))  -- the failing coroutine is dropped
  end
end

main()
