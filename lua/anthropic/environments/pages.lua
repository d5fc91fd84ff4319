-- anthropic.environments.pages: iteration over a paginated list, page
-- after page, fetched when needed. Bounded: a cursor seen before (the API
-- going round in a cycle) or more pages than max_pages ends the iteration
-- with false, err (kind "pagination"), so a broken or hostile server cannot
-- keep a caller looping. The cursors seen are kept in a bounded size each
-- (a long one by its SHA-256), so huge new cursors do not grow the iterator.
local errors = require "anthropic.environments.errors"
local sha256 = require("anthropic.environments.basics").sha256

local format = string.format

local M = {
  DEFAULT_MAX_PAGES = 10000,
  SHORT_CURSOR = 256,   -- bytes: cursors up to this long are kept as they are
}

--- pages.digest(s) -> a fixed-size string standing for s: its SHA-256
-- (libcrypto, in the core), or s itself in the one case libcrypto fails
-- (out of memory).
function M.digest(s)
  return sha256(s) or s
end
local digest = M.digest

-- The cursor as an error message shows it: a long one is cut.
local function shown(cursor)
  if #cursor > 64 then return format("%q... (%d bytes)", cursor:sub(1, 64), #cursor) end
  return format("%q", cursor)
end

--- pages.each(fetch, cursor, max_pages) -> iterator giving each item, then
-- nil; on a failure false, err once, then nil. fetch(cursor) -> page or
-- nil, err, where page = { data = {...}, next_page = cursor or nil }.
function M.each(fetch, cursor, max_pages)
  max_pages = max_pages or M.DEFAULT_MAX_PAGES
  local items, i, done, pages = nil, 0, false, 0
  -- The cursors seen, in a fixed size each: a short one as it is, a long
  -- one (a broken or hostile server's) by its digest, in a table of its own.
  local seen, seen_long, short = {}, {}, M.SHORT_CURSOR
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
        local set, key = seen, cursor
        if #cursor > short then set, key = seen_long, digest(cursor) end
        if set[key] then
          return stop(format("the API gave page cursor %s again after %d pages: the listing would never end",
            shown(cursor), pages))
        end
        set[key] = true
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
