-- The version of anthropic-environments: the one place it is written. The
-- Lua layer reads it (environments.VERSION), the Makefile and the rockspec
-- compile it into the C core (core._VERSION), and spec/rockspec_spec.lua
-- checks that the rockspec agrees.
return "0.2.0"
