-- anthropic.environments.environment_calls: the calls of the environments
-- resource, as declarations (methods.lua installs them on the client, with
-- their _async forms, and makes the one-liners from the same tables):
-- archive, create, retrieve, update, delete and list; then each and collect
-- (every environment, page after page). many and archive_many are in
-- batch.lua.
--
-- A call's declaration: { name =, build =, interpret =, check = }
--   build(self, where, ...) checks the arguments (raising at the caller's
--     line) and returns method, path, body (a table, merged with extra_body
--     and encoded by client:_prepare, or nil) and the checked options;
--   interpret (optional) reads the answers (see call.new);
--   check(where, ...) is what the one-liner checks before the default
--     client is made (without it, build runs).
local check = require "anthropic.environments.check"
local options = require "anthropic.environments.options"
local schema = require "anthropic.environments.schema"
local answer = require "anthropic.environments.answer"
local listing = require "anthropic.environments.listing"
check.internal()

local check_id, escape_segment = check.id, check.escape_segment
local CALL = options.CALL

local M = {}

local function env_path(id)
  return "/v1/environments/" .. escape_segment(id)
end

local function id_only(where, id) check_id(where, id) end

--- The calls, in the order the reference lists them.
M.CALLS = {
  --- client:archive(id [, opts]) -> environment  or  nil, err
  { name = "archive", check = id_only, build = function(_, where, id, opts)
    check_id(where, id)
    return "POST", env_path(id) .. "/archive", nil, options.check(where, opts, CALL)
  end },

  --- client:create(params [, opts]) -> environment  or  nil, err
  { name = "create", build = function(_, where, params, opts)
    local body = schema.environment_body(where, params, false)
    return "POST", "/v1/environments", body, options.check(where, opts, CALL)
  end, check = function(where, params) schema.environment_body(where, params, false) end },

  --- client:retrieve(id [, opts]) -> environment  or  nil, err
  { name = "retrieve", check = id_only, build = function(_, where, id, opts)
    check_id(where, id)
    return "GET", env_path(id), nil, options.check(where, opts, CALL)
  end },

  --- client:update(id, params [, opts]) -> environment  or  nil, err
  { name = "update", build = function(_, where, id, params, opts)
    check_id(where, id)
    local body = schema.environment_body(where, params, true)
    return "POST", env_path(id), body, options.check(where, opts, CALL)
  end, check = function(where, id, params)
    check_id(where, id)
    schema.environment_body(where, params, true)
  end },

  --- client:delete(id [, opts]) -> { id =, type = "environment_deleted" }  or  nil, err
  { name = "delete", check = id_only, build = function(_, where, id, opts)
    check_id(where, id)
    return "DELETE", env_path(id), nil, options.check(where, opts, CALL)
  end },

  --- client:list([params [, opts]]) -> { data = { environment... }, next_page = cursor or nil }
  --  or nil, err. params: limit (1-1000), include_archived (boolean), page (a
  --  cursor from next_page).
  { name = "list", interpret = answer.interpret_page, build = function(_, where, params, opts)
    local query = schema.list_query(where, params)
    return "GET", "/v1/environments" .. query, nil, options.check(where, opts, CALL)
  end, check = function(where, params) schema.list_query(where, params) end },
}

-- What each and collect go through: every environment, page after page.
local EACH = { gives = "environments", list = "list" }
local COLLECT = { gives = "environments", list = "list", collect = true }

local function pages(self, where, what, params, opts)
  -- Raise now for bad params, options or missing credentials, not at the
  -- first page.
  schema.list_query(where, params)
  return listing.each(self, where, what, "/v1/environments", params, opts, function(base, call_opts)
    return self:list(base, call_opts)
  end)
end

--- client:each([params [, opts]]) -> iterator over every environment, page
-- after page (fetched when needed). On a failure it gives false, err once
-- and then stops: `for env, err in client:each() do if not env then ... end end`.
-- A repeated cursor or more than opts.max_pages pages (10,000) ends it with
-- false, err of kind "pagination".
local function each(self, params, opts)
  return (pages(self, "each", EACH, params, opts))
end

--- client:collect([params [, opts]]) -> array of every environment  or  nil, err
-- As each, with opts.max_items besides max_pages.
local function collect(self, params, opts)
  return listing.collect(pages(self, "collect", COLLECT, params, opts))
end

local function list_params(where, params) schema.list_query(where, params) end

--- The methods that are not one call, each with what its one-liner checks.
M.METHODS = {
  { name = "each", fn = each, check = list_params },
  { name = "collect", fn = collect, check = list_params },
}

return M
