-- The JSON encoder of the C bridge (core.encode, also environments.encode)
-- and the array marker (environments.array): exact bytes out.
local environments = require "anthropic.environments"
local core = require "anthropic.environments.core"
local cjson = require "cjson"
local fake = require "spec.support.fake"

local encode, array, null = environments.encode, environments.array, environments.null

local function fails(pattern, value)
  local json, err = encode(value)
  assert.is_nil(json)
  assert.is_string(err)
  assert.matches(pattern, err, 1, true)
end

describe("encode", function()
  it("is core.encode", function()
    assert.are.equal(core.encode, environments.encode)
    assert.are.equal(core.array_mt, getmetatable(array()))
  end)

  describe("scalars", function()
    it("nil and null as null, booleans as true and false", function()
      assert.are.equal("null", encode(nil))
      assert.are.equal("null", encode(null))
      assert.are.equal("null", encode(cjson.null))
      assert.are.equal("true", encode(true))
      assert.are.equal("false", encode(false))
    end)

    it("integral numbers exactly, without a fraction or an exponent", function()
      assert.are.equal("0", encode(0))
      assert.are.equal("-1", encode(-1))
      assert.are.equal("1024", encode(1024))
      assert.are.equal("0", encode(-0.0))
      assert.are.equal("2147483648", encode(2 ^ 31))
      assert.are.equal("-123456789012", encode(-123456789012))
      assert.are.equal("9007199254740992", encode(2 ^ 53))
      assert.are.equal("-9007199254740992", encode(-(2 ^ 53)))
      assert.are.equal("3", encode(3.0))
    end)

    it("Lua 5.3+ integers exactly, the whole 64-bit range", function()
      if not math.tointeger then
        -- Lua 5.1 and LuaJIT: numbers are doubles; past 2^53 they are not
        -- exact integers anyway, and go out with an exponent
        assert.are.equal("9.2233720368547758e+18", encode(2 ^ 63))
        return
      end
      assert.are.equal("9223372036854775807", encode(math.maxinteger))
      assert.are.equal("-9223372036854775808", encode(math.mininteger))
      assert.are.equal("9007199254740993", encode(math.tointeger(2 ^ 53) + 1))
    end)

    it("other numbers with 17 significant digits, which read back exactly", function()
      assert.are.equal("1.5", encode(1.5))
      assert.are.equal("-0.25", encode(-0.25))
      assert.are.equal("0.10000000000000001", encode(0.1))
      assert.are.equal("1e+20", encode(1e20))
      assert.are.equal("1.0000000000000001e+300", encode(1e300))
      assert.are.equal("4.9406564584124654e-324", encode(4.9406564584124654e-324))
      for _, x in ipairs { 0.1, 1 / 3, 1e300, -2.5e-7, 123456.789 } do
        assert.are.equal(x, tonumber(encode(x)))
      end
    end)

    it("refuses NaN and infinities", function()
      fails("(top level): cannot encode NaN", 0 / 0)
      fails("cannot encode infinity", math.huge)
      fails("cannot encode infinity", -math.huge)
      fails("a.b[2]: cannot encode NaN", { a = { b = { 1, 0 / 0 } } })
    end)

    it("writes '.' as the decimal point whatever the C locale", function()
      -- A German locale (decimal comma), compiled once into /tmp with
      -- localedef, and a child process that switches to it.
      local dir = "/tmp/anthropic-environments-spec-locale"
      local probe = io.open(dir .. "/de_DE.UTF-8/LC_NUMERIC", "rb")
      if probe then probe:close() else
        os.execute("mkdir -p " .. dir .. " && localedef -i de_DE -f UTF-8 " .. dir
          .. "/de_DE.UTF-8 >/dev/null 2>&1")
      end
      local code = [[
        assert(os.setlocale("de_DE.UTF-8", "numeric"), "no locale")
        local core = require "anthropic.environments.core"
        io.write(core.encode(1.5), " ", core.encode({ x = 0.1 }))
      ]]
      local p = io.popen("LOCPATH=" .. dir .. " " .. fake.interpreter() .. " -e " .. fake.shell_quote(
        "package.path = " .. string.format("%q", package.path) .. "; package.cpath = "
        .. string.format("%q", package.cpath) .. "; " .. code) .. " 2>&1")
      local out = p:read("*a")
      p:close()
      if out:find("no locale", 1, true) then
        pending("localedef could not build a de_DE locale here")
        return
      end
      assert.are.equal('1.5 {"x":0.10000000000000001}', out)
    end)
  end)

  describe("strings", function()
    it("escapes quotes, backslashes and control characters as RFC 8259 wants", function()
      assert.are.equal([["plain"]], encode("plain"))
      assert.are.equal([[""]], encode(""))
      assert.are.equal([["a\"b\\c"]], encode('a"b\\c'))
      assert.are.equal([["\u000a\u000d\u0009\u0008\u000c"]], encode("\n\r\t\b\f"))
      assert.are.equal([["\u0000\u0001\u001f\u007f"]], encode("\0\1\31\127"))
      assert.are.equal([["x\u0000y"]], encode("x\0y"))
    end)

    it("passes '/', spaces and bytes from 0x80 on through unchanged", function()
      assert.are.equal([["a/b c"]], encode("a/b c"))
      assert.are.equal('"h\195\169llo \226\130\172 \240\159\152\128"', encode("h\195\169llo \226\130\172 \240\159\152\128"))
      assert.are.equal('"\255\128"', encode("\255\128"))   -- not UTF-8: still not touched
    end)

    it("round-trips every byte through a JSON decoder", function()
      local bytes = {}
      for b = 0, 255 do bytes[#bytes + 1] = string.char(b) end
      local s = table.concat(bytes):rep(3)
      -- cjson cannot read invalid UTF-8 back in every version: use the ASCII part
      local ascii = s:gsub("[\128-\255]", "")
      assert.are.equal(ascii, cjson.decode(encode(ascii)))
      local long = ("0123456789\"\\\n"):rep(20000)
      assert.are.equal(long, cjson.decode(encode(long)))
    end)
  end)

  describe("tables", function()
    it("an empty unmarked table as {}, a marked one as []", function()
      assert.are.equal("{}", encode({}))
      assert.are.equal("[]", encode(array()))
      assert.are.equal("[]", encode(array({})))
      assert.are.equal([[{"a":[],"b":{}}]], encode({ a = array(), b = {} }))
    end)

    it("a sequence with only the keys 1..n as an array, marked or not", function()
      assert.are.equal('[1,"two",true,null]', encode({ 1, "two", true, null }))
      assert.are.equal('["x"]', encode(array { "x" }))
      assert.are.equal("[[[]],[{}]]", encode({ { array() }, { {} } }))
    end)

    it("objects with their keys sorted bytewise, at every level", function()
      local t = { b = 1, a = 2, B = 3, ["a b"] = 4, aa = 5, [""] = 6, ["\195\169"] = 7,
                  z = { y = 1, x = 2 } }
      assert.are.equal('{"":6,"B":3,"a":2,"a b":4,"aa":5,"b":1,"z":{"x":2,"y":1},"\195\169":7}', encode(t))
    end)

    it("escapes object keys like any string", function()
      assert.are.equal([[{"a\"b":1,"c\u000ad":2}]], encode({ ['a"b'] = 1, ["c\nd"] = 2 }))
    end)

    it("gives the same bytes for equal tables built in any order", function()
      local a, b = {}, {}
      for i = 1, 200 do a["k" .. i] = i end
      for i = 200, 1, -1 do b["k" .. i] = i end
      assert.are.equal(encode(a), encode(b))
      assert.are.same(a, cjson.decode(encode(a)))
    end)

    it("refuses non-string keys in objects, naming the table", function()
      fails("metadata: object keys must be strings", { metadata = { a = "x", [1] = "y" } })
      fails("(top level): object keys must be strings", { [true] = 1 })
      fails("x[1]: object keys must be strings", { x = { { [1.5] = "half", h = 1 } } })
      fails("x[1]: a table with number keys other than 1..n", { x = { { [1.5] = "half" } } })
    end)

    it("refuses integer keys that are not exactly 1..n", function()
      fails("neither a JSON array nor an object", { [1] = "a", [3] = "c" })
      fails("neither a JSON array nor an object", { [0] = "zero" })
      fails("neither a JSON array nor an object", { [2] = "b" })
    end)

    it("refuses a marked table that is not a sequence", function()
      fails("(top level): an array must have exactly the keys 1..n", array { a = 1 })
      fails("list: an array must have exactly the keys 1..n", { list = array { [1] = 1, [3] = 3 } })
    end)

    it("refuses values JSON cannot hold, naming where they are", function()
      fails("config.hook: cannot encode a function value", { config = { hook = print } })
      fails("[2]: cannot encode a userdata value", { 1, io.stdout })
      fails("cannot encode a thread value", coroutine.create(function() end))
      fails("(top level): cannot encode a function value", print)
    end)

    it("bounds nesting, so a cycle is an error and not a crash", function()
      local t = {}
      t.self = t
      fails("nested too deeply (or a cycle)", t)
      local deep = {}
      local cur = deep
      for _ = 1, 127 do cur[1] = {}; cur = cur[1] end
      assert.are.equal(("["):rep(127) .. "{}" .. ("]"):rep(127), encode(deep))
      cur[1] = {}
      fails("nested too deeply", deep)
    end)

    it("stops as soon as the text would pass max_bytes, however much the value stands for", function()
      assert.are.equal('{"a":"xy"}', encode({ a = "xy" }, 10))
      local json, err = encode({ a = "xyzw" }, 10)
      assert.is_nil(json)
      assert.are.equal("a: the JSON text would be over 10 bytes", err)
      -- 40 levels of shared tables stand for 2^40 leaves: a few bytes of
      -- them, then the stop.
      local bomb = {}
      for _ = 1, 40 do bomb = { a = bomb, b = bomb } end
      json, err = encode(bomb, 1000)
      assert.is_nil(json)
      assert.matches("the JSON text would be over 1000 bytes$", err)
      assert.has_error(function() encode({}, 0) end)
      assert.has_error(function() encode({}, {}) end)
    end)

    it("reads tables raw: no __index, __pairs or __len is called", function()
      local calls = 0
      local mt = {
        __index = function() calls = calls + 1; return "x" end,
        __pairs = function() calls = calls + 1; return next, {}, nil end,
        __len = function() calls = calls + 1; return 5 end,
      }
      assert.are.equal([[{"a":1}]], encode(setmetatable({ a = 1 }, mt)))
      assert.are.equal("[1,2]", encode(setmetatable({ 1, 2 }, mt)))
      assert.are.equal(0, calls)
    end)

    it("never changes the value it encodes", function()
      local t = { b = { 1, 2 }, a = array(), c = { x = "y" } }
      encode(t)
      assert.are.same({ 1, 2 }, t.b)
      assert.are.equal(core.array_mt, getmetatable(t.a))
      assert.is_nil(getmetatable(t.c))
      assert.are.same({ x = "y" }, t.c)
    end)

    it("writes what lua-cjson reads back as the same value", function()
      local v = { name = "n", list = { "a", "b" }, nested = { deeper = { 1.5, -3, true } }, n = null }
      local back = cjson.decode(encode(v))
      assert.are.same(v, back)
    end)
  end)

  describe("environments.array", function()
    it("marks the table it is given and returns it", function()
      local t = { "a" }
      assert.are.equal(t, array(t))
      assert.are.equal(core.array_mt, getmetatable(t))
      assert.are.equal(t, array(t))   -- marking twice is fine
    end)

    it("raises for something that is not a table, or has a metatable already", function()
      assert.has_error(function() array("x") end,
        "anthropic.environments.array: expected a table (got string)")
      assert.has_error(function() array(setmetatable({}, {})) end,
        "anthropic.environments.array: the table already has a metatable")
    end)
  end)

  it("recognises lua-cjson's array_mt and empty_array_mt when that lua-cjson has them", function()
    -- Debian's lua-cjson 2.1.0 has neither; OpenResty's has both. A child
    -- process loads the core over a cjson whose instances carry them.
    local code = [[
      local real = require "cjson"
      local AMT, EAMT = { name = "array_mt" }, { name = "empty_array_mt" }
      package.loaded.cjson = { new = function()
        local i = real.new(); i.array_mt = AMT; i.empty_array_mt = EAMT; return i
      end }
      local core = require "anthropic.environments.core"
      io.write(core.encode({ a = setmetatable({}, AMT), b = setmetatable({}, EAMT),
        c = setmetatable({ "x" }, AMT), d = {} }))
    ]]
    local cmd = fake.interpreter() .. " -e " .. fake.shell_quote("package.path = " ..
      string.format("%q", package.path) .. "; package.cpath = " .. string.format("%q", package.cpath)
      .. "; " .. code) .. " 2>&1"
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    assert.are.equal([[{"a":[],"b":[],"c":["x"],"d":{}}]], out)
  end)
end)
