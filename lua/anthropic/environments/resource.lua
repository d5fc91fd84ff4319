-- anthropic.environments.resource: the calls of the environments resource,
-- as methods of the client. Each call has a blocking form and an _async
-- form (client.define): archive, create, retrieve, update, delete and list;
-- then each (every environment, page after page). archive_many and many
-- are in batch.lua.
local check = require "anthropic.environments.check"
local options = require "anthropic.environments.options"
local schema = require "anthropic.environments.schema"
local errors = require "anthropic.environments.errors"
local client = require "anthropic.environments.client"
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
end, errors.interpret_page)

--- client:each([params [, opts]]) -> iterator over every environment, page
-- after page (fetched when needed). On a failure it gives false, err once
-- and then stops: `for env, err in client:each() do if not env then ... end end`.
function Client:each(params, opts)
  check_client("each", self)
  -- Raise now for bad params, options or missing credentials, not at the
  -- first page.
  schema.list_query("each", params)
  opts = options.check("each", opts, CALL)
  if opts.with_response then
    argerror("each", "option 'with_response' is not for each (it gives environments): use list")
  end
  local base = params and schema.params("each", params) or {}
  self:_prepare("each", "GET", "/v1/environments", nil, opts)
  local cursor = base.page ~= null and base.page or nil
  local items, i, done, fetched_with = nil, 0, false, nil
  return function()
    while not done do
      if items and i < #items then
        i = i + 1
        return items[i]
      end
      if items and not cursor then break end
      if items and cursor == fetched_with then   -- the same page again: it would never end
        done = true
        return false, errors.new("decode", { status = 200, attempts = 1,
          message = "the API gave the page cursor it was asked for as the next one" })
      end
      base.page, fetched_with = cursor, cursor
      local page, err = self:list(base, opts)
      if not page then
        done = true
        return false, err
      end
      items, i, cursor = page.data, 0, page.next_page
    end
    done = true
    return nil
  end
end

require "anthropic.environments.batch"

return Client
