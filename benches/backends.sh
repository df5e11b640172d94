#!/usr/bin/env bash
# SQLite and PostgreSQL side by side, measured in one run on this machine:
#   - POST /v1/authorize (100 rules, every decision durably audited) on each backend, as a
#     ratio to a minimal axum JSON endpoint (examples/baseline.rs) measured in the same
#     round;
#   - durable grant requests (POST /v1/grants, each with an Idempotency-Key of its own) at
#     16 connections on each backend, and PostgreSQL's figure as a multiple of SQLite's.
#
#   bash benches/backends.sh [seconds per run, default 5] [rounds, default 3]
#
# Rounds interleave the runs (baseline, authorize on SQLite, on PostgreSQL, grants on
# SQLite, on PostgreSQL), so the machine's drift falls on all of them alike. PostgreSQL is
# the server at GRANTD_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres,
# the CI machine's); the script creates a database of its own there and drops it after.
# Both grantd processes and the PostgreSQL server share the machine's cores with wrk.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${1:-5}
ROUNDS=${2:-3}
source "$ROOT/benches/common.sh"
bench_setup grantd_bench
SQLITE_PORT=18190
PG_PORT=18191
BASE_PORT=18192

ensure_wrk
cargo build --release --quiet --bin grantd --example baseline --manifest-path "$ROOT/Cargo.toml"
GRANTD=${GRANTD_BIN:-$ROOT/target/release/grantd}


export GRANTD_POLICIES_DIR="$ROOT/policies"
mkdir -p "$WORK/sqlite" "$WORK/pg"
(cd "$WORK/sqlite" && GRANTD_LOG=warn exec "$GRANTD" serve --bind 127.0.0.1:$SQLITE_PORT \
  --database-url "sqlite://$WORK/sqlite/grantd.db") &
PIDS+=($!)
(cd "$WORK/pg" && GRANTD_LOG=warn exec "$GRANTD" serve --bind 127.0.0.1:$PG_PORT \
  --database-url "$PG_URL") &
PIDS+=($!)
"$ROOT/target/release/examples/baseline" 127.0.0.1:$BASE_PORT 2>/dev/null &
PIDS+=($!)
for port in $SQLITE_PORT $PG_PORT; do wait_ready "$port"; done

# One tenant of 100 rules per server (as benches/load.sh), from its bootstrap file.
seed() { # dir port
  python3 - "$1/grantd-bootstrap.json" "$2" <<'PY'
import json, sys, urllib.request
creds, port = json.load(open(sys.argv[1])), sys.argv[2]
h = {"X-API-Key": creds["api_key"], "X-Tenant-ID": creds["tenant_id"], "Content-Type": "application/json"}
def call(method, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(), h, method=method)
    urllib.request.urlopen(req).read()
ents = [{"uid": {"type": "App", "id": f"app{i}"}, "attrs": {}, "parents": []} for i in range(50)]
ents += [{"uid": {"type": "App", "id": "finance"}, "attrs": {}, "parents": []}]
ents += [{"uid": {"type": "User", "id": f"u{i}"}, "attrs": {}, "parents": []} for i in range(100)]
call("PUT", "/v1/entities", ents)
rs = []
for i in range(100):
    if i % 10 == 9:
        rs.append({"effect": "forbid", "principal_scope_type": "eq", "principal_entity_type": "User",
                   "principal_entity_id": f"u{i}", "action_scope_type": "any", "resource_scope_type": "in",
                   "resource_entity_type": "App", "resource_entity_id": "finance", "notice": "no finance"})
    else:
        rs.append({"effect": "permit", "principal_scope_type": "eq", "principal_entity_type": "User",
                   "principal_entity_id": f"u{i}", "action_scope_type": "in", "action_ids": ["request", "extend"],
                   "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": f"app{i % 50}",
                   "conditions": "when { context.scopes.containsAll([\"read\"]) && context.reason != \"\" }"})
call("POST", "/v1/policies", {"key": "p0", "name": "bench", "max_duration_seconds": 3600, "rules": rs})
print(creds["tenant_id"], creds["api_key"])
PY
}
read -r ST SK < <(seed "$WORK/sqlite" $SQLITE_PORT)
read -r PT PK < <(seed "$WORK/pg" $PG_PORT)

authorize_lua() { # tenant key name
  post_lua "$WORK/authorize-$3.lua" "$1" "$2" '{"principal":{"type":"User","id":"u3"},"action":{"type":"Action","id":"request"},"resource":{"type":"App","id":"app3"},"context":{"scopes":["read"],"reason":"incident","extension_count":0}}'
  echo "$WORK/authorize-$3.lua"
}
grants_lua() { # tenant key name: every request carries an Idempotency-Key never used before
  cat > "$WORK/grants-$3.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Tenant-ID"] = "$1"
