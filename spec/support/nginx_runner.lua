-- Runs Lua sent by spec/nginx_cosocket_spec.lua inside nginx: the code is
-- in the query argument `code` (base64), runs as a function of one table of
-- values (`ctx`, JSON in the argument `ctx`, base64), and its results come
-- back as JSON: { ok = true, n = count, results = { ["1"] = ..., ... } }
-- (nil results left out) with each error
-- of the library as a plain table of its fields (is_error = true), or
-- { ok = false, error = message } when the code raised.
local cjson = require "cjson.safe"
local environments = require "anthropic.environments"

local M = {}

-- A client made in init_by_lua (see the spec's nginx.conf), used later in
-- the handlers: it must pick its transport per call.
M.init_client = nil

local function plain(v, depth)
  depth = depth or 0
  if environments.is_error(v) then
    local t = { is_error = true }
    for k, x in pairs(v) do t[k] = x end
    return t
  end
  if type(v) == "table" and depth < 4 then
    local t = {}
    for k, x in pairs(v) do t[k] = plain(x, depth + 1) end
    return t
  end
  if type(v) == "function" or type(v) == "userdata" and v ~= environments.null then return tostring(v) end
  return v
end

local function run(code_b64, ctx_b64)
  local code = ngx.decode_base64(ngx.unescape_uri(code_b64 or "")) or ""
  local ctx = cjson.decode(ngx.decode_base64(ngx.unescape_uri(ctx_b64 or "")) or "{}") or {}
  ctx.init_client = M.init_client
  local fn, err = loadstring("local ctx = ...\n" .. code, "=spec")
  if not fn then return { ok = false, error = err } end
  local res = (function(...) return { n = select("#", ...), ... } end)(pcall(fn, ctx))
  if not res[1] then return { ok = false, error = tostring(res[2]) } end
  -- Keyed by the result's position as a string: nil results leave no hole.
  local out = { ok = true, n = res.n - 1, results = { _ = true } }
  for i = 2, res.n do
    if res[i] ~= nil then out.results[tostring(i - 1)] = plain(res[i]) end
  end
  return out
end

local function encode(out)
  local text = cjson.encode(out)
  if not text then text = cjson.encode { ok = false, error = "results not encodable" } end
  return text
end

--- In content_by_lua: answers with the JSON.
function M.content()
  ngx.say(encode(run(ngx.var.arg_code, ngx.var.arg_ctx)))
end

--- In set_by_lua: the JSON as the value.
function M.set()
  return encode(run(ngx.var.arg_code, ngx.var.arg_ctx))
end

return M
