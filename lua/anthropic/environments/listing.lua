-- anthropic.environments.listing: every page of a list call, for each and
-- collect (environment_calls.lua) and each_work and collect_work
-- (work_calls.lua): the options and checks they share, the iteration
-- (pages.lua), and the array collect returns.
local check = require "anthropic.environments.check"
local options = require "anthropic.environments.options"
local schema = require "anthropic.environments.schema"
local errors = require "anthropic.environments.errors"
local pages = require "anthropic.environments.pages"
local basics = require "anthropic.environments.basics"
check.internal()

local format, setmetatable = string.format, setmetatable
local argerror = check.argerror
local null = basics.null

local M = {}

--- listing.each(client, where, what, path, params, opts, list) -> iterator, checked opts
-- what = { gives = "environments", list = "list" } (for the messages), and
-- what.collect true for collect (whose options have max_items too);
-- path: the list's path, for the checks a call makes (credentials, extra
-- options) before the first page; list(base, call_opts) fetches one page,
-- where base is a raw copy of params whose `page` is the cursor.
function M.each(self, where, what, path, params, opts, list)
  opts = options.check(where, opts, what.collect and options.COLLECT or options.PAGES)
  if opts.with_response then
    argerror(where, format("option 'with_response' is not for %s (it gives %s): use %s",
      where, what.gives, what.list))
  end
  local base = params and schema.params(where, params) or {}
  local call_opts = options.pick(opts, options.CALL)
  self:_prepare(where, "GET", path, nil, call_opts)
  local first = base.page ~= null and base.page or nil
  return pages.each(function(cursor)
    base.page = cursor
    return list(base, call_opts)
  end, first, opts.max_pages), opts
end

--- listing.collect(iterator, opts) -> every item as one array (marked to
-- encode as a JSON array), or nil, err: the iteration's error, or one of
-- kind "pagination" when there are more than opts.max_items items.
function M.collect(iterator, opts)
  local max_items = opts.max_items
  local out, n = setmetatable({}, basics.array_mt), 0
  for item, err in iterator do
    if not item then return nil, err end
    if max_items and n >= max_items then
      return nil, errors.new("pagination", {
        message = format("more than max_items (%d) items: stopped (raise max_items for a longer listing)",
          max_items),
        items = n,
      })
    end
    n = n + 1
    out[n] = item
  end
  return out
end

return M
