---@meta anthropic.environments
-- luacheck: ignore (definitions only: every function is an empty stub)
-- LuaCATS definitions (lua-language-server) of the public API of
-- anthropic-environments: `require "anthropic.environments"`, its clients,
-- calls, errors and leases, and the options they take. Only this surface is
-- public; every other module under anthropic/environments/ is internal.
-- docs/reference.md describes each function; spec/types_spec.lua checks
-- that what is annotated here and what the module holds are the same names.
--
-- Point lua-language-server at this folder (`workspace.library`); LuaRocks
-- installs it beside the rock (build.copy_directories).

---------------------------------------------------------------------------
-- Options and parameters
---------------------------------------------------------------------------

---Options every call takes as its last argument (they beat the client's).
---@class anthropic.environments.CallOptions
---@field betas? string[] more `anthropic-beta` values, after the client's
---@field workspace_id? string replaces the client's `anthropic-workspace-id`
---@field headers? table<string, string> more headers (names compare case-insensitively)
---@field timeout? number seconds for one attempt of this call
---@field max_retries? integer retries for this call, 0 to 100
---@field sleep? fun(seconds: number) the retry wait for this call
---@field extra_body? table<string, any> top-level JSON fields merged into the body (POST calls only)
---@field extra_query? table<string, string|number|boolean> query parameters added to the call's own
---@field extra_headers? table<string, string> headers applied after `headers`
---@field with_response? boolean a successful call also gives its response metadata

---Options of `environments.new` (`transport` and the rest are client-wide;
---the call options but `extra_*` and `with_response` serve as defaults).
---@class anthropic.environments.ClientOptions
---@field api_key? string sent as `x-api-key` (default: ANTHROPIC_API_KEY)
---@field auth_token? string sent as `authorization: Bearer` (default: ANTHROPIC_AUTH_TOKEN)
---@field base_url? string http:// or https:// URL (default: ANTHROPIC_BASE_URL, else https://api.anthropic.com)
---@field timeout? number seconds for one attempt (default 600)
---@field connect_timeout? number seconds to connect (default 5)
---@field stall_timeout? number seconds without a byte before the attempt is abandoned (default off)
---@field max_retries? integer retries after the first attempt, 0 to 100 (default 2)
---@field max_body? number bytes of an answer (default 16 MiB)
---@field betas? string[] extra `anthropic-beta` values on every call
---@field workspace_id? string `anthropic-workspace-id` on every call
---@field headers? table<string, string> extra headers on every call
---@field proxy? string a proxy URL; "" turns proxies off
---@field ca_file? string a CA bundle to verify the server with
---@field ca_path? string a directory of hashed CA certificates
---@field insecure_skip_tls_verify? boolean turns TLS verification off (default false)
---@field max_idle_connections? integer idle connections kept for reuse, 1 to 100000 (default 16)
---@field logger? fun(line: string) one line per attempt
---@field sleep? fun(seconds: number) how blocking calls wait before a retry
---@field transport? "curl"|"ngx" force libcurl, or nginx's cosockets (default: cosockets where nginx allows them)

---Options of `client:many` and `client:archive_many`: the call options, and
---@class anthropic.environments.ManyOptions: anthropic.environments.CallOptions
---@field concurrency? integer requests in flight, 1 to 1000 (default 16)
---@field on_result? fun(key: any, value: any, err: anthropic.environments.Error|nil, response: anthropic.environments.Response|nil) called as each one ends

---Options of the iterators `each` and `each_work`: the call options, and
---@class anthropic.environments.PagesOptions: anthropic.environments.CallOptions
---@field max_pages? integer pages at most, 1 to 1e9 (default 10000)

---Options of `collect` and `collect_work`: those of the iterators, and
---@class anthropic.environments.CollectOptions: anthropic.environments.PagesOptions
---@field max_items? integer items at most, 1 to 1e9 (more is a `pagination` error, not a cut list)

---Options of `client:work_lease`: the call options (but `with_response`), and
---@class anthropic.environments.LeaseOptions: anthropic.environments.CallOptions
---@field ack? boolean acknowledge the item first (default true)
---@field desired_ttl_seconds? integer the lease asked for on each heartbeat
---@field interval? number seconds between heartbeats (default 30, or ttl/2 when sooner)
---@field on_state? fun(lease: anthropic.environments.Lease, state: string, err: anthropic.environments.Error|nil) called when the state changes

---Options of `environments.unwrap_webhook`.
---@class anthropic.environments.WebhookOptions
---@field key? string the signing secret, "whsec_<base64>" or "<base64>" (default: ANTHROPIC_WEBHOOK_SIGNING_KEY; neither raises)
---@field tolerance? number seconds a delivery's timestamp may be off this clock (default 300)
---@field now? number the current Unix time (default os.time())

---Options of `lease:finish` and `lease:close`.
---@class anthropic.environments.FinishOptions
---@field force? boolean stop at once, without a graceful shutdown

---Parameters of `create` and `update` (`name` is required on `create`).
---@class anthropic.environments.EnvironmentParams
---@field name? string 1 to 256 characters
---@field description? string|lightuserdata at most 1024 characters, or environments.null
---@field scope? "organization"|"account"
---@field metadata? table<string, string|lightuserdata> string values; on update environments.null or "" deletes a key
---@field config? table `{ type = "cloud", networking = {...}, packages = {...} }` or `{ type = "self_hosted" }`

---Parameters of `list` and `each`.
---@class anthropic.environments.ListParams
---@field limit? integer page size, 1 to 1000
---@field include_archived? boolean
---@field page? string the previous page's next_page

---Parameters of `work_poll`.
---@class anthropic.environments.WorkPollParams
---@field block_ms? integer 1 to 999: wait that long for work
---@field reclaim_older_than_ms? integer reclaim items claimed but not acknowledged for longer
---@field worker_id? string sent as Anthropic-Worker-ID

---Parameters of `work_heartbeat`.
---@class anthropic.environments.HeartbeatParams
---@field desired_ttl_seconds? integer
---@field expected_last_heartbeat? string the previous answer's last_heartbeat, or environments.NO_HEARTBEAT

---@class anthropic.environments.Page
---@field data table[] the environments (or work items) of this page
---@field next_page? string the cursor of the next page; nil on the last

---Response metadata (`with_response = true`).
---@class anthropic.environments.Response
---@field status integer
---@field headers table<string, string> lower-case names
---@field request_id? string
---@field attempts integer
---@field elapsed number seconds

---------------------------------------------------------------------------
-- Errors
---------------------------------------------------------------------------

---A failure of the network, the API or the answer: calls return `nil, err`.
---@class anthropic.environments.Error
---@field kind "api"|"connection"|"timeout"|"decode"|"pagination"|"cancelled"|"invalid_request"|"lease"|"webhook"
---@field message string the API's message, or what went wrong
---@field status? integer the HTTP status, when there was one
---@field type? string the API's error.type, e.g. "not_found_error"
---@field error_code? string error.details.error_code, e.g. "environment_not_found"
---@field request_id? string the request-id header, else the body's request_id
---@field body? string the raw body (first 4 KiB) when it is not the API's error JSON
---@field headers? table<string, string> the answer's headers (lower-case names)
---@field attempts? integer how many attempts were made
---@field elapsed? number seconds from the first attempt to the failure
---@field transport? "curl"|"ngx" the transport that ran the call
---@field reason? string why: a webhook's ("bad_signature", "timestamp_too_old", ...), or a connection's ("tls_certificate")
---@field header? string the webhook header a `missing_header` or `invalid_header` error names
---@field timestamp? number a stale webhook's signing time (Unix seconds)
---@field pages? integer pages fetched before a `pagination` error
---@field state? string the item's state, on a `lease` error
local Error = {}

---True if the retry policy would retry this failure.
---@return boolean
function Error:is_retryable() end

---True for a 404.
---@return boolean
function Error:is_not_found() end

---True for a 429.
---@return boolean
function Error:is_rate_limited() end

---True for a 401 or 403.
---@return boolean
function Error:is_auth() end

---True for kind "connection" or "timeout".
---@return boolean
function Error:is_connection() end

---True for kind "timeout".
---@return boolean
function Error:is_timeout() end

---True for a 409.
---@return boolean
function Error:is_conflict() end

---True for a status from 500 on.
---@return boolean
function Error:is_server_error() end

---------------------------------------------------------------------------
-- Calls, leases, clients
---------------------------------------------------------------------------

---A call started by a `_async` method.
---@class anthropic.environments.Call
---@field method string the HTTP method
---@field url string the request's URL
---@field attempt integer attempts started so far
---@field done boolean true once the call has ended
---@field value any the result, once done and successful
---@field err? anthropic.environments.Error the error, once done and failed
local Call = {}

---Does the ready network work; never blocks.
---@return boolean done
---@return any value
---@return anthropic.environments.Error|nil err
function Call:poll() end

---As poll, blocking up to `timeout` seconds (without one: until done).
---@param timeout? number
---@return boolean done
---@return any value
---@return anthropic.environments.Error|nil err
function Call:wait(timeout) end

---Stops the call; it ends as `cancelled`.
function Call:cancel() end

---Seconds until the call must be polled for a retry, or nil.
---@return number|nil
function Call:next_timer() end

---The response metadata of a call started with `with_response = true`.
---@return anthropic.environments.Response|nil
function Call:response() end

---The lease a worker holds on a work item (`client:work_lease`).
---@class anthropic.environments.Lease
---@field env_id string
---@field work_id string
---@field state "starting"|"active"|"stopping"|"finishing"|"stopped"|"lost"
---@field heartbeats integer heartbeats that succeeded
---@field last_heartbeat? string
---@field ttl_seconds? number
---@field last_error? anthropic.environments.Error a failed heartbeat while the lease still runs
---@field err? anthropic.environments.Error why it was lost, or the failed stop
---@field item_state? string the item's state in the stop's answer
local Lease = {}

---Moves the lease on; never blocks.
---@return string state
---@return anthropic.environments.Error|nil err
function Lease:poll() end

---Runs the lease until its state changes or `timeout` seconds pass.
---@param timeout? number
---@return string state
---@return anthropic.environments.Error|nil err
function Lease:wait(timeout) end

---Seconds until the lease must be polled, or nil.
---@return number|nil
function Lease:next_timer() end

---Stops heartbeating and sends work_stop, without waiting.
---@param opts? anthropic.environments.FinishOptions
---@return anthropic.environments.Lease
function Lease:finish(opts) end

---finish, then waits until the lease has ended.
---@param opts? anthropic.environments.FinishOptions
---@return string state
---@return anthropic.environments.Error|nil err
function Lease:close(opts) end

---A client: its connections, defaults and headers.
---@class anthropic.environments.Client
---@field base_url string
---@field timeout number seconds for one attempt
---@field max_retries integer
local Client = {}

---@param params anthropic.environments.EnvironmentParams
---@param opts? anthropic.environments.CallOptions
---@return table|nil env
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:create(params, opts) end

---@param id string
---@param opts? anthropic.environments.CallOptions
---@return table|nil env
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:retrieve(id, opts) end

---@param id string
---@param params? anthropic.environments.EnvironmentParams
---@param opts? anthropic.environments.CallOptions
---@return table|nil env
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:update(id, params, opts) end

---@param id string
---@param opts? anthropic.environments.CallOptions
---@return table|nil deleted `{ id, type = "environment_deleted" }`
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:delete(id, opts) end

---@param id string
---@param opts? anthropic.environments.CallOptions
---@return table|nil env
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:archive(id, opts) end

---@param params? anthropic.environments.ListParams
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Page|nil page
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:list(params, opts) end

---Every environment, page after page: `for env, err in client:each() do`.
---On a failure it gives `false, err` once.
---@param params? anthropic.environments.ListParams
---@param opts? anthropic.environments.PagesOptions
---@return fun(): (table|false|nil), anthropic.environments.Error|nil
function Client:each(params, opts) end

---Every environment, all pages, in one array (or `nil, err`: the first failure, or a
---`pagination` error past `max_pages` or `max_items`).
---@param params? anthropic.environments.ListParams
---@param opts? anthropic.environments.CollectOptions
---@return table[]|nil envs
---@return anthropic.environments.Error|nil err
function Client:collect(params, opts) end

---@param params anthropic.environments.EnvironmentParams
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:create_async(params, opts) end

---@param id string
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:retrieve_async(id, opts) end

---@param id string
---@param params? anthropic.environments.EnvironmentParams
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:update_async(id, params, opts) end

---@param id string
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:delete_async(id, opts) end

---@param id string
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:archive_async(id, opts) end

---@param params? anthropic.environments.ListParams
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:list_async(params, opts) end

---Runs a list of calls `{ name, args... [, key = k] }` with a bound on those in flight.
---@param calls table[]
---@param opts? anthropic.environments.ManyOptions
---@return table results keyed by entry key
---@return table errors keyed by entry key
---@return table|nil responses with `with_response = true`
function Client:many(calls, opts) end

---Archives every id, with a bound on the requests in flight.
---@param ids string[]
---@param opts? anthropic.environments.ManyOptions
---@return table<string, table> results
---@return table<string, anthropic.environments.Error> errors
---@return table|nil responses with `with_response = true`
function Client:archive_many(ids, opts) end

---Does the ready network work of every call of the client.
---@param wait? number seconds to wait for some (default 0)
---@return integer running requests still in flight
function Client:drive(wait) end

---The sockets libcurl waits on, and the seconds until the client must be driven.
---@return { fd: integer, read: boolean, write: boolean }[] sockets
---@return number|nil timeout
function Client:fds() end

---Releases the client's connections (also `__close`).
function Client:close() end

---True if the client sends a key or a token.
---@return boolean
function Client:has_credentials() end

---@param env_id string
---@param params? anthropic.environments.WorkPollParams
---@param opts? anthropic.environments.CallOptions
---@return table|false|nil item the item (with its secret), false when there is no work
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:work_poll(env_id, params, opts) end

---@param env_id string
---@param work_id string
---@param opts? anthropic.environments.CallOptions
---@return table|nil item
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:work_ack(env_id, work_id, opts) end

---@param env_id string
---@param work_id string
---@param params? anthropic.environments.HeartbeatParams
---@param opts? anthropic.environments.CallOptions
---@return table|nil heartbeat `{ type = "work_heartbeat", last_heartbeat, lease_extended, state, ttl_seconds }`
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:work_heartbeat(env_id, work_id, params, opts) end

---@param env_id string
---@param work_id string
---@param params? { force?: boolean }
---@param opts? anthropic.environments.CallOptions
---@return table|nil item
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:work_stop(env_id, work_id, params, opts) end

---@param env_id string
---@param work_id string
---@param opts? anthropic.environments.CallOptions
---@return table|nil item
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:work_retrieve(env_id, work_id, opts) end

---@param env_id string
---@param work_id string
---@param params { metadata: table<string, string|lightuserdata> }
---@param opts? anthropic.environments.CallOptions
---@return table|nil item
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:work_update(env_id, work_id, params, opts) end

---@param env_id string
---@param params? { limit?: integer, page?: string }
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Page|nil page
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:work_list(env_id, params, opts) end

---@param env_id string
---@param opts? anthropic.environments.CallOptions
---@return table|nil stats `{ type = "work_queue_stats", depth, pending, oldest_queued_at, workers_polling }`
---@return anthropic.environments.Error|nil err
---@return anthropic.environments.Response|nil response
function Client:work_stats(env_id, opts) end

---Every work item of the queue, page after page (`false, err` once on a failure).
---@param env_id string
---@param params? { limit?: integer, page?: string }
---@param opts? anthropic.environments.PagesOptions
---@return fun(): (table|false|nil), anthropic.environments.Error|nil
function Client:each_work(env_id, params, opts) end

---Every work item of the environment, all pages, in one array (or `nil, err`, as `collect`).
---@param env_id string
---@param params? { limit?: integer, page?: string }
---@param opts? anthropic.environments.CollectOptions
---@return table[]|nil items
---@return anthropic.environments.Error|nil err
function Client:collect_work(env_id, params, opts) end

---@param env_id string
---@param params? anthropic.environments.WorkPollParams
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:work_poll_async(env_id, params, opts) end

---@param env_id string
---@param work_id string
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:work_ack_async(env_id, work_id, opts) end

---@param env_id string
---@param work_id string
---@param params? anthropic.environments.HeartbeatParams
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:work_heartbeat_async(env_id, work_id, params, opts) end

---@param env_id string
---@param work_id string
---@param params? { force?: boolean }
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:work_stop_async(env_id, work_id, params, opts) end

---@param env_id string
---@param work_id string
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:work_retrieve_async(env_id, work_id, opts) end

---@param env_id string
---@param work_id string
---@param params { metadata: table<string, string|lightuserdata> }
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:work_update_async(env_id, work_id, params, opts) end

---@param env_id string
---@param params? { limit?: integer, page?: string }
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:work_list_async(env_id, params, opts) end

---@param env_id string
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Call
function Client:work_stats_async(env_id, opts) end

---Acknowledges the item and keeps its lease with heartbeats, inside `lease:poll()`.
---@param env_id string
---@param item table|string the item work_poll gave, or its id
---@param opts? anthropic.environments.LeaseOptions
---@return anthropic.environments.Lease
function Client:work_lease(env_id, item, opts) end

---------------------------------------------------------------------------
-- The module
---------------------------------------------------------------------------

---@class anthropic.environments
---@field VERSION string this library's version
---@field API_VERSION string sent as anthropic-version ("2023-06-01")
---@field BETA string always sent in anthropic-beta ("managed-agents-2026-04-01")
---@field DEFAULT_BASE_URL string "https://api.anthropic.com"
---@field DEFAULT_TIMEOUT number 600 seconds
---@field DEFAULT_CONNECT_TIMEOUT number 5 seconds
---@field DEFAULT_MAX_RETRIES integer 2
---@field DEFAULT_MAX_BODY integer 16777216 bytes
---@field NO_HEARTBEAT string "NO_HEARTBEAT": the expected_last_heartbeat that claims a lease nobody holds
---@field null lightuserdata JSON null (cjson.null; ngx.null inside nginx)
---@field Client anthropic.environments.Client the metatable of clients
---@field Call anthropic.environments.Call the metatable of calls
---@field Error anthropic.environments.Error the metatable of errors
local environments = {}

---Makes a client.
---@param opts? anthropic.environments.ClientOptions
---@return anthropic.environments.Client
function environments.new(opts) end

---Sets the options of the default client the one-liners use (the old one is closed); with
---no argument, back to the environment variables alone.
---@param opts? anthropic.environments.ClientOptions
function environments.configure(opts) end

---The client the one-liners use, made from the environment variables on first use.
---@return anthropic.environments.Client
function environments.default_client() end

---@param id string
---@param opts? anthropic.environments.CallOptions
---@return table|nil env
---@return anthropic.environments.Error|nil err
function environments.archive(id, opts) end

---@param params anthropic.environments.EnvironmentParams
---@param opts? anthropic.environments.CallOptions
---@return table|nil env
---@return anthropic.environments.Error|nil err
function environments.create(params, opts) end

---@param id string
---@param opts? anthropic.environments.CallOptions
---@return table|nil env
---@return anthropic.environments.Error|nil err
function environments.retrieve(id, opts) end

---@param id string
---@param params? anthropic.environments.EnvironmentParams
---@param opts? anthropic.environments.CallOptions
---@return table|nil env
---@return anthropic.environments.Error|nil err
function environments.update(id, params, opts) end

---@param id string
---@param opts? anthropic.environments.CallOptions
---@return table|nil deleted
---@return anthropic.environments.Error|nil err
function environments.delete(id, opts) end

---@param params? anthropic.environments.ListParams
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Page|nil page
---@return anthropic.environments.Error|nil err
function environments.list(params, opts) end

---@param params? anthropic.environments.ListParams
---@param opts? anthropic.environments.PagesOptions
---@return fun(): (table|false|nil), anthropic.environments.Error|nil
function environments.each(params, opts) end

---@param params? anthropic.environments.ListParams
---@param opts? anthropic.environments.CollectOptions
---@return table[]|nil envs
---@return anthropic.environments.Error|nil err
function environments.collect(params, opts) end

---@param env_id string
---@param params? anthropic.environments.WorkPollParams
---@param opts? anthropic.environments.CallOptions
---@return table|false|nil item
---@return anthropic.environments.Error|nil err
function environments.work_poll(env_id, params, opts) end

---@param env_id string
---@param work_id string
---@param opts? anthropic.environments.CallOptions
---@return table|nil item
---@return anthropic.environments.Error|nil err
function environments.work_ack(env_id, work_id, opts) end

---@param env_id string
---@param work_id string
---@param params? anthropic.environments.HeartbeatParams
---@param opts? anthropic.environments.CallOptions
---@return table|nil heartbeat
---@return anthropic.environments.Error|nil err
function environments.work_heartbeat(env_id, work_id, params, opts) end

---@param env_id string
---@param work_id string
---@param params? { force?: boolean }
---@param opts? anthropic.environments.CallOptions
---@return table|nil item
---@return anthropic.environments.Error|nil err
function environments.work_stop(env_id, work_id, params, opts) end

---@param env_id string
---@param work_id string
---@param opts? anthropic.environments.CallOptions
---@return table|nil item
---@return anthropic.environments.Error|nil err
function environments.work_retrieve(env_id, work_id, opts) end

---@param env_id string
---@param work_id string
---@param params { metadata: table<string, string|lightuserdata> }
---@param opts? anthropic.environments.CallOptions
---@return table|nil item
---@return anthropic.environments.Error|nil err
function environments.work_update(env_id, work_id, params, opts) end

---@param env_id string
---@param params? { limit?: integer, page?: string }
---@param opts? anthropic.environments.CallOptions
---@return anthropic.environments.Page|nil page
---@return anthropic.environments.Error|nil err
function environments.work_list(env_id, params, opts) end

---@param env_id string
---@param opts? anthropic.environments.CallOptions
---@return table|nil stats
---@return anthropic.environments.Error|nil err
function environments.work_stats(env_id, opts) end

---@param env_id string
---@param params? { limit?: integer, page?: string }
---@param opts? anthropic.environments.PagesOptions
---@return fun(): (table|false|nil), anthropic.environments.Error|nil
function environments.each_work(env_id, params, opts) end

---@param env_id string
---@param params? { limit?: integer, page?: string }
---@param opts? anthropic.environments.CollectOptions
---@return table[]|nil items
---@return anthropic.environments.Error|nil err
function environments.collect_work(env_id, params, opts) end

---Verifies a Standard Webhooks delivery and decodes its event.
---Raises without a key (neither `opts.key` nor ANTHROPIC_WEBHOOK_SIGNING_KEY).
---@param body string the raw request body, exactly as received
---@param headers table<string, string|string[]> the request headers (any case; a repeated header as a list)
---@param opts? anthropic.environments.WebhookOptions
---@return table|nil event `{ type = "event", id, created_at, data }`
---@return anthropic.environments.Error|nil err kind "webhook", with `reason` (and `header`)
function environments.unwrap_webhook(body, headers, opts) end

---True if `value` is an error returned by this library.
---@param value any
---@return boolean
function environments.is_error(value) end

---True if `value` is a work item given by this library (its secret kept aside).
---@param value any
---@return boolean
function environments.is_work_item(value) end

---True if `env.archived_at` is set (neither nil nor null).
---@param env table
---@return boolean
function environments.is_archived(env) end

---An RFC 3339 timestamp to seconds since the epoch (UTC).
---@param timestamp string|lightuserdata|nil
---@return number|nil seconds
---@return string|nil message
function environments.parse_time(timestamp) end

---When `env` was archived (epoch seconds), or nil.
---@param env table
---@return number|nil
function environments.archived_time(env) end

---Marks `t` (or a new table) to encode as a JSON array.
---@generic T: table
---@param t? T
---@return T
function environments.array(t) end

---Encodes a value as JSON (keys sorted).
---@param value any
---@return string|nil text
---@return string|nil message
function environments.encode(value) end

---Decodes JSON text (null is environments.null).
---@param text string
---@return any value
---@return string|nil message
function environments.decode(text) end

return environments
