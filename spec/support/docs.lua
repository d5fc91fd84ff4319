-- The docs spec's reading of the markdown (spec/docs_spec.lua): which
-- documents, their fenced blocks, and how an output is compared; and the
-- scratch it needs (a free port, a temporary folder).
local hosts = require "spec.support.hosts"
local socket = require "socket"

local ROOT, shell_quote = hosts.ROOT, hosts.shell_quote

local M = {}

-- The documents: README.md, CONTRIBUTING.md, docs/*.md and fake/README.md.
function M.documents()
  local out = hosts.run("cd " .. shell_quote(ROOT) .. " && ls README.md CONTRIBUTING.md docs/*.md fake/README.md")
  local files = {}
  for name in out:gmatch("[^\n]+") do files[#files + 1] = name end
  return files
end

-- The fenced blocks of a markdown text: { lang, info, text, line,
-- norun (the reason, or nil), output (the text of an ```output block right
-- after it, or nil) }. Fences may be indented (inside a list).
function M.blocks_of(text)
  local lines = {}
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  local blocks, i = {}, 1
  while i <= #lines do
    local indent, lang, info = lines[i]:match("^(%s*)```(%S*)%s*(.-)%s*$")
    if indent then
      local start, body = i, {}
      i = i + 1
      while i <= #lines and not lines[i]:match("^%s*```%s*$") do
        body[#body + 1] = lines[i]:sub(1, #indent) == indent and lines[i]:sub(#indent + 1) or lines[i]
        i = i + 1
      end
      local prev = start - 1
      while prev > 0 and lines[prev]:match("^%s*$") do prev = prev - 1 end
      local marker = prev > 0 and lines[prev]:match("^%s*<!%-%- docs: (.-) %-%->%s*$")
      local block = { lang = lang, info = info, text = table.concat(body, "\n") .. "\n", line = start,
                      norun = marker and (marker:match("^norun%s+(.+)$") or marker) or nil }
      if lang == "output" and blocks[#blocks] and blocks[#blocks].closed_at
         and blocks[#blocks].closed_at == prev then
        blocks[#blocks].output = block.text
      else
        blocks[#blocks + 1] = block
      end
      block.closed_at = i
    end
    i = i + 1
  end
  return blocks
end

-- Every number made "#", trailing blanks dropped.
function M.normal(s)
  s = s:gsub("%d+%.?%d*", "#"):gsub("[ \t]+\n", "\n"):gsub("\n+$", "")
  return s
end

function M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

function M.temp_dir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. shell_quote(dir)))
  return dir
end

return M
