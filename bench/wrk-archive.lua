-- wrk: the archive call with the headers every client under test sends.
wrk.method = "POST"
wrk.headers["x-api-key"] = "sk-ant-bench"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.headers["anthropic-beta"] = "managed-agents-2026-04-01"
wrk.headers["accept"] = "application/json"
wrk.headers["content-length"] = "0"
