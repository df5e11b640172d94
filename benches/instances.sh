#!/usr/bin/env bash
# One, two and three grantd instances on one PostgreSQL database, measured in one run on
# this machine: POST /v1/authorize (100 rules, every decision durably audited) at 24
# connections in all, spread evenly over the instances (wrk per instance, run together),
# with the CPU time grantd and PostgreSQL spent per request (from /proc, over the run).
#
#   bash benches/instances.sh [seconds per run, default 5] [rounds, default 2]
#
# Everything shares this machine's cores (wrk too), so more instances cannot add
# throughput here; what the run shows is the cost per request of each part, which is what
# a projection to larger machines needs (README, "Running several instances").
# PostgreSQL is the server at GRANTD_BENCH_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres); the script creates a database of its own
# there and drops it after.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${1:-5}
ROUNDS=${2:-2}
source "$ROOT/benches/common.sh"
bench_setup grantd_instances
PORTS=(18195 18196 18197)
ensure_wrk
cargo build --release --quiet --bin grantd --manifest-path "$ROOT/Cargo.toml"
GRANTD=${GRANTD_BIN:-$ROOT/target/release/grantd}

export GRANTD_POLICIES_DIR="$ROOT/policies"
for n in 0 1 2; do
  mkdir -p "$WORK/i$n"
  (cd "$WORK/i$n" && GRANTD_LOG=warn exec "$GRANTD" serve --bind "127.0.0.1:${PORTS[$n]}" \
    --database-url "$PG_URL") &
  PIDS+=($!)
  wait_ready "${PORTS[$n]}"
done

read -r T K < <(python3 - "$WORK/i0/grantd-bootstrap.json" "${PORTS[0]}" <<'PY'
import json, sys, urllib.request
creds, port = json.load(open(sys.argv[1])), sys.argv[2]
h = {"X-API-Key": creds["api_key"], "X-Tenant-ID": creds["tenant_id"], "Content-Type": "application/json"}
def call(method, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(), h, method=method)
    urllib.request.urlopen(req).read()
ents = [{"uid": {"type": "App", "id": f"app{i}"}, "attrs": {}, "parents": []} for i in range(50)]
ents += [{"uid": {"type": "User", "id": f"u{i}"}, "attrs": {}, "parents": []} for i in range(100)]
call("PUT", "/v1/entities", ents)
rs = [{"effect": "permit", "principal_scope_type": "eq", "principal_entity_type": "User",
       "principal_entity_id": f"u{i}", "action_scope_type": "in", "action_ids": ["request", "extend"],
       "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": f"app{i % 50}",
       "conditions": "when { context.scopes.containsAll([\"read\"]) && context.reason != \"\" }"}
      for i in range(100)]
call("POST", "/v1/policies", {"key": "p0", "name": "bench", "max_duration_seconds": 3600, "rules": rs})
print(creds["tenant_id"], creds["api_key"])
PY
)
cat > "$WORK/authorize.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Tenant-ID"] = "$T"
wrk.headers["X-API-Key"] = "$K"
wrk.body = '{"principal":{"type":"User","id":"u3"},"action":{"type":"Action","id":"request"},"resource":{"type":"App","id":"app3"},"context":{"scopes":["read"],"reason":"incident","extension_count":0}}'
LUA
for p in "${PORTS[@]}"; do
  curl -sf "http://127.0.0.1:$p/v1/authorize" -H "X-Tenant-ID: $T" -H "X-API-Key: $K" \
    -H 'Content-Type: application/json' -d @<(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$WORK/authorize.lua") \
    | grep -q '"decision":"allow"'
done

ticks() { # CPU time (clock ticks) of the given pids, summed
  local sum=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo $sum
}
pg_pids() { pgrep -x postgres || pgrep -f 'postgres:' || true; }
HZ=$(getconf CLK_TCK)
GRANTD_PIDS=()
for n in 0 1 2; do GRANTD_PIDS+=("$(pgrep -f "grantd serve --bind 127.0.0.1:${PORTS[$n]}" | head -1)"); done

printf '%s %s, %s rounds of %s s per run, 24 connections in all, wrk -t1 per instance, %s cores, %s\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$(git -C "$ROOT" rev-parse --short HEAD)" "$ROUNDS" "$DUR" "$(nproc)" \
  "$(psql "$PG_SERVER" -Atc 'SHOW server_version')"
printf '%-10s %10s %22s %22s\n' instances "req/s" "grantd CPU us/request" "PostgreSQL CPU us/request"
for round in $(seq 1 "$ROUNDS"); do
  for n in 1 2 3; do
    g0=$(ticks "${GRANTD_PIDS[@]}"); p0=$(ticks $(pg_pids))
    for i in $(seq 0 $((n - 1))); do
      wrk -t1 -c$((24 / n)) -d"${DUR}s" -s "$WORK/authorize.lua" \
        "http://127.0.0.1:${PORTS[$i]}/v1/authorize" > "$WORK/wrk-$i.log" &
    done
    wait $(jobs -p | tail -n "$n")
    g1=$(ticks "${GRANTD_PIDS[@]}"); p1=$(ticks $(pg_pids))
    total=0
    for i in $(seq 0 $((n - 1))); do
      if grep -q "Non-2xx" "$WORK/wrk-$i.log"; then echo "errors on instance $i:" >&2; cat "$WORK/wrk-$i.log" >&2; exit 1; fi
      total=$(python3 -c "print($total + $(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-$i.log"))")
    done
    python3 - "$n" "$total" "$DUR" "$((g1 - g0))" "$((p1 - p0))" "$HZ" <<'PY'
import sys
n, rps, dur, g, p, hz = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
reqs = rps * dur
print(f"{n:<10} {rps:10.0f} {g / hz / reqs * 1e6:22.0f} {p / hz / reqs * 1e6:22.0f}")
PY
  done
done
