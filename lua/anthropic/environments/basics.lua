-- anthropic.environments.basics: what the modules that never touch the
-- network take from the C core: JSON (null, the array marker, encode,
-- decode, and the parser of a header block), the clock (now, sleep) and
-- whether the running code can yield.
-- Only the transport and client modules require the core itself. These are
-- the core's own functions, not wrappers: nothing is added to a call.
local core = require "anthropic.environments.core"

return {
  --- JSON null in decoded answers (cjson.null).
  null = core.null,
  --- The metatable that marks a table to encode as a JSON array.
  array_mt = core.array_mt,
  --- encode(value) -> JSON text  or  nil, message (keys sorted).
  encode = core.encode,
  --- decode(text) -> value  or  nil, message (the private lua-cjson).
  decode = core.decode,
  --- header_table(block) -> { [lower name] = value } of an answer's header block.
  header_table = core.header_table,
  --- now() -> monotonic seconds.
  now = core.now,
  --- sleep(seconds): a real sleep, for hosts without an event loop.
  sleep = core.sleep,
  --- sha256(s) -> the 32 bytes of s's SHA-256, or nil (out of memory).
  sha256 = core.sha256,
  --- yieldable() -> whether the calling code could yield (nil: cannot tell).
  yieldable = core.yieldable,
}
