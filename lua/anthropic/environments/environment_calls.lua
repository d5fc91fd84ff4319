-- anthropic.environments.environment_calls: the calls of the environments resource,
-- as methods of the client. Each call has a blocking form and an _async
-- form (client.define): archive, create, retrieve, update, delete and list;
-- then each (every environment, page after page). archive_many and many
-- are in batch.lua.
local check = require "anthropic.environments.check"
local options = require "anthropic.environments.options"
local schema = require "anthropic.environments.schema"
local answer = require "anthropic.environments.answer"
local client = require "anthropic.environments.client"
local pages = require "anthropic.environments.pages"
local core = require "anthropic.environments.core"
check.internal()

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
  local body = schema.environment_body(where, params, false)
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
  local body = schema.environment_body(where, params, true)
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
end, answer.interpret_page)

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
  if opts.with_response then
    argerror("each", "option 'with_response' is not for each (it gives environments): use list")
  end
  local base = params and schema.params("each", params) or {}
  local call_opts = options.pick(opts, CALL)
  -- the checks of a call (credentials, extra options), as the first page would make them
  self:_prepare("each", "GET", "/v1/environments", nil, call_opts)
  local first = base.page ~= null and base.page or nil
  return pages.each(function(cursor)
    base.page = cursor
    return self:list(base, call_opts)
  end, first, opts.max_pages)
end

require "anthropic.environments.batch"

return Client
