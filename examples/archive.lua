-- Archive one environment and print what the API gave back.
--   lua examples/archive.lua ENVIRONMENT_ID
-- Configured from ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN / ANTHROPIC_BASE_URL.
dofile((arg[0]:match("^(.*/)") or "./") .. "checkout.lua")   -- from a checkout: examples/checkout.lua
local environments = require "anthropic.environments"

local id = arg[1] or os.getenv("ENV_ID")
if not id or id == "" then
  io.stderr:write("usage: lua examples/archive.lua ENVIRONMENT_ID\n")
  os.exit(2)
end

local env, err = environments.archive(id)
if not env then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

local function show(value)
  if value == environments.null or value == nil then return "null" end
  return tostring(value)
end

print("archived   " .. env.id .. " (" .. env.name .. ")")
print("type       " .. env.config.type
  .. (env.config.networking and (", networking " .. env.config.networking.type) or ""))
if env.config.packages then
  print("pip        " .. table.concat(env.config.packages.pip, ", "))
end
print("created_at " .. show(env.created_at))
print("archived_at " .. show(env.archived_at)
  .. (environments.is_archived(env)
      and string.format(" (%d seconds after creation)",
            environments.parse_time(env.archived_at) - environments.parse_time(env.created_at))
      or ""))
