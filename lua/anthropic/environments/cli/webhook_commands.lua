-- anthropic.environments.cli.webhook_commands: `webhook verify`, which checks a
-- saved webhook delivery (its headers and its raw body) with the signing
-- key, offline: no API client, no API credentials.
local output = require "anthropic.environments.cli.output"
local args = require "anthropic.environments.cli.args"

local usage_error, show, lib = output.usage_error, output.show, output.lib

local M = {}

M.GROUP = "webhook"
M.ABOUT = "Webhook deliveries, checked offline (no API call, no API credentials).\n"
M.order = { "webhook verify" }

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
  synopsis = "[--headers FILE] [--body FILE] [--key KEY] [--tolerance SECONDS]",
  summary = "check a webhook delivery's signature and time, and print\n"
    .. "its event; the body is read from FILE or stdin (\"-\"),\n"
    .. "and without --headers that input is the whole delivery\n"
    .. "(headers, an empty line, the body); the key defaults to\n"
    .. "$ANTHROPIC_WEBHOOK_SIGNING_KEY; exit 1 if not authentic",
  about = "Checks a saved webhook delivery, offline: its Standard Webhooks signature with\n"
    .. "the signing key, and that it was signed within the tolerance of now. Prints the\n"
    .. "event (a summary, or the event with --json). Exit 1 if it is not authentic, 3\n"
    .. "without a valid key.",
  options = {
    { "--headers FILE", "the delivery's headers, \"Name: value\" a line (\"-\": stdin);\n"
      .. "without it, the input is the whole delivery: the headers,\nan empty line, the body" },
    { "--body FILE", "the raw body (default, and \"-\": stdin)" },
    { "--key KEY", "the signing secret (whsec_...); default\n$ANTHROPIC_WEBHOOK_SIGNING_KEY, "
      .. "which is better: a command\nline is visible to other users" },
    { "--tolerance SECONDS", "how far from now the signing time may be (default 300)" },
  },
}
M.commands["webhook verify"] = verify

function verify.run(_, flags)
  if flags.headers == "-" and (flags.body or "-") == "-" then
    usage_error("webhook verify: only one of --headers and --body can read stdin")
  end
  local key = flags.key
  if key == "" then usage_error("webhook verify: --key must not be empty") end
  if not key then
    key = os.getenv(lib.webhook.KEY_ENV)
    if key == "" then key = nil end
  end
  if not key then
    output.fail(output.EXIT_CONFIG, "webhook verify: no signing key: set " .. lib.webhook.KEY_ENV .. " or give --key")
  end
  local tolerance = flags.tolerance and args.whole("webhook verify", "tolerance", flags.tolerance, 1, 1e9)

  local header_text, body
  if flags.headers then
    header_text = read("headers", flags.headers)
    body = read("body", flags.body or "-")
  else
    header_text, body = split_delivery(read("body", flags.body or "-"))
  end
  local headers, perr = lib.webhook.parse_headers(header_text)
  if not headers then usage_error("webhook verify: the headers: " .. perr.message) end

  local event, err = lib.webhook.unwrap(body, headers, { key = key, tolerance = tolerance })
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
