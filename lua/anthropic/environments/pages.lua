-- anthropic.environments.pages: iteration over a paginated list, page
-- after page, fetched when needed. Bounded: a cursor seen before (the API
-- going round in a cycle) or more pages than max_pages ends the iteration
-- with false, err (kind "pagination"), so a broken or hostile server cannot
-- keep a caller looping.
local errors = require "anthropic.environments.errors"

local format = string.format

local M = {
  DEFAULT_MAX_PAGES = 10000,
}

--- pages.each(fetch, cursor, max_pages) -> iterator giving each item, then
-- nil; on a failure false, err once, then nil. fetch(cursor) -> page or
-- nil, err, where page = { data = {...}, next_page = cursor or nil }.
function M.each(fetch, cursor, max_pages)
  max_pages = max_pages or M.DEFAULT_MAX_PAGES
  local items, i, done, pages = nil, 0, false, 0
  local seen = {}
  local function stop(message)
    done = true
    return false, errors.new("pagination", { message = message, pages = pages })
  end
  return function()
    while not done do
      if items and i < #items then
        i = i + 1
        return items[i]
      end
      if items and not cursor then break end
      if cursor ~= nil then
        if seen[cursor] then
          return stop(format("the API gave page cursor %q again after %d pages: the listing would never end",
            cursor, pages))
        end
        seen[cursor] = true
      end
      if pages >= max_pages then
        return stop(format("more than max_pages (%d) pages: stopped (raise max_pages for a longer listing)",
          max_pages))
      end
      pages = pages + 1
      local page, err = fetch(cursor)
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

return M
