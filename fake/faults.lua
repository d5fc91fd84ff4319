-- Scripted responses and faults (POST /_fake/script): an API request takes
-- the first queued item that matches it, and the item replaces normal
-- handling. See fake/README.md for the items.
local cqueues = require "cqueues"
local json = require "fake.json"
local store = require "fake.store"
local respond = require "fake.respond"
local api = require "fake.api"

local encode, is_object = json.encode, json.is_object
local error_body, proxy_page, new_headers = respond.error_body, respond.proxy_page, respond.new_headers
local send, drop = respond.send, respond.drop

local CHUNK = 64 * 1024          -- piece size for generated bodies

local M = {}

local FAULTS = { close = true, reset = true, partial_body = true, stall = true, stall_body = true }

-- Pieces of a generated body: body_size N gives a JSON object of exactly N
-- bytes; nested N gives N '[' then N ']'.
local function generated_pieces(item)
  local pieces = {}
  local function add(c, n)
    local full = string.rep(c, math.min(n, CHUNK))
    while n > 0 do
      pieces[#pieces + 1] = n >= CHUNK and full or string.rep(c, n)
      n = n - CHUNK
    end
  end
  if item.nested then
    local n = math.floor(item.nested)
    add("[", n)
    add("]", n)
  else
    local n = math.floor(item.body_size)
    local head, tail = '{"id":"env_x","pad":"', '"}'
    if n >= #head + #tail then
      pieces[1] = head
      add("a", n - #head - #tail)
      pieces[#pieces + 1] = tail
    elseif n >= 2 then
      pieces[1] = "{}" .. string.rep(" ", n - 2)  -- whitespace after JSON is allowed
    elseif n == 1 then
      pieces[1] = "0"
    end
  end
  return pieces
end

-- `n` counts the plays of a repeated item: a `template` item has "{{n}}" in
-- its body replaced by it.
local function play(stream, req, item, n)
  if item.delay then cqueues.sleep(item.delay) end
  if item.pass then
    return api.answer(stream, req)
  end
  if item.fault == "close" or item.fault == "reset" then
    return drop(stream, item.fault == "reset")
  elseif item.fault == "stall" then
    cqueues.sleep(item.seconds or 30)
    return drop(stream)
  end

  local status = item.status or 200
  local headers = {}
  if not item.no_request_id then headers[1] = { "request-id", req.request_id } end
  local body = item.body
  if body == nil and item.json ~= nil then
    body = encode(item.json)
  end
  if body ~= nil and item.template then
    body = body:gsub("{{n}}", string.format("%d", n or 1))
  end
  if body == nil and status >= 400 and not (item.fault or item.body_size or item.nested) then
    if status == 502 or status == 503 then
      body = proxy_page(status)
      headers[#headers + 1] = { "content-type", "text/html" }
    else
      body = encode(error_body(status, "Scripted " .. status .. " error", nil,
        not item.no_request_id and req.request_id or nil))
    end
  end
  -- the item's own headers come last and override defaults; the framing
  -- headers are lua-http's business
  local custom = {}
  for name, value in pairs(item.headers or {}) do
    name = name:lower()
    if name ~= "content-length" and name ~= "transfer-encoding" then
      custom[name] = tostring(value)
    end
  end
  local list = {}
  for _, kv in ipairs(headers) do
    if not custom[kv[1]] then list[#list + 1] = kv end
  end
  for name, value in pairs(custom) do list[#list + 1] = { name, value } end

  if item.fault == "partial_body" or item.fault == "stall_body" then
    body = body or ""
    local promised = item.content_length or math.max(1000, #body + 1)
    local h = new_headers(status, list)
    h:append("content-length", string.format("%d", promised))
    if stream:write_headers(h, false) and #body > 0 then stream:write_chunk(body, false) end
    if item.fault == "stall_body" then cqueues.sleep(item.seconds or 30) end
    return drop(stream, item.reset)
  end

  if item.body_size or item.nested then
    local pieces = generated_pieces(item)
    local h = new_headers(status, list)
    if not item.chunked then
      local total = 0
      for _, p in ipairs(pieces) do total = total + #p end
      h:append("content-length", string.format("%d", total))
    end
    if not stream:write_headers(h, false) then return drop(stream) end
    for _, p in ipairs(pieces) do
      if not stream:write_chunk(p, false) then return drop(stream) end
    end
    return stream:write_chunk("", true)
  end

  return send(stream, status, body or "", list, item.chunked)
end

local function check_script_item(item)
  if not is_object(item) then return "each response must be an object" end
  if item.fault ~= nil and not FAULTS[item.fault] then
    return "unknown fault '" .. tostring(item.fault) .. "'"
  end
  if item.status ~= nil and (type(item.status) ~= "number" or item.status < 200
      or item.status > 599 or item.status % 1 ~= 0) then
    return "status must be an integer from 200 to 599"
  end
  for _, k in ipairs({ "delay", "seconds", "content_length", "body_size", "nested" }) do
    if item[k] ~= nil and (type(item[k]) ~= "number" or item[k] < 0) then
      return k .. " must be a non-negative number"
    end
  end
  if item.times ~= nil and item.times ~= true and (type(item.times) ~= "number"
      or item.times < 1 or item.times % 1 ~= 0) then
    return "times must be a positive integer or true"
  end
  if item.template ~= nil and type(item.template) ~= "boolean" then
    return "template must be a boolean"
  end
  for _, k in ipairs({ "body", "path", "method", "query" }) do
    if item[k] ~= nil and type(item[k]) ~= "string" then return k .. " must be a string" end
  end
  if item.headers ~= nil and not is_object(item.headers) then return "headers must be an object" end
end

-- The first queued item whose path, method and query (when it has them)
-- match the request, and how many times it has now been played. An item
-- with `times` stays queued until it has been played that often (forever
-- for `times: true`).
function M.take(req)
  local script = store.state.script
  for i, item in ipairs(script) do
    if (item.path == nil or item.path == req.path)
        and (item.method == nil or item.method == req.method)
        and (item.query == nil or item.query == req.query) then
      item.played = (item.played or 0) + 1
      if item.times == nil or (item.times ~= true and item.played >= item.times) then
        table.remove(script, i)
      end
      return item, item.played
    end
  end
end

M.play = play
M.check = check_script_item

return M
