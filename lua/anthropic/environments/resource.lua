-- anthropic.environments.resource: the calls of the environments resource,
-- as methods of the client. Each call has a blocking form and an _async
-- form (client.define): archive, create, retrieve, update, delete and list;
-- then each (every environment, page after page) and archive_many.
local check = require "anthropic.environments.check"
local options = require "anthropic.environments.options"
local schema = require "anthropic.environments.schema"
local errors = require "anthropic.environments.errors"
local client = require "anthropic.environments.client"
local many = require "anthropic.environments.many"
local pages = require "anthropic.environments.pages"
local core = require "anthropic.environments.core"
check.internal()

local type, next, format = type, next, string.format
local argerror, check_id, escape_segment = check.argerror, check.id, check.escape_segment
local check_client, define = client.check, client.define
local CALL = options.CALL
local null = core.null

local Client = client.Client

local function env_path(id)
  return "/v1/environments/" .. escape_segment(id)
end

--- client:archive(id [, opts]) -> environment  or  nil, err
define("archive", function(_, where, id, opts)
  check_id(where, id)
  return "POST", env_path(id) .. "/archive", nil, options.check(where, opts, CALL)
end)

--- client:create(params [, opts]) -> environment  or  nil, err
define("create", function(_, where, params, opts)
  local body = schema.encode_body(where, schema.environment_body(where, params, false))
  return "POST", "/v1/environments", body, options.check(where, opts, CALL)
end)

--- client:retrieve(id [, opts]) -> environment  or  nil, err
define("retrieve", function(_, where, id, opts)
  check_id(where, id)
  return "GET", env_path(id), nil, options.check(where, opts, CALL)
end)

--- client:update(id, params [, opts]) -> environment  or  nil, err
define("update", function(_, where, id, params, opts)
  check_id(where, id)
  local body = schema.encode_body(where, schema.environment_body(where, params, true))
  return "POST", env_path(id), body, options.check(where, opts, CALL)
end)

--- client:delete(id [, opts]) -> { id =, type = "environment_deleted" }  or  nil, err
define("delete", function(_, where, id, opts)
  check_id(where, id)
  return "DELETE", env_path(id), nil, options.check(where, opts, CALL)
end)


--- client:list([params [, opts]]) -> { data = { environment... }, next_page = cursor or nil }
--  or nil, err. params: limit (1-1000), include_archived (boolean), page (a
--  cursor from next_page).
define("list", function(_, where, params, opts)
  local query = schema.list_query(where, params)
  return "GET", "/v1/environments" .. query, nil, options.check(where, opts, CALL)
end, errors.interpret_page)

--- client:each([params [, opts]]) -> iterator over every environment, page
-- after page (fetched when needed). On a failure it gives false, err once
-- and then stops: `for env, err in client:each() do if not env then ... end end`.
-- A repeated cursor or more than opts.max_pages pages (10,000) ends it with
-- false, err of kind "pagination".
function Client:each(params, opts)
  check_client("each", self)
  -- Raise now for bad params, options or missing credentials, not at the
  -- first page.
  schema.list_query("each", params)
  opts = options.check("each", opts, options.PAGES)
  local base = params and schema.params("each", params) or {}
  local call_opts = options.pick(opts, CALL)
  self:_lines("each", call_opts, false)
  local first = base.page ~= null and base.page or nil
  return pages.each(function(cursor)
    base.page = cursor
    return self:list(base, call_opts)
  end, first, opts.max_pages)
end

--- client:archive_many(ids [, opts]) -> results, errors
-- Archives every id (duplicates once) with up to opts.concurrency (16)
-- requests in flight on this client's connections, each with its own
-- retries. results[id] is the environment, errors[id] the error.
-- opts.on_result(id, env, err) is called as each one ends.
function Client:archive_many(ids, opts)
  check_client("archive_many", self)
  if type(ids) ~= "table" then argerror("archive_many", "ids must be an array of ids") end
  opts = options.check("archive_many", opts, options.MANY)
  local jobs, seen = {}, {}
  for i = 1, #ids do
    local id = ids[i]
    if type(id) ~= "string" then
      argerror("archive_many", format("ids[%d] must be a string (got %s)", i, type(id)))
    end
    check_id("archive_many", id)
    if not seen[id] then
      seen[id] = true
      jobs[#jobs + 1] = { key = id }
    end
  end
  local call_opts = options.pick(opts, CALL)
  -- Raise now for missing credentials, not inside the scheduler.
  self:_lines("archive_many", call_opts, false)
  for _, job in next, jobs do
    local path = env_path(job.key) .. "/archive"
    job.start = function() return self:_start("archive_many", "POST", path, nil, call_opts) end
  end
  return many.run(client.private(self).transport, jobs, {
    concurrency = opts.concurrency, on_result = opts.on_result,
    sleep = opts.sleep or client.private(self).sleep,
  })
end

return Client
