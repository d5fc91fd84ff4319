-- types/anthropic-environments.lua (the LuaCATS definitions of the public
-- API) and the library hold the same names, both ways: every function of
-- the module, every method of clients, calls, leases and errors (the
-- _async forms included), every option of new, of the calls, of the
-- schedulers, of the iterators, of work_lease and of unwrap_webhook, and
-- every field of clients, calls, leases and errors is annotated; and every
-- annotated name exists (or, for a field, is named in docs/reference.md).
local environments = require "anthropic.environments"
local options = require "anthropic.environments.options"
local hosts = require "spec.support.hosts"
local fake = require "spec.support.fake"

local TYPES = hosts.ROOT .. "/types/anthropic-environments.lua"
local P = "anthropic.environments"

-- Names annotated for what other changes add to the API (their contracts),
-- which may be absent from this checkout until they are merged: empty
-- now that they are all in.
local PENDING = {}

-- The annotations: class -> { fields = {name = true}, methods = {name = true},
-- parent = class or nil }.
local function parse(text)
  local classes, by_local, current = {}, {}, nil
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local class, parent = line:match("^%-%-%-@class ([%w%.]+):?%s*([%w%.]*)")
    local field = line:match("^%-%-%-@field ([%w_]+)")
    local var = line:match("^local (%w+) = {}")
    local owner, sep, name = line:match("^function (%w+)([.:])([%w_]+)%(")
    if class then
      current = { fields = {}, methods = {}, parent = parent ~= "" and parent or nil }
      classes[class] = current
      current.name = class
    elseif field and current then
      current.fields[field] = true
    elseif var and current then
      by_local[var] = current
      current = nil
    elseif owner then
      local c = assert(by_local[owner], "no class for " .. owner)
      c.methods[name] = sep
    elseif not line:match("^%-%-%-") then
      current = nil
    end
  end
  return classes
end

local classes = parse(assert(hosts.read_file(TYPES)))
local reference = assert(hosts.read_file(hosts.ROOT .. "/docs/reference.md"))

-- Every field of a class, its parents' included.
local function fields_of(name)
  local out, c = {}, classes[name]
  while c do
    for f in pairs(c.fields) do out[f] = true end
    c = c.parent and classes[c.parent]
  end
  return out
end

local function pending(class, name) return PENDING[class] and PENDING[class][name] end