wrk.headers["X-API-Key"] = "$2"
wrk.body = '{"principal":{"type":"User","id":"u3"},"resource":{"type":"App","id":"app3"},"scopes":["read"],"reason":"incident","duration_seconds":3600}'
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
function request()
  n = n + 1
  wrk.headers["Idempotency-Key"] = "$3-" .. os.time() .. "-" .. tid .. "-" .. n
  return wrk.format()
end
LUA
  echo "$WORK/grants-$3.lua"
}
SA=$(authorize_lua "$ST" "$SK" sqlite)
PA=$(authorize_lua "$PT" "$PK" pg)
SG=$(grants_lua "$ST" "$SK" sqlite)
PG=$(grants_lua "$PT" "$PK" pg)
for pair in "$SQLITE_PORT $SA" "$PG_PORT $PA"; do
  set -- $pair
  curl -sf "http://127.0.0.1:$1/v1/authorize" -H "X-Tenant-ID: $(sed -n 's/.*X-Tenant-ID"\] = "\(.*\)"/\1/p' "$2")" \
    -H "X-API-Key: $(sed -n 's/.*X-API-Key"\] = "\(.*\)"/\1/p' "$2")" -H 'Content-Type: application/json' \
    -d @<(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$2") | grep -q '"decision":"allow"'
done
sync

run() { # round name url script connections: appends "round name req/s" to runs.txt
  local out
  out=$(wrk -t2 -c"$5" -d"${DUR}s" -s "$4" "$3")
  echo "$out" >> "$WORK/wrk.log"
  if grep -q "Non-2xx or 3xx responses" <<<"$out" || ! grep -q "Requests/sec" <<<"$out"; then
    { echo "backends.sh: $3 answered with errors (or wrk failed); not measured:"; echo "$out"; } >&2
    exit 1
  fi
  echo "$1 $2 $(awk '/Requests\/sec/ {print $2}' <<<"$out")" >> "$WORK/runs.txt"
}
: > "$WORK/runs.txt"
for round in $(seq 1 "$ROUNDS"); do
  run "$round" baseline "http://127.0.0.1:$BASE_PORT/v1/authorize" "$SA" 32
  run "$round" authorize_sqlite "http://127.0.0.1:$SQLITE_PORT/v1/authorize" "$SA" 32
  run "$round" authorize_pg "http://127.0.0.1:$PG_PORT/v1/authorize" "$PA" 32
  run "$round" grants_sqlite "http://127.0.0.1:$SQLITE_PORT/v1/grants" "$SG" 16
  run "$round" grants_pg "http://127.0.0.1:$PG_PORT/v1/grants" "$PG" 16
done
printf '\n%s, %s rounds of %s s per run, wrk -t2, %s cores, %s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$ROUNDS" "$DUR" "$(nproc)" \
  "$(psql "$PG_SERVER" -Atc 'SHOW server_version')"
python3 - "$WORK/runs.txt" <<'PY2'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    rnd, name, rps = line.split()
    runs.setdefault(name, {})[int(rnd)] = float(rps)
rounds = sorted(runs["baseline"])
med = lambda name: statistics.median(runs[name].values())
print(f"{'run':46} {'req/s (median)':>14}  per round")
labels = [("baseline", "baseline (minimal axum JSON), 32 connections"),
          ("authorize_sqlite", "authorize, SQLite, 32 connections"),
          ("authorize_pg", "authorize, PostgreSQL, 32 connections"),
          ("grants_sqlite", "grant requests, SQLite, 16 connections"),
          ("grants_pg", "grant requests, PostgreSQL, 16 connections")]
for key, label in labels:
    print(f"{label:46} {med(key):14.0f}  {' '.join(f'{runs[key][r]:.0f}' for r in rounds)}")
for key, label in [("authorize_sqlite", "authorize ratio to baseline, SQLite"),
                   ("authorize_pg", "authorize ratio to baseline, PostgreSQL")]:
    ratios = [runs[key][r] / runs["baseline"][r] for r in rounds]
    print(f"{label:46} {statistics.median(ratios):14.3f}  {' '.join(f'{x:.3f}' for x in ratios)}")
ratios = [runs["grants_pg"][r] / runs["grants_sqlite"][r] for r in rounds]
print(f"{'grant requests, PostgreSQL / SQLite':46} {statistics.median(ratios):14.2f}  {' '.join(f'{x:.2f}' for x in ratios)}")
PY2
