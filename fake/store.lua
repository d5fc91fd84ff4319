-- The fake's state: stored environments, recorded requests, the script
-- queue, the config, and whatever other modules register to be reset.
local json = require "fake.json"

local NULL, array = json.null, json.array

local M = {}

local function strings(...)
  return array({ ... })
end

local function seed_environments()
  return {
    { -- exactly the reference page's example
      id = "env_011CZkZ9X2dpNyB7HsEFoRfW",
      archived_at = NULL,
      config = {
        networking = {
          allow_mcp_servers = false,
          allow_package_managers = true,
          allowed_hosts = strings("api.example.com"),
          type = "limited",
        },
        packages = {
          apt = strings("string"), cargo = strings("string"),
          gem = strings("string"), go = strings("string"),
          npm = strings("string"), pip = strings("pandas", "numpy"),
          type = "packages",
        },
        type = "cloud",
      },
      created_at = "2026-03-15T10:00:00Z",
      description = "Python environment with data-analysis packages.",
      metadata = {},
      name = "python-data-analysis",
      type = "environment",
      updated_at = "2026-03-15T10:00:00Z",
      scope = "organization",
    },
    { -- self-hosted: no scope field, null description
      id = "env_selfhosted01",
      archived_at = NULL,
      config = { type = "self_hosted" },
      created_at = "2026-03-16T09:00:00Z",
      description = NULL,
      metadata = { owner = "platform-team" },
      name = "self-hosted-runner",
      type = "environment",
      updated_at = "2026-03-16T09:00:00Z",
    },
    { -- cloud, unrestricted networking, every package list empty
      id = "env_unrestricted01",
      archived_at = NULL,
      config = {
        networking = { type = "unrestricted" },
        packages = {
          apt = array(), cargo = array(), gem = array(), go = array(),
          npm = array(), pip = array(), type = "packages",
        },
        type = "cloud",
      },
      created_at = "2026-03-17T08:00:00Z",
      description = "Cloud environment with open networking and no packages.",
      metadata = {},
      name = "unrestricted-empty",
      type = "environment",
      updated_at = "2026-03-17T08:00:00Z",
      scope = "account",
    },
  }
end

-- Counters are never reset, so request, environment and work ids stay
-- unique for the whole life of the server (ids from one test never
-- reappear in another).
M.counters = { request = 0, env = 0, seq = 0, work = 0, delivery = 0, heartbeat = 0 }

-- envs (id -> table), seq (id -> insertion number), requests, script, config
M.state = nil

local reset_hooks = {}

-- `fn(state)` runs on every reset, after the seed is back.
function M.on_reset(fn)
  reset_hooks[#reset_hooks + 1] = fn
end

function M.store_env(env)
  local state, counters = M.state, M.counters
  if not state.seq[env.id] then
    counters.seq = counters.seq + 1
    state.seq[env.id] = counters.seq
  end
  state.envs[env.id] = env
end

function M.reset()
  M.state = { envs = {}, seq = {}, requests = {}, script = {}, config = {} }
  for _, env in ipairs(seed_environments()) do M.store_env(env) end
  for _, fn in ipairs(reset_hooks) do fn(M.state) end
end

function M.is_archived(env)
  return env.archived_at ~= nil and env.archived_at ~= NULL
end

function M.is_self_hosted(env)
  return type(env.config) == "table" and env.config.type == "self_hosted"
end

return M
