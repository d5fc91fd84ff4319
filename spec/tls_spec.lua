-- TLS verification (ca_file, ca_path, insecure_skip_tls_verify) and
-- proxies, against the fake serving HTTPS with a self-signed certificate.
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"

local ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
local KEY = "sk-ant-resilience-SECRET"

describe("resilience", function()
  local server, _, new_client = fake.suite(KEY)

  describe("TLS and proxies", function()
    local tls_server
    setup(function() tls_server = fake.start { tls = true } end)
    teardown(function() tls_server:stop() end)

    it("verifies the server against ca_file", function()
      local client = environments.new { base_url = tls_server.url, api_key = KEY, ca_file = tls_server.ca_file }
      local env = assert(client:archive(ID))
      assert.are.equal(ID, env.id)
    end)

    it("verifies the server against a ca_path directory", function()
      local dir = os.tmpname()
      os.remove(dir)
      local q = fake.shell_quote
      assert(os.execute(string.format("mkdir -p %s && cp %s %s/fake.pem && openssl rehash %s >/dev/null 2>&1",
        q(dir), q(tls_server.ca_file), q(dir), q(dir))))
      -- (the system's CA bundle stays in use too, and does not know the fake)
      local client = environments.new { base_url = tls_server.url, api_key = KEY, ca_path = dir,
                                        max_retries = 0 }
      local env, err = client:archive(ID)
      os.execute("rm -rf " .. q(dir))
      assert.is_nil(err)
      assert.are.equal(ID, env.id)
    end)

    it("refuses a certificate it cannot verify (verification is on by default)", function()
      -- the system's CA bundle, which does not know the fake's certificate
      tls_server:reset()
      local client = environments.new { base_url = tls_server.url, api_key = KEY, max_retries = 0 }
      local env, err = client:archive(ID)
      assert.is_nil(env)
      assert.are.equal("connection", err.kind)
      assert.matches("ssl certificate problem", err.message:lower(), 1, true)
      assert.are.equal("tls_certificate", err.reason)   -- never healed by a retry
      assert.are.equal(0, #tls_server:requests())
    end)

    it("refuses a trusted certificate made out to another name, as a certificate failure", function()
      local base = os.tmpname()
      local cert, key = base .. "-cert.pem", base .. "-key.pem"
      local q = fake.shell_quote
      assert(os.execute(string.format("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other.invalid"
        .. " -addext subjectAltName=DNS:other.invalid -keyout %s -out %s >/dev/null 2>&1", q(key), q(cert))))
      local other = fake.start { tls = { cert = cert, key = key } }
      local client = environments.new { base_url = other.url, api_key = KEY, ca_file = cert, max_retries = 0 }
      local env, err = client:archive(ID)
      local n = #other:requests()
      other:stop()
      os.remove(base)
      os.remove(cert)
      os.remove(key)
      assert.is_nil(env)
      assert.are.equal("connection", err.kind)
      assert.are.equal("tls_certificate", err.reason)
      assert.matches("127.0.0.1", err.message, 1, true)   -- the name that does not match
      assert.are.equal(0, n)
    end)

    it("gives other connection failures no reason", function()
      local client = environments.new { base_url = "https://127.0.0.1:1", api_key = KEY, max_retries = 0 }
      local _, err = client:archive(ID)
      assert.are.equal("connection", err.kind)
      assert.is_nil(err.reason)
    end)

    it("skips verification only when told to, by name", function()
      local client = environments.new { base_url = tls_server.url, api_key = KEY,
                                        insecure_skip_tls_verify = true }
      assert(client:archive(ID))
    end)

    it("goes through the proxy option", function()
      local client = new_client { base_url = "http://api.example.invalid", proxy = server.url, max_retries = 0 }
      client:archive(ID)
      local req = server:requests()[1]
      assert.are.equal("http://api.example.invalid/v1/environments/" .. ID .. "/archive", req.path)
      assert.are.equal("api.example.invalid", req.header_map.host)
    end)

    it("follows http_proxy and no_proxy from the environment, as libcurl does", function()
      local function run(env_vars)
        local code = "package.path = " .. string.format("%q", package.path) .. "; package.cpath = "
          .. string.format("%q", package.cpath) .. [[; local e = require "anthropic.environments"
          local c = e.new { api_key = "k", base_url = "http://api.example.invalid", max_retries = 0, timeout = 5 }
          c:archive("env_1")]]
        local p = io.popen(env_vars .. " " .. fake.interpreter() .. " -e " .. fake.shell_quote(code) .. " 2>&1")
        local out = p:read("*a")
        p:close()
        return out
      end
      run("http_proxy=" .. server.url .. " no_proxy=")
      assert.are.equal("http://api.example.invalid/v1/environments/env_1/archive", server:requests()[1].path)
      server:reset()
      -- with the host in no_proxy the proxy is not used (and the name does not resolve)
      run("http_proxy=" .. server.url .. " no_proxy=api.example.invalid")
      assert.are.equal(0, #server:requests())
    end)
  end)

end)
