-- JSON for the fake: a strict decoder that tells [] from {}, and an encoder
-- with sorted keys and unescaped "/".
--
-- cjson (2.1.0) decodes [] and {} to the same empty table and encodes empty
-- tables as {}. The fake must tell them apart (it rejects {} where the API
-- wants an array, and answers "apt":[]), so bodies are decoded by the small
-- strict decoder below, which tags arrays with ARRAY_MT. The encoder writes
-- tagged tables as arrays and every other table as an object (keys sorted,
-- for stable output); cjson escapes the strings and formats the numbers.
local cjson = require "cjson"

local M = {}

local NULL = cjson.null          -- JSON null, in decoded bodies and stored data
M.null = NULL

local ARRAY_MT = { __name = "json array" }

local function array(t)
  return setmetatable(t or {}, ARRAY_MT)
end

local function is_array(v)
  return type(v) == "table" and getmetatable(v) == ARRAY_MT
end

local function is_object(v)
  return type(v) == "table" and getmetatable(v) == nil
end

-- cjson escapes "/" as "\/"; undo that for readability. (A bare "/" never
-- occurs in its output, so every "\/" there is that escape.)
local function encode_string(s)
  return (cjson.encode(s):gsub("\\/", "/"))
end

local function encode_into(v, out)
  if type(v) == "table" then
    if getmetatable(v) == ARRAY_MT then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        encode_into(v[i], out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = encode_string(k) .. ":"
        encode_into(v[k], out)
      end
      out[#out + 1] = "}"
    end
  elseif v == nil or v == NULL then
    out[#out + 1] = "null"
  elseif type(v) == "boolean" then
    out[#out + 1] = tostring(v)
  elseif type(v) == "string" then
    out[#out + 1] = encode_string(v)
  else
    out[#out + 1] = cjson.encode(v)  -- number
  end
end

local function encode(v)
  local out = {}
  encode_into(v, out)
  return table.concat(out)
end

local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f",
                  n = "\n", r = "\r", t = "\t" }

local function utf8_char(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then
    return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
  end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 0x1000),
      0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return string.char(0xF0 + math.floor(cp / 0x40000),
    0x80 + math.floor(cp / 0x1000) % 0x40,
    0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

-- Strict JSON decoder: returns the value, or nil and a message.
local function decode(str)
  local pos, depth = 1, 0

  local function fail(msg)
    error({ json = msg .. " at byte " .. pos }, 0)
  end

  local function skip_ws()
    pos = str:find("[^ \t\r\n]", pos) or #str + 1
  end

  local function parse_string()
    local buf, i = {}, pos + 1
    while true do
      local j = str:find('[%z\1-\31"\\]', i)
      if not j then pos = #str + 1; fail("unterminated string") end
      buf[#buf + 1] = str:sub(i, j - 1)
      local c = str:sub(j, j)
      if c == '"' then
        pos = j + 1
        return table.concat(buf)
      elseif c ~= "\\" then
        pos = j; fail("control character in string")
      end
      local e = str:sub(j + 1, j + 1)
      if ESCAPES[e] then
        buf[#buf + 1] = ESCAPES[e]
        i = j + 2
      elseif e == "u" then
        local hex = str:match("^%x%x%x%x", j + 2)
        if not hex then pos = j; fail("invalid \\u escape") end
        local cp = tonumber(hex, 16)
        i = j + 6
        -- a high surrogate followed by a low one encodes one code point
        local lo = cp >= 0xD800 and cp <= 0xDBFF and str:match("^\\u(%x%x%x%x)", i)
        lo = lo and tonumber(lo, 16)
        if lo and lo >= 0xDC00 and lo <= 0xDFFF then
          cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
          i = i + 6
        end
        buf[#buf + 1] = utf8_char(cp)
      else
        pos = j; fail("invalid escape")
      end
    end
  end

  local function parse_number()
    local s, e = str:find("^-?%d+", pos)
    if not s then fail("unexpected character") end
    if str:find("^-?0%d", pos) then fail("leading zero in number") end
    local _, e2 = str:find("^%.%d+", e + 1)
    if e2 then e = e2 elseif str:sub(e + 1, e + 1) == "." then fail("bad number") end
    local _, e3 = str:find("^[eE][-+]?%d+", e + 1)
    if e3 then e = e3 elseif str:find("^[eE]", e + 1) then fail("bad number") end
    local n = tonumber(str:sub(pos, e))
    pos = e + 1
    return n
  end

  local parse_value

  local function parse_container(close, item)
    depth = depth + 1
    if depth > 500 then fail("nesting too deep") end
    pos = pos + 1
    skip_ws()
    if str:sub(pos, pos) == close then
      pos = pos + 1
    else
      while true do
        item()
        skip_ws()
        local c = str:sub(pos, pos)
        pos = pos + 1
        if c == close then break end
        if c ~= "," then pos = pos - 1; fail("expected ',' or '" .. close .. "'") end
        skip_ws()
      end
    end
    depth = depth - 1
  end

  function parse_value()
    skip_ws()
    local c = str:sub(pos, pos)
    if c == "{" then
      local obj = {}
      parse_container("}", function()
        if str:sub(pos, pos) ~= '"' then fail("expected a string key") end
        local k = parse_string()
        skip_ws()
        if str:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = parse_value()
      end)
      return obj
    elseif c == "[" then
      local arr = array()
      parse_container("]", function() arr[#arr + 1] = parse_value() end)
      return arr
    elseif c == '"' then
      return parse_string()
    elseif str:find("^true", pos) then
      pos = pos + 4; return true
    elseif str:find("^false", pos) then
      pos = pos + 5; return false
    elseif str:find("^null", pos) then
      pos = pos + 4; return NULL
    elseif c == "" then
      fail("unexpected end of input")
    end
    return parse_number()
  end

  local ok, result = pcall(function()
    local v = parse_value()
    skip_ws()
    if pos <= #str then fail("trailing characters") end
    return v
  end)
  if ok then return result end
  if type(result) == "table" then return nil, result.json end
  error(result, 0)
end

M.ARRAY_MT = ARRAY_MT
M.array = array
M.is_array = is_array
M.is_object = is_object
M.encode = encode
M.decode = decode

return M
