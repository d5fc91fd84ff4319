-- luacheck configuration: `make lint` (also part of make test).
std = "max"
read_globals = { "ngx", "jit" }
max_line_length = false
files["spec/"] = { std = "+busted" }
ignore = {
  "581",   -- 'not (x > y)': written so on purpose, to refuse NaN
}
