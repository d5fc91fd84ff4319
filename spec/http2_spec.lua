-- HTTP/2 when the server offers it: nginx over TLS with http2 answers every
-- archive with a fixed environment, and archive_many's requests in flight
-- share one connection (multiplexed) instead of opening one each. nginx's
-- access log says which connection and protocol each request came on.
-- Runs once per `make test` (see spec/support/hosts.lua).
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"
local nginx = require "spec.support.nginx"
local environments = require "anthropic.environments"

if not hosts.ONCE then return end

describe("HTTP/2", function()
  local missing = nginx.missing()
  if missing then
    pending("nginx is not installed: " .. missing)
    return
  end

  local server, cert
  setup(function()
    local key
    cert, key = fake.self_signed()
    server = nginx.start { conf = [[
events {}
http {
    log_format calls '$connection $server_protocol $request_method $request_uri';
    access_log @PREFIX@/logs/access.log calls;
    client_body_temp_path @PREFIX@/body;
    proxy_temp_path @PREFIX@/proxy;
    fastcgi_temp_path @PREFIX@/fastcgi;
    uwsgi_temp_path @PREFIX@/uwsgi;
    scgi_temp_path @PREFIX@/scgi;
    server {
        listen 127.0.0.1:@PORT@ ssl http2;
        ssl_certificate ]] .. cert .. [[;
        ssl_certificate_key ]] .. key .. [[;
        location ~ ^/v1/environments/([^/]+)/archive$ {
            default_type application/json;
            return 200 '{"id":"$1","type":"environment","name":"h2","archived_at":"2026-11-29T00:00:00Z","config":{"type":"self_hosted"},"metadata":{}}';
        }
    }
}
]] }
  end)
  teardown(function() if server then server:stop() end end)

  it("multiplexes archive_many's requests over one connection", function()
    local client = environments.new { base_url = "https://127.0.0.1:" .. server.port, api_key = "sk-h2",
                                      ca_file = cert }
    local ids = {}
    for i = 1, 20 do ids[i] = "env_h2_" .. i end
    local results, errors = client:archive_many(ids, { concurrency = 8 })
    for _, id in ipairs(ids) do
      assert.is_nil(errors[id])
      assert.are.equal(id, results[id].id)
    end
    client:close()

    local log = assert(hosts.read_file(server.prefix .. "/logs/access.log"))
    local connections, lines = {}, 0
    for connection, protocol in log:gmatch("(%d+) (%S+) POST [^\n]*\n") do
      lines = lines + 1
      assert.are.equal("HTTP/2.0", protocol)
      connections[connection] = true
    end
    assert.are.equal(20, lines)
    local n = 0
    for _ in pairs(connections) do n = n + 1 end
    assert.are.equal(1, n)
  end)
end)
