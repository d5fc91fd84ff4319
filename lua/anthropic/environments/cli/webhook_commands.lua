-- anthropic.environments.cli.webhook_commands: `webhook verify`, which checks a
-- saved webhook delivery (its headers and its raw body) with the signing
-- key, offline: no API client, no API credentials.
local webhook = require "anthropic.environments.webhook"
local output = require "anthropic.environments.cli.output"
local args = require "anthropic.environments.cli.args"

local usage_error, show = output.usage_error, output.show

local M = {}

M.USAGE = [[
  webhook verify [--headers FILE] [--body FILE] [--key KEY] [--tolerance SECONDS]
                    check a webhook delivery's signature and time, and print
                    its event; the body is read from FILE or stdin ("-"),
                    and without --headers that input is the whole delivery
                    (headers, an empty line, the body); the key defaults to
                    $ANTHROPIC_WEBHOOK_SIGNING_KEY; exit 1 if not authentic
]]

local function read(flag, path)
  if path == "-" then return io.stdin:read("*a") or "" end
  local f, err = io.open(path, "rb")
  if not f then usage_error(string.format("webhook verify: --%s: cannot read %s", flag, output.clean(err))) end
  local text = f:read("*a") or ""
  f:close()
  return text
end

-- A whole delivery: the header block up to the first empty line, then the
-- body exactly as it follows.
local function split_delivery(text)
  local crlf = text:find("\r\n\r\n", 1, true)
  local lf = text:find("\n\n", 1, true)
  if crlf and (not lf or crlf < lf) then return text:sub(1, crlf - 1), text:sub(crlf + 4) end
  if lf then return text:sub(1, lf - 1), text:sub(lf + 2) end
  usage_error("webhook verify: the input has no empty line between the headers and the body "
    .. "(give the headers with --headers FILE)")
end

local function summary(event)
  local data = type(event.data) == "table" and event.data or {}
  output.rows {
    { "event", show(event.id) },
    { "type", show(data.type) },
    { "environment", show(data.id) },
    { "organization", show(data.organization_id) },
    { "workspace", show(data.workspace_id) },
    { "created", show(event.created_at) },
  }
end

M.commands = {}

local verify = {
  offline = true,
  flags = { headers = "value", body = "value", key = "value", tolerance = "value" },
}
M.commands["webhook verify"] = verify

function verify.run(_, flags)
  if flags.headers == "-" and (flags.body or "-") == "-" then
    usage_error("webhook verify: only one of --headers and --body can read stdin")
  end
  local key = flags.key
  if key == "" then usage_error("webhook verify: --key must not be empty") end
  if not key then
    key = os.getenv(webhook.KEY_ENV)
    if key == "" then key = nil end
  end
  if not key then
    output.fail(output.EXIT_CONFIG, "webhook verify: no signing key: set " .. webhook.KEY_ENV .. " or give --key")
  end
  local tolerance = flags.tolerance and args.whole("webhook verify", "tolerance", flags.tolerance, 1, 1e9)

  local header_text, body
  if flags.headers then
    header_text = read("headers", flags.headers)
    body = read("body", flags.body or "-")
  else
    header_text, body = split_delivery(read("body", flags.body or "-"))
  end
  local headers, perr = webhook.parse_headers(header_text)
  if not headers then usage_error("webhook verify: the headers: " .. perr.message) end

  local event, err = webhook.unwrap(body, headers, { key = key, tolerance = tolerance })
  if not event then
    if err.reason == "malformed_secret" then
      output.fail(output.EXIT_CONFIG, "webhook verify: " .. output.clean(err.message))
    end
    local what = err.reason == "invalid_json" and "authentic, but " or "not authentic: "
    output.fail(output.EXIT_API, string.format("webhook verify: %s%s (%s)", what,
      output.clean(err.message), err.reason))
  end
  if flags.json then output.print_json(event) else summary(event) end
end

return M