local function sorted(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- The public (not _-prefixed, not metamethod) functions of a table.
local function functions_of(t)
  local out = {}
  for k, v in pairs(t) do
    if type(v) == "function" and type(k) == "string" and not k:match("^_") then out[k] = true end
  end
  return out
end

describe("types/anthropic-environments.lua", function()
  it("has the classes of the public API", function()
    for _, c in ipairs { "", ".Client", ".Call", ".Error", ".Lease", ".ClientOptions", ".CallOptions",
                         ".ManyOptions", ".PagesOptions", ".LeaseOptions", ".WebhookOptions" } do
      assert.is_table(classes[P .. c], P .. c)
    end
  end)

  it("annotates every function and value of the module, and only those", function()
    local c = classes[P]
    for _, k in ipairs(sorted(environments)) do
      assert.is_true(c.fields[k] or c.methods[k] == ".", "environments." .. k .. " is not annotated")
    end
    for name in pairs(c.fields) do
      assert.is_true(environments[name] ~= nil, "annotated environments." .. name .. " does not exist")
    end
    for name, sep in pairs(c.methods) do
      assert.are.equal(".", sep, name)
      assert.is_true(type(environments[name]) == "function" or pending(P, name),
        "annotated environments." .. name .. " does not exist")
    end
  end)

  for _, what in ipairs { { "Client", environments.Client }, { "Call", environments.Call },
                          { "Error", environments.Error } } do
    it("annotates every method of " .. what[1] .. ", _async forms included, and only those", function()
      local name = P .. "." .. what[1]
      local c = classes[name]
      for _, m in ipairs(sorted(functions_of(what[2]))) do
        assert.are.equal(":", c.methods[m], what[1] .. ":" .. m .. " is not annotated")
      end
      for m in pairs(c.methods) do
        assert.is_true(type(what[2][m]) == "function" or pending(name, m),
          "annotated " .. what[1] .. ":" .. m .. " does not exist")
      end
    end)
  end

  local option_sets = {
    { "ClientOptions", options.CLIENT, "new" },
    { "CallOptions", options.CALL, "a call" },
    { "ManyOptions", options.MANY, "many/archive_many" },
    { "PagesOptions", options.PAGES, "each/each_work" },
    { "CollectOptions", options.COLLECT, "collect/collect_work" },
    { "LeaseOptions", require("anthropic.environments.lease").OPTIONS, "work_lease" },
  }
  for _, set in ipairs(option_sets) do
    it("annotates every option of " .. set[3] .. ", and only those", function()
      local annotated = fields_of(P .. "." .. set[1])
      assert.are.same(sorted(set[2]), sorted(annotated))
    end)
  end

  it("annotates the options unwrap_webhook takes", function()
    for name in pairs(fields_of(P .. ".WebhookOptions")) do
      local ok, err = pcall(environments.unwrap_webhook, "{}", {}, { [name] = name == "key" and "whsec_AAAA" or 1 })
      assert.is_true(ok or not tostring(err):find("unknown option", 1, true), name .. ": " .. tostring(err))
    end
    assert.has_error(function() environments.unwrap_webhook("{}", {}, { keys = "x" }) end)
  end)

  describe("fields", function()
    local server
    setup(function() server = fake.start() end)
    teardown(function() server:stop() end)
    before_each(function() server:reset() end)

    -- The raw fields of tables the library gave are annotated; the
    -- annotated ones were seen, or are named in docs/reference.md.
    local function check(class, seen)
      local annotated = fields_of(P .. "." .. class)
      for name in pairs(seen) do
        assert.is_true(annotated[name], class .. " field '" .. name .. "' is not annotated")
      end
      for name in pairs(annotated) do
        assert.is_true(seen[name] or reference:find("`" .. name .. "`", 1, true) ~= nil
                       or reference:find("%." .. name .. "[%s`]") ~= nil,
          "annotated " .. class .. " field '" .. name .. "' was never seen, nor is it in docs/reference.md")
      end
    end

    local function keys(into, t)
      assert(type(t) == "table", "expected a table (an error, a call, ...), got " .. tostring(t))
      for k, v in pairs(t) do
        if type(k) == "string" and type(v) ~= "function" then into[k] = true end
      end
      return into
    end

    it("of clients and calls", function()
      local client = server:client("sk-types", {})
      check("Client", keys({}, client))
      local seen = {}
      local call = client:archive_async("env_011CZkZ9X2dpNyB7HsEFoRfW")
      keys(seen, call)
      assert.is_true(call:wait(5))
      keys(seen, call)
      local failed = client:retrieve_async("env_nope")
      assert.is_true(failed:wait(5))
      keys(seen, failed)
      check("Call", seen)
      client:close()
    end)

    it("of errors, of every kind a call or unwrap_webhook gives", function()
      local seen = {}
      local client = server:client("sk-types", {}, { max_retries = 0 })
      local _, err = client:retrieve("env_nope")                          -- api
      keys(seen, err)
      server:script { { status = 200, body = "not json" } }
      _, err = client:retrieve("env_selfhosted01")                        -- decode
      keys(seen, err)
      local refused = environments.new { base_url = "http://127.0.0.1:1", api_key = "sk-types", max_retries = 0 }
      _, err = refused:retrieve("env_selfhosted01")                       -- connection
      keys(seen, err)
      refused:close()
      local call = client:retrieve_async("env_selfhosted01")
      call:cancel()
      keys(seen, select(3, call:poll()))                                  -- cancelled
      _, err = environments.unwrap_webhook("{}", {}, { key = "whsec_AAAA" })   -- webhook, header
      keys(seen, err)
      _, err = environments.unwrap_webhook("{}", { ["webhook-id"] = "m", ["webhook-timestamp"] = "1",
        ["webhook-signature"] = "v1,AAAA" }, { key = "whsec_AAAA", now = 1 })
      keys(seen, err)
      check("Error", seen)
      client:close()
    end)

    it("of leases", function()
      server:enqueue_work("env_selfhosted01")
      local client = server:client("sk-types", {})
      local item = assert(client:work_poll("env_selfhosted01"))
      local lease = client:work_lease("env_selfhosted01", item, { desired_ttl_seconds = 10 })
      local seen = keys({}, lease)
      lease:wait(5)
      keys(seen, lease)
      lease:close()
      keys(seen, lease)
      check("Lease", seen)
      -- and its methods, both ways
      local methods = classes[P .. ".Lease"].methods
      local Lease = getmetatable(lease)
      for _, m in ipairs(sorted(functions_of(Lease))) do
        assert.are.equal(":", methods[m], "lease:" .. m .. " is not annotated")
      end
      for m in pairs(methods) do
        assert.is_function(Lease[m], "annotated lease:" .. m .. " does not exist")
      end
      client:close()
    end)
  end)
end)
