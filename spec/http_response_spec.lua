-- core.http_response: the bounded HTTP/1.x answer parser of the cosocket
-- transport (src/http_response.c), fed as the transport feeds it: bytes as
-- they come off the connection, in pieces of any size.
local core = require "anthropic.environments.core"

-- Feeds `text` in pieces of `step` bytes (whole when nil); then eof() if
-- it still wants more and `eof` is set. Returns what the last call gave
-- and the parser.
local function parse(text, max_body, step, eof)
  local p = core.http_response(max_body or 1024 * 1024)
  local pos, r = 1, { "more" }
  while pos <= #text and r[1] == "more" do
    local n = step and math.min(step, p:want(step)) or #text
    r = { p:feed(text:sub(pos, pos + n - 1)) }
    pos = pos + n
  end
  if pos <= #text and r[1] == "done" then p:feed(text:sub(pos)) end
  if r[1] == "more" and eof then r = { p:eof() } end
  return r, p
end

local OK = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nRequest-Id: req_1\r\n"
  .. "X-A: 1\r\nx-a: 2\r\nContent-Length: 10\r\n\r\n{\"id\":\"e\"}"

describe("core.http_response", function()
  for _, step in ipairs { false, 1, 2, 7 } do
    it("reads a Content-Length answer fed " .. (step and step .. " bytes at a time" or "whole"), function()
      local r, p = parse(OK, nil, step or nil)
      assert.are.same({ "done" }, { r[1] })
      assert.is_true(p:reusable())
      local status, headers, body = p:result()
      assert.are.equal(200, status)
      assert.are.same({ ["content-type"] = "application/json", ["request-id"] = "req_1",
                        ["x-a"] = "1, 2", ["content-length"] = "10" }, headers)
      assert.are.equal('{"id":"e"}', body)
    end)

    it("reads a chunked answer with trailers fed " .. (step and step .. " bytes at a time" or "whole"), function()
      local r, p = parse("HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\nRetry-After: 2\r\n\r\n"
        .. "4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nX-Trailer: t\r\n\r\n", nil, step or nil)
      assert.are.equal("done", r[1])
      assert.is_true(p:reusable())
      local status, headers, body = p:result()
      assert.are.equal(429, status)
      assert.are.equal("2", headers["retry-after"])
      assert.is_nil(headers["x-trailer"])
      assert.are.equal('{"a":1}', body)
    end)
  end

  it("asks for no more than the rest of a body of known length", function()
    local p = core.http_response(100)
    assert.are.equal(4096, p:want(4096))
    assert.are.same({ "more", 38 }, { p:feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n") })
    assert.are.equal(5, p:want(4096))
    assert.are.same({ "more", 2 }, { p:feed("ab") })
    assert.are.equal(3, p:want(4096))
    assert.are.same({ "done", 3 }, { p:feed("cdeXYZ") })
    assert.are.equal(0, p:want(4096))
    assert.is_false(p:reusable(), "bytes after the answer: the connection is not reused")
  end)

  it("skips 100 Continue and keeps the final answer's headers only", function()
    local r, p = parse("HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")
    assert.are.equal("done", r[1])
    local status, headers = p:result()
    assert.are.equal(201, status)
    assert.is_nil(headers["x-early"])
  end)

  it("reads a body to the end of the connection, and does not reuse it", function()
    local r, p = parse("HTTP/1.0 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<html>", nil, nil, true)
    assert.are.equal("done", r[1])
    assert.is_false(p:reusable())
    local status, _, body = p:result()
    assert.are.equal(502, status)
    assert.are.equal("<html>", body)
  end)

  it("does not reuse a connection the server closes, or one without framing it trusts", function()
    local _, p = parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}")
    assert.is_false(p:reusable())
    _, p = parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}")
    assert.is_true(p:reusable())
    _, p = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert.is_false(p:reusable())
    _, p = parse("HTTP/1.1 204 No Content\r\n\r\n")
    assert.is_true(p:reusable())
  end)

  it("does not reuse a connection after a 1xx, 204 or 304 that announced a body", function()
    for _, head in ipairs {
      "HTTP/1.1 204 No Content\r\nContent-Length: 20\r\n\r\n",
      "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    } do
      local r, p = parse(head)
      assert.are.equal("done", r[1], head)
      assert.is_false(p:reusable(), head)
    end
    local _, p = parse("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
    assert.is_true(p:reusable(), "a length of 0 announces nothing")
  end)

  it("refuses a body over max_body, from its Content-Length or as it grows", function()
    local r = parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", 10)
    assert.are.same({ nil, "decode", "response body larger than the limit of 10 bytes" }, r)
    r = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\naaaaaa\r\n5\r\n", 10)
    assert.are.same({ nil, "decode", "response body larger than the limit of 10 bytes" }, r)
    r = parse("HTTP/1.1 200 OK\r\n\r\n" .. ("a"):rep(11), 10)
    assert.are.same({ nil, "decode", "response body larger than the limit of 10 bytes" }, r)
    r = parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", 0)
    assert.are.equal("decode", r[2])
    assert.are.equal("done", parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0)[1])
  end)

  it("bounds a header line and the header block as libcurl's transport does (64 KiB, a decode error)", function()
    local r = parse("HTTP/1.1 200 OK\r\nX-Big: " .. ("a"):rep(70000) .. "\r\n\r\n")
    assert.are.same({ nil, "decode", "response headers over 65536 bytes" }, r)
    local many = {}
    for i = 1, 1600 do many[i] = "X-" .. i .. ": " .. ("v"):rep(40) end
    r = parse("HTTP/1.1 200 OK\r\n" .. table.concat(many, "\r\n") .. "\r\n\r\n")
    assert.are.same({ nil, "decode", "response headers over 65536 bytes" }, r)
    -- Just under: read in full.
    local head = "HTTP/1.1 200 OK\r\nX-Fill: " .. ("v"):rep(65536 - 17 - 8 - 4) .. "\r\n\r\n"
    assert.are.equal(65536, #head)
    assert.are.equal("done", parse(head, nil, nil, true)[1])
    assert.are.same({ nil, "decode", "response headers over 65536 bytes" },
      parse(head:sub(1, -3) .. "X\r\n\r\n"))
    r = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" .. ("x"):rep(70000) .. "\r\n")
    assert.are.same({ nil, "connection", "a chunk-size line of the answer is too long" }, r)
  end)

  it("joins a header repeated thousands of times, in order", function()
    local lines = {}
    for i = 1, 7000 do lines[i] = "X-R: " .. (i % 10) end
    local r, p = parse("HTTP/1.1 200 OK\r\n" .. table.concat(lines, "\r\n") .. "\r\nx-r: end\r\nContent-Length: 0\r\n\r\n")
    assert.are.equal("done", r[1])
    local _, headers = p:result()
    local values = {}
    for i = 1, 7000 do values[i] = tostring(i % 10) end
    values[#values + 1] = "end"
    assert.are.equal(table.concat(values, ", "), headers["x-r"])
    assert.are.equal("0", headers["content-length"])
  end)

  it("refuses what is not an HTTP/1 answer", function()
    for _, bad in ipairs {
      "HTTP/2 200\r\n\r\n", "SSH-2.0-OpenSSH\r\n", "HTTP/1.1 2000 OK\r\n", "HTTP/1.1 20 OK\r\n",
      "HTTP/1.1 101 Switching Protocols\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
    } do
      local r = parse(bad)
      assert.are.equal("connection", r[2], bad)
    end
  end)

  it("says what was cut short when the connection ends", function()
    assert.are.same({ nil, "connection", "empty reply from server" }, parse("", nil, nil, true))
    assert.are.same({ nil, "connection", "the connection closed in the middle of the answer's head" },
      parse("HTTP/1.1 200 OK\r\nContent-Le", nil, nil, true))
    local r, p = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"a\"", nil, nil, true)
    assert.are.same({ nil, "connection", "transfer closed with 6 bytes remaining to read" }, r)
    assert.are.equal(200, p:status())
    assert.are.same({ nil, "connection", "the connection closed in the middle of a chunked body" },
      parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", nil, nil, true))
  end)

  describe("agrees with libcurl's transport on the same raw answer", function()
    local socket = require "socket"
    local cc = require "spec.support.core_client"

    -- What the core's libcurl transport makes of `raw`, served once on
    -- loopback (the request read, the answer written, the connection
    -- closed): status, body  or  nil, kind, message.
    local function curl_verdict(raw)
      local server = assert(socket.bind("127.0.0.1", 0))
      server:settimeout(0)
      local _, port = server:getsockname()
      local client = cc.new(nil, { stall_timeout = 5 })
      local req = assert(client:start("GET", "http://127.0.0.1:" .. port .. "/v1/x", cc.HEADERS, nil, 5))
      local conn, got, sent = nil, "", false
      local deadline = socket.gettime() + 10
      while not client:run(req, 0.005) do
        assert(socket.gettime() < deadline, "libcurl did not end")
        if not conn then
          conn = server:accept()
          if conn then conn:settimeout(0) end
        end
        if conn and not sent then
          local data, err, partial = conn:receive(4096)
          got = got .. (data or partial or "")
          if got:find("\r\n\r\n", 1, true) then
            conn:settimeout(5)
            assert(conn:send(raw))
            conn:shutdown("send")
            sent = true
          end
          assert(err ~= "closed" or sent, "libcurl closed before its request was read")
        end
      end
      if conn then conn:close() end
      server:close()
      local status, headers_or_failure, body = req:result()
      client:close()
      if not status then return nil, headers_or_failure.kind, headers_or_failure.message end
      return status, body
    end

    local function parser_verdict(raw)
      local r, p = parse(raw, nil, nil, true)
      if r[1] ~= "done" then return nil, r[2], r[3] end
      local status, _, body = p:result()
      return status, body
    end

    local function same(raw)
      local a = { parser_verdict(raw) }
      local b = { curl_verdict(raw) }
      if b[1] then
        assert.are.same({ b[1], b[2] }, { a[1], a[2] }, raw)
      else
        assert.is_nil(a[1], raw)
        assert.are.equal(b[2], a[2], raw .. " (libcurl: " .. tostring(b[3]) .. ", parser: " .. tostring(a[3]) .. ")")
      end
      return a
    end

    local CHUNKED = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

    it("leading zeros in a chunk size", function()
      assert.are.same({ 200, "hello" }, same(CHUNKED .. "0005\r\nhello\r\n0\r\n\r\n"))
      assert.are.same({ 200, "hello" }, same(CHUNKED .. "0000000000000005\r\nhello\r\n0000\r\n\r\n"))
      assert.are.same({ 200, "hello" }, same(CHUNKED .. "000000000000005;x=1\r\nhello\r\n0\r\n\r\n"))
    end)

    it("an empty Content-Length, first or second", function()
      same("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: \r\n\r\nhello")
      same("HTTP/1.1 200 OK\r\nContent-Length:\r\nContent-Length: 5\r\n\r\nhello")
      same("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nhello")
    end)

    it("repeated equal lengths, a 204 with a length, headers just under and over 64 KiB", function()
      assert.are.same({ 200, "hello" }, same("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"))
      assert.are.same({ 204, "" }, same("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"))
      local head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Fill: "
      same(head .. ("v"):rep(60000) .. "\r\n\r\n{}")
      same(head .. ("v"):rep(70000) .. "\r\n\r\n{}")
    end)
  end)

  it("raises for result() before the answer is complete", function()
    local p = core.http_response(10)
    p:feed("HTTP/1.1 200 OK\r\n")
    assert.has_error(function() p:result() end, "anthropic.environments: the answer is not complete")
  end)
end)
