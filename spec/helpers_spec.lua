-- The helpers users reach for besides the calls themselves.
local environments = require "anthropic.environments"

describe("helpers", function()
  it("VERSION is a semantic version", function()
    assert.matches("^%d+%.%d+%.%d+$", environments.VERSION)
  end)

  describe("parse_time", function()
    it("reads RFC 3339 UTC times", function()
      assert.are.equal(1773568800, environments.parse_time("2026-03-15T10:00:00Z"))
      assert.are.equal(0, environments.parse_time("1970-01-01T00:00:00Z"))
      assert.are.equal(951782400, environments.parse_time("2000-02-29T00:00:00z"))
    end)

    it("applies offsets and keeps fractions", function()
      assert.are.equal(1773568800, environments.parse_time("2026-03-15T12:30:00+02:30"))
      assert.are.equal(1773568800, environments.parse_time("2026-03-15T05:00:00-05:00"))
      assert.are.equal(1773568800.25, environments.parse_time("2026-03-15T10:00:00.250Z"))
      assert.are.equal(1773568800, environments.parse_time("2026-03-15 10:00:00Z"))
    end)

    it("gives nil for null and absent values", function()
      assert.is_nil(environments.parse_time(environments.null))
      assert.is_nil(environments.parse_time(nil))
    end)

    it("refuses malformed timestamps with a message", function()
      for _, bad in ipairs { "2026-03-15", "2026-13-01T00:00:00Z", "2026-03-15T10:00:00",
                             "2026-03-15T10:00:00.Z", "yesterday", "2026-03-15T25:00:00Z" } do
        local t, msg = environments.parse_time(bad)
        assert.is_nil(t, bad)
        assert.matches("RFC 3339", msg, 1, true)
      end
      local t, msg = environments.parse_time(12)
      assert.is_nil(t)
      assert.is_string(msg)
    end)
  end)

  describe("is_archived", function()
    it("tells archived from not archived", function()
      assert.is_true(environments.is_archived { archived_at = "2026-03-15T10:00:00Z" })
      assert.is_false(environments.is_archived { archived_at = environments.null })
      assert.is_false(environments.is_archived {})
      assert.is_nil(environments.archived_time { archived_at = environments.null })
      assert.are.equal(1773568800, environments.archived_time { archived_at = "2026-03-15T10:00:00Z" })
    end)

    it("raises for something that is not an environment", function()
      assert.has_error(function() environments.is_archived("env_1") end,
        "anthropic.environments.is_archived: expected an environment table")
    end)
  end)
end)
