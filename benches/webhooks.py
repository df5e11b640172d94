"""Driver of benches/webhooks.sh: against a grantd at BASE (tenant from its bootstrap file),
measures grant requests without and with webhooks (the outbox rows written in each grant's
transaction), and how fast the delivery worker empties the outbox into a local receiver.

    python3 benches/webhooks.py BASE BOOTSTRAP_JSON [grants per phase] [webhooks]
"""
import base64, hashlib, hmac, json, statistics, sys, threading, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

base, boot = sys.argv[1], json.load(open(sys.argv[2]))
N = int(sys.argv[3]) if len(sys.argv) > 3 else 300
HOOKS = int(sys.argv[4]) if len(sys.argv) > 4 else 5
H = {"X-API-Key": boot["api_key"], "X-Tenant-ID": boot["tenant_id"], "Content-Type": "application/json"}


def call(method, path, body=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                 headers=H, method=method)
    with urllib.request.urlopen(req) as r:
        return r.status, json.loads(r.read() or b"null")


secrets, received, bad, lock = [], [], [0], threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        signed = f'{self.headers["webhook-id"]}.{self.headers["webhook-timestamp"]}.'.encode() + body
        ok = any(
            "v1," + base64.b64encode(hmac.new(base64.b64decode(s[6:]), signed, hashlib.sha256).digest()).decode()
            == self.headers["webhook-signature"] for s in secrets)
        with lock:
            if ok:
                received.append(time.monotonic())
            else:
                bad[0] += 1
        self.send_response(204)
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/hook"

call("PUT", "/v1/entities", [{"uid": {"type": "User", "id": f"u{i}"}, "attrs": {}, "parents": []} for i in range(50)]
     + [{"uid": {"type": "App", "id": "bench"}, "attrs": {}, "parents": []}])
call("POST", "/v1/policies", {"name": "bench", "max_duration_seconds": 3600, "priority": 1000, "rules": [
    {"effect": "permit", "principal_scope_type": "any", "action_scope_type": "in", "action_ids": ["request"],
     "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "bench"}]})


def phase(label):
    times = []
    for i in range(N):
        t = time.perf_counter()
        s, _ = call("POST", "/v1/grants", {"principal": {"type": "User", "id": f"u{i % 50}"},
                                           "resource": {"type": "App", "id": "bench"}})
        times.append((time.perf_counter() - t) * 1000)
        assert s == 201, s
    times.sort()
    print(f"{label}: {N} grant requests, p50 {statistics.median(times):.2f} ms, "
          f"p90 {times[int(N * 0.9)]:.2f} ms, p99 {times[int(N * 0.99)]:.2f} ms")
    return statistics.median(times)


without = phase("without webhooks")
for _ in range(HOOKS):
    _, w = call("POST", "/v1/webhooks", {"url": url})
    secrets.append(w["secret"])
start = time.monotonic()
with_hooks = phase(f"with {HOOKS} webhooks")
expected = N * 2 * HOOKS  # grant.requested + grant.activated, to each webhook
deadline = time.monotonic() + 300
while len(received) < expected and time.monotonic() < deadline:
    time.sleep(0.05)
took = time.monotonic() - start
print(f"p50 with / without: {with_hooks / without:.2f}")
print(f"deliveries: {len(received)} of {expected} in {took:.1f} s from the first request "
      f"({len(received) / took:.0f}/s), bad signatures {bad[0]}")
