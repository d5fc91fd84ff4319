-- anthropic.environments.time: the timestamps the API and HTTP use, as
-- seconds since the epoch (UTC): RFC 3339 (the API's fields) and HTTP dates
-- (Retry-After).
local type, tonumber, floor = type, tonumber, math.floor

local M = {}

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6,
                 Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- Days since 1970-01-01 of a proleptic Gregorian date.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

--- time.http_date("Wed, 21 Oct 2015 07:28:00 GMT") -> epoch seconds, or nil.
function M.http_date(s)
  local d, mon, y, h, mi, sec = s:match("^%a+, (%d%d?) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  return days_from_civil(tonumber(y), MONTHS[mon], tonumber(d)) * 86400
         + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

--- time.parse(s) -> epoch seconds (with fractions) of an RFC 3339
-- timestamp; nil for null/absent values; nil, message for malformed ones.
function M.parse(s, null)
  if s == nil or (null ~= nil and s == null) then return nil end
  if type(s) ~= "string" then return nil, "expected an RFC 3339 string" end
  local y, mo, d, h, mi, sec, frac, zone =
    s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
  if not y then return nil, "not an RFC 3339 timestamp: " .. s end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or sec > 60 or frac == "." then
    return nil, "not an RFC 3339 timestamp: " .. s
  end
  local offset
  if zone == "Z" or zone == "z" then
    offset = 0
  else
    local sign, oh, om = zone:match("^([+-])(%d%d):(%d%d)$")
    if not sign then return nil, "not an RFC 3339 timestamp: " .. s end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "+" and 1 or -1)
  end
  local t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset
  if frac ~= "" then t = t + tonumber("0" .. frac) end
  return t
end

return M
