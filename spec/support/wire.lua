-- Assertions the resource specs share: the exact request a call sent, and
-- a raised error naming what was wrong.
local assert = require "luassert"

local M = {}

-- The request line, query and body, and the headers every call sends.
function M.assert_request(req, key, method, path, query, body)
  assert.are.equal(method, req.method)
  assert.are.equal(path, req.path)
  assert.are.equal(query or "", req.query)
  assert.are.equal(body or "", req.body)
  local h = req.header_map
  assert.are.equal(key, h["x-api-key"])
  assert.are.equal("2023-06-01", h["anthropic-version"])
  assert.are.equal("managed-agents-2026-04-01", h["anthropic-beta"])
  assert.are.equal("application/json", h["accept"])
  assert.is_nil(h["expect"])
  if body then
    assert.are.equal("application/json", h["content-type"])
    assert.are.equal(tostring(#body), h["content-length"])
  else
    assert.is_nil(h["content-type"])
  end
  local seen = {}
  for _, pair in ipairs(req.headers) do
    assert.is_nil(seen[pair[1]], "duplicate header " .. pair[1])
    seen[pair[1]] = true
  end
end

-- f(...) must raise an error containing `pattern` (plain text).
function M.raises(pattern, f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok, "expected an error matching " .. pattern)
  assert.matches(pattern, msg, 1, true)
end

return M
