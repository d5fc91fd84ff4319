"""Section 3 with BENCH_SLOW_SERVER=fake: stores COUNT copies of the example
environment (ids env_bench_00000...) in the bundled fake API, then makes it
answer every API request after DELAY_MS without recording requests.

    seed_fake.py BASE_URL COUNT DELAY_MS
"""
import http.client
import json
import sys
from urllib.parse import urlsplit


def main():
    url = urlsplit(sys.argv[1])
    count, delay_ms = int(sys.argv[2]), int(sys.argv[3])
    with open(__file__.rsplit("/", 2)[0] + "/environment.json") as f:
        example = json.load(f)
    conn = http.client.HTTPConnection(url.hostname, url.port)

    def send(method, path, value):
        conn.request(method, path, body=json.dumps(value), headers={"content-type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status}")

    for i in range(count):
        env = dict(example, id=f"env_bench_{i:05d}")
        send("PUT", f"/_fake/environments/{env['id']}", env)
    send("POST", "/_fake/config", {"delay_ms": delay_ms, "record": False})
    conn.close()


if __name__ == "__main__":
    main()
