"""Section 1: sequential archives with Python's standard library only:
http.client on one kept-alive connection, decoded with json.

    seq.py BASE_URL [SECONDS] [MAX_CALLS] [WARMUP_SECONDS]
"""
import http.client
import json
import sys
import time
from urllib.parse import urlsplit

ENV_ID = "env_011CZkZ9X2dpNyB7HsEFoRfW"
PATH = f"/v1/environments/{ENV_ID}/archive"
HEADERS = {
    "x-api-key": "sk-ant-bench",
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "managed-agents-2026-04-01",
    "accept": "application/json",
    "content-length": "0",
}


def main():
    base_url = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    max_calls = int(float(sys.argv[3])) if len(sys.argv) > 3 else 200000
    warmup = float(sys.argv[4]) if len(sys.argv) > 4 else 0.5
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port)

    def call():
        conn.request("POST", PATH, headers=HEADERS)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"unexpected answer {resp.status}")
        env = json.loads(body)
        # The same check as every other client: a top-level and a nested field.
        if env["name"] != "python-data-analysis" or env["config"]["packages"]["pip"][1] != "numpy":
            raise RuntimeError("wrong answer")

    now = time.perf_counter
    started, n = now(), 0
    while n < max_calls and now() - started < warmup:
        call()
        n += 1
    started, n, elapsed, cpu = now(), 0, 0.0, time.process_time()
    while n < max_calls and elapsed < seconds:
        call()
        n += 1
        elapsed = now() - started
    cpu = time.process_time() - cpu
    print(f"calls={n} seconds={elapsed:.6f} cpu={cpu:.6f}")
    conn.close()


if __name__ == "__main__":
    main()
