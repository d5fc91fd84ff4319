-- The /v1 dispatcher: authentication, version and beta checks, then the
-- route, then the body, in the API's order. Handlers return status, value
-- (see respond.body_of) and optionally extra headers.
local http_util = require "http.util"
local json = require "fake.json"
local util = require "fake.util"
local respond = require "fake.respond"
local envs = require "fake.environments"
local work = require "fake.work"

local decode = json.decode
local header, percent_decode = util.header, util.percent_decode
local error_body = respond.error_body

local BETA = "managed-agents-2026-04-01"
local VERSIONS = { ["2023-06-01"] = true, ["2023-01-01"] = true }

local M = {}

-- The routes under /v1/environments/{id}: tail -> { method -> handler }.
local WORK_ROUTES = {
  [""] = { GET = work.retrieve, POST = work.update },
  ["/ack"] = { POST = work.ack },
  ["/heartbeat"] = { POST = work.heartbeat },
  ["/stop"] = { POST = work.stop },
}
local ENV_ROUTES = {
  [""] = { GET = envs.retrieve, POST = envs.update, DELETE = envs.delete },
  ["/archive"] = { POST = envs.archive },
  ["/work"] = { GET = work.list },
  ["/work/poll"] = { GET = work.poll },
  ["/work/stats"] = { GET = work.stats },
}

local function allow_list(routes)
  local names = {}
  for _, m in ipairs({ "GET", "POST", "DELETE" }) do
    if routes[m] then names[#names + 1] = m end
  end
  return table.concat(names, ", ")
end

-- Returns the handler's routes table, the environment id and the work id.
local function route(path)
  local rest = path:match("^/v1/environments(.*)$")
  if rest == "" then
    return { GET = envs.list, POST = envs.create }
  elseif not rest or rest:sub(1, 1) ~= "/" then
    return nil
  end
  local raw_id, tail = rest:match("^/([^/]*)(.*)$")
  local id = percent_decode(raw_id)
  if ENV_ROUTES[tail] then return ENV_ROUTES[tail], id end
  local raw_work, work_tail = tail:match("^/work/([^/]+)(.*)$")
  if raw_work and WORK_ROUTES[work_tail] then
    return WORK_ROUTES[work_tail], id, percent_decode(raw_work)
  end
end

-- Routes a /v1 request: returns status, value. Checks come in the API's
-- order: authentication, version, beta, route, body.
function M.handle(req)
  local key, auth = header(req, "x-api-key"), header(req, "authorization")
  if (key == nil or key == "") and not (auth and auth:find("^[Bb]earer%s+%S")) then
    return 401, error_body(401, "x-api-key header is required", nil, req.request_id)
  end
  local version = header(req, "anthropic-version")
  if not version then
    return 400, error_body(400, "anthropic-version header is required", nil, req.request_id)
  elseif not VERSIONS[version] then
    return 400, error_body(400, "anthropic-version: unsupported version '" .. version .. "'",
      nil, req.request_id)
  end
  local has_beta = false
  for _, kv in ipairs(req.headers) do
    if kv[1] == "anthropic-beta" then
      for b in kv[2]:gmatch("[^,]+") do
        if b:match("^%s*(.-)%s*$") == BETA then has_beta = true end
      end
    end
  end
  if not has_beta then
    return 400, error_body(400, "anthropic-beta header must include " .. BETA, nil,
      req.request_id)
  end

  local routes, id, work_id = route(req.path)
  local handler = routes and routes[req.method]
  if not routes then
    return 404, error_body(404, "Not found: " .. req.method .. " " .. req.path, nil,
      req.request_id)
  elseif not handler then
    return 405, error_body(405, "Method " .. req.method .. " not allowed for " .. req.path, nil,
      req.request_id), { { "allow", allow_list(routes) } }
  end

  -- body: any non-empty body must be JSON
  local body = {}
  if req.body:find("%S") then
    local err
    body, err = decode(req.body)
    if body == nil then
      return 400, error_body(400, "Invalid JSON in request body: " .. err, nil, req.request_id)
    end
  end

  -- yieldable: a long poll waits inside its handler
  local ok, status, value, extra = http_util.yieldable_pcall(function()
    if id then return handler(req, id, body, work_id) end
    return handler(req, body)
  end)
  if ok then return status, value, extra end
  if type(status) == "table" and status.invalid then
    return 400, error_body(400, status.invalid, status.code, req.request_id)
  end
  error(status, 0)
end

-- Handles a /v1 request normally and writes the answer.
function M.answer(stream, req)
  local status, value, extra = M.handle(req)
  local headers = { { "request-id", req.request_id } }
  for _, kv in ipairs(extra or {}) do headers[#headers + 1] = kv end
  return respond.send(stream, status, respond.body_of(value), headers)
end

return M
