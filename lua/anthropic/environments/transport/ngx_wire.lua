-- anthropic.environments.transport.ngx_wire: what the cosocket transport
-- (transport/ngx.lua) writes and how it names its failures: the URL taken
-- apart, the HTTP/1.1 request as bytes, the credentials' fingerprint and
-- the trust that key its pool, each socket operation's time budget, and
-- the errors nginx gives, with the directive to add when nginx's
-- configuration is the cause.
local common = require "anthropic.environments.transport.common"

local tonumber, tostring, setmetatable, concat, format, ipairs, pcall, type =
      tonumber, tostring, setmetatable, table.concat, string.format, ipairs, pcall, type
local min, max, floor, huge = math.min, math.max, math.floor, math.huge
local ngx = ngx   -- luacheck: ignore ngx
-- nginx's cached clock (see transport/ngx.lua)
local now = ngx and ngx.now

local FOREVER = 86400                   -- seconds of one wait "without" a limit
local MAX_MS = 2147483647               -- the longest timeout nginx takes

local M = { FOREVER = FOREVER }

local DEFAULT_PORT = { http = 80, https = 443 }

--- wire.parse_url(url, verify) -> { scheme, tls, host, port, authority,
-- path, sni, pool }  or  nil, message. `authority` is the Host header as
-- libcurl sends it (the port left out when it is the scheme's own); `pool`
-- names nginx's connection pool: scheme, host, port and the TLS settings.
function M.parse_url(url, verify)
  local scheme, authority, path = url:match("^(%a+)://([^/?#]+)(.*)$")
  scheme = scheme and scheme:lower()
  if not DEFAULT_PORT[scheme] then return nil, "not an http:// or https:// URL: " .. url end
  local host, port = authority:match("^(%[[%x:.]+%])(.*)$")
  if not host then host, port = authority:match("^([^:]+)(.*)$") end
  if not host then return nil, "no host in the URL " .. url end
  if port ~= "" then
    port = port:match("^:(%d+)$")
    port = port and tonumber(port)
    if not port or port < 1 or port > 65535 then return nil, "bad port in the URL " .. url end
  else
    port = DEFAULT_PORT[scheme]
  end
  host = host:lower()
  local tls = scheme == "https"
  -- SNI and the name check are for host names, not addresses.
  local is_address = host:find("^%[") or host:find("^%d+%.%d+%.%d+%.%d+$")
  local sni = tls and not is_address and host or nil
  local pool = format("anthropic.environments %s %s %d", scheme, host, port)
  if tls then pool = format("%s verify=%s sni=%s", pool, verify and 1 or 0, sni or "-") end
  return {
    scheme = scheme, tls = tls, host = host, port = port,
    authority = port == DEFAULT_PORT[scheme] and host or host .. ":" .. port,
    path = path == "" and "/" or path,
    sni = sni, pool = pool,
  }
end

--- wire.request(method, u, path, lines, body) -> the request's bytes, with
-- the header lines of the call in their order, as libcurl writes them:
-- Host first, Content-Length last (for a POST, 0 without a body). path
-- (nil: u.path) is the path and query.
-- The header lines as one block, per lines table: a client sends the same
-- table with every call that has no header options.
local blocks = setmetatable({}, { __mode = "k" })

function M.request(method, u, path, lines, body)
  local block = blocks[lines]
  if not block then
    block = #lines > 0 and concat(lines, "\r\n") .. "\r\n" or ""
    blocks[lines] = block
  end
  local tail
  if body then
    tail = "Content-Length: " .. #body .. "\r\n\r\n" .. body
  elseif method == "POST" then
    tail = "Content-Length: 0\r\n\r\n"
  else
    tail = "\r\n"
  end
  return concat { method, " ", path or u.path, " HTTP/1.1\r\nHost: ", u.authority, "\r\n", block, tail }
end

-- The header lines that carry credentials, or name whose they are.
local CREDENTIAL = { ["x-api-key"] = true, authorization = true, ["anthropic-workspace-id"] = true }

local fingerprints = setmetatable({}, { __mode = "k" })

--- wire.credentials(lines) -> a fingerprint of the credential lines of a
-- request (x-api-key, authorization, anthropic-workspace-id): the hex of
-- their SHA-1, never the key itself; "none" without any. It names the
-- connection pool along with the URL (transport/ngx.lua): a connection
-- only ever carries one tenant's calls, so bytes an upstream sends late
-- can only reach a call of the same credentials. Computed once per lines
-- table (a client sends the same one with every call without header
-- options).
function M.credentials(lines)
  local fp = fingerprints[lines]
  if fp then return fp end
  local picked = {}
  for _, line in ipairs(lines) do
    local name = line:match("^([^:]+):")
    if name and CREDENTIAL[name:lower()] then picked[#picked + 1] = line end
  end
  if #picked == 0 then
    fp = "none"
  else
    local digest = ngx.sha1_bin(concat(picked, "\r\n"))
    fp = digest:gsub(".", function(c) return format("%02x", c:byte()) end)
  end
  fingerprints[lines] = fp
  return fp
end

local RESOLVER_HINT = "nginx resolves host names only through its `resolver` directive: add one to the "
  .. "http block of nginx.conf, e.g. `resolver 127.0.0.53 ipv6=off;` (a DNS server from /etc/resolv.conf)"

local TRUST_HINT = "nginx verifies the server's certificate against `lua_ssl_trusted_certificate` only: "
  .. "add it to the http block of nginx.conf, e.g. `lua_ssl_trusted_certificate "
  .. "/etc/ssl/certs/ca-certificates.crt;` with `lua_ssl_verify_depth 5;` "
  .. "(or use the client option insecure_skip_tls_verify for a test server)"

--- wire.explain(stage, err, u) -> the message of a connection error nginx
-- gave at that stage ("connect", "handshake", "send", "receive"); err is
-- false for a handshake that failed without a reason.
function M.explain(stage, err, u)
  local where = u.host .. ":" .. u.port
  if err == false and stage == "handshake" then
    return format("TLS handshake with %s failed, and nginx's Lua module gave no reason; "
      .. "if the certificate could not be verified: %s", where, TRUST_HINT)
  end
  err = tostring(err)
  if stage == "connect" then
    if err:find("no resolver defined", 1, true) then
      return format("could not resolve %s: %s; %s", u.host, err, RESOLVER_HINT)
    end
    return format("could not connect to %s: %s", where, err)
  elseif stage == "handshake" then
    -- OpenSSL's verification errors come as "<code>: <reason>".
    if err:find("^%d+: ") or err:find("certificate verify failed", 1, true) then
      return format("TLS certificate verification of %s failed: %s; %s", where, err, TRUST_HINT)
    end
    return format("TLS handshake with %s failed: %s", where, err)
  elseif stage == "send" then
    return format("sending the request to %s failed: %s", where, err)
  end
  return format("receiving the answer from %s failed: %s", where, err)
end

-- Milliseconds for the next socket operation: at most `limit` seconds (nil:
-- none), and no later than the attempt's deadline; 1 when it has passed
-- (nginx takes 0 as "its default"), so the operation times out at once.
function M.budget(req, limit)
  local left = limit or huge
  if req.deadline then left = min(left, req.deadline - now()) end
  if left == huge then return FOREVER * 1000 end
  -- nginx takes at most 2^31 - 1 ms (about 24.8 days), as libcurl does.
  return min(max(floor(left * 1000 + 0.5), 1), MAX_MS)
end

-- The attempt's error for a socket operation's failure. `what` names the
-- stage: "connect", "handshake", "send" or "receive".
function M.failure(req, what, err)
  local t = req.transport
  local elapsed = floor((now() - req.started) * 1000 + 0.5)
  if err == "timeout" then
    if req.deadline and now() >= req.deadline - 0.001 then
      return "timeout", common.timed_out(elapsed, req.received)
    end
    if what == "connect" or what == "handshake" then
      return "timeout", common.connect_timed_out(elapsed)
    end
    return "timeout", common.stalled(t.config.stall_timeout)
  end
  -- nginx's verification failures: OpenSSL's "<code>: <reason>" (untrusted,
  -- expired...) or "certificate host mismatch": no retry can fix them.
  if what == "handshake" and type(err) == "string" and (err:find("^%d+: ")
      or err:find("certificate verify failed", 1, true) or err:find("certificate host mismatch", 1, true)) then
    req.reason = "tls_certificate"
  end
  return "connection", M.explain(what, err, req.url)
end

-- The trust a TLS connection was verified with, as far as Lua can see it:
-- nginx does not tell which lua_ssl_trusted_certificate and
-- lua_ssl_verify_depth apply where, so a location whose trust differs
-- from the http block's names it in $anthropic_environments_trust
-- (docs/openresty.md). Sessions and kept-alive connections are only
-- resumed under the same name. ngx.var is not readable in timers: those
-- run with the http block's trust, named "".
local function read_trust() return ngx.var.anthropic_environments_trust end
function M.trust_name()
  local ok, name = pcall(read_trust)
  return ok and name or ""
end

return M
