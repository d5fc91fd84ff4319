-- client:collect and client:collect_work (and their one-liners): every
-- page of a list as one array, within max_pages and max_items.
local environments = require "anthropic.environments"
local fake = require "spec.support.fake"

local ENV = "env_selfhosted01"
local SECRET = "work-secret-collect-1234"
local SEED = { "env_unrestricted01", "env_selfhosted01", "env_011CZkZ9X2dpNyB7HsEFoRfW" }

describe("collect", function()
  local server, _, new_client = fake.suite("sk-collect")
  -- the clients made here close their connections now, not during a later
  -- file's count of sockets
  teardown(function() collectgarbage() collectgarbage() end)

  local function ids(list)
    local out = {}
    for i, v in ipairs(list) do out[i] = v.id end
    return out
  end

  local function queries()
    local out = {}
    for i, r in ipairs(server:requests()) do out[i] = r.method .. " " .. r.path .. "?" .. r.query end
    return out
  end

  it("gives every environment, page after page, as one array", function()
    local all = assert(new_client():collect { limit = 1 })
    assert.are.same(SEED, ids(all))
    local reqs = queries()
    assert.are.equal(3, #reqs)
    assert.are.equal("GET /v1/environments?limit=1", reqs[1])
    assert.matches("^GET /v1/environments%?limit=1&page=page_%x+$", reqs[2])
    assert.matches("^GET /v1/environments%?limit=1&page=page_%x+$", reqs[3])
  end)

  it("gives an empty list as an empty JSON array", function()
    server:script { { method = "GET", path = "/v1/environments", body = '{"data":[],"next_page":null}' } }
    local all = assert(new_client():collect())
    assert.are.equal(0, #all)
    assert.are.equal("[]", environments.encode(all))
  end)

  it("ends with nil, err of kind pagination past max_items or max_pages", function()
    local all, err = new_client():collect({ limit = 1 }, { max_items = 2 })
    assert.is_nil(all)
    assert.are.equal("pagination", err.kind)
    assert.matches("more than max_items (2) items", err.message, 1, true)
    assert.are.equal(3, #server:requests())
    server:reset()
    all, err = new_client():collect({ limit = 1 }, { max_pages = 2 })
    assert.is_nil(all)
    assert.are.equal("pagination", err.kind)
    assert.matches("more than max_pages (2) pages", err.message, 1, true)
    assert.are.equal(2, #server:requests())
    server:reset()
    assert.are.equal(3, #assert(new_client():collect({ limit = 1 }, { max_items = 3, max_pages = 3 })))
  end)

  it("gives nil, err when a page fails", function()
    server:script { { method = "GET", path = "/v1/environments", query = "limit=2",
                      body = '{"data":[{"id":"env_a"}],"next_page":"p2"}' },
                    { method = "GET", path = "/v1/environments", status = 404 } }
    local all, err = new_client():collect { limit = 2 }
    assert.is_nil(all)
    assert.are.equal("api", err.kind)
    assert.are.equal(404, err.status)
    assert.are.same({ "GET /v1/environments?limit=2", "GET /v1/environments?limit=2&page=p2" }, queries())
  end)

  it("checks its arguments before any traffic", function()
    local client = new_client()
    local function raises(message, f)
      local ok, msg = pcall(f)
      assert.is_false(ok)
      assert.matches("anthropic.environments." .. message, msg, 1, true)
      assert.matches("collect_spec%.lua:%d+:", msg)
    end
    raises("collect: parameter 'limit' must be a whole number from 1 to 1000", function() client:collect { limit = 0 } end)
    raises("collect: unknown option 'max_item'", function() client:collect(nil, { max_item = 1 }) end)
    raises("each: unknown option 'max_items'", function() client:each(nil, { max_items = 1 }) end)
    raises("collect: option 'with_response' is not for collect (it gives environments): use list",
      function() client:collect(nil, { with_response = true }) end)
    raises("collect: expected a client", function() client.collect(nil) end)
    raises("collect_work: env_id must not be empty", function() client:collect_work("") end)
    raises("collect_work: option 'with_response' is not for collect_work (it gives work items): use work_list",
      function() client:collect_work(ENV, nil, { with_response = true }) end)
    raises("collect: no credentials", function() environments.new { base_url = server.url }:collect() end)
    assert.are.equal(0, #server:requests())
  end)

  it("collect_work gives every work item of the queue, as work items", function()
    server:enqueue_work(ENV, { { id = "work_1", secret = SECRET }, { id = "work_2", secret = SECRET },
                               { id = "work_3", secret = SECRET } })
    local items = assert(new_client():collect_work(ENV, { limit = 2 }))
    assert.are.same({ "work_3", "work_2", "work_1" }, ids(items))
    for _, item in ipairs(items) do assert.is_true(environments.is_work_item(item)) end
    local reqs = queries()
    assert.are.equal(2, #reqs)
    assert.are.equal("GET /v1/environments/" .. ENV .. "/work?limit=2", reqs[1])
    local _, err = new_client():collect_work(ENV, { limit = 1 }, { max_items = 1 })
    assert.are.equal("pagination", err.kind)
  end)

  describe("one-liners", function()
    teardown(function() environments.configure() end)

    it("run on the default client", function()
      server:enqueue_work(ENV, { { id = "work_1", secret = SECRET } })
      environments.configure { base_url = server.url, api_key = "sk-collect" }
      assert.are.same(SEED, ids(assert(environments.collect { limit = 2 })))
      assert.are.same({ "work_1" }, ids(assert(environments.collect_work(ENV))))
      local ok, msg = pcall(environments.collect, { limit = 1001 })
      assert.is_false(ok)
      assert.matches("anthropic.environments.collect: parameter 'limit'", msg, 1, true)
    end)
  end)
end)
