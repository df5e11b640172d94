#!/usr/bin/env bash
# Load test of POST /v1/authorize, measured in one run on this machine against a minimal
# axum JSON endpoint (examples/baseline.rs): requests per second of each, and the ratios.
#
#   bash benches/load.sh [seconds per run, default 5] [connections, default 32] [rounds, default 5]
#
# Each round measures the baseline and then each grantd endpoint, one after the other; a
# ratio is taken within its round (the machine's speed drifts by ±15% over a minute, and
# a baseline measured once at the start would carry its drift into every ratio). The table
# gives the median of the rounds and each round's ratio. Single rounds of one build span
# ±0.04 around their median here; five rounds (about two minutes) make the median of one
# run steadier than three did.
#
# GRANTD_BIN=/path/to/grantd measures that build instead of this tree's (for interleaved
# A/B runs of two builds).
#
# grantd runs on a fresh SQLite database in a temporary directory, with one tenant of 100
# rules and one of 1,000 (generated like benches/engine.rs: per-user permits with a
# condition, a forbid in ten), and every authorize call writes its durable audit event.
# The load generator (wrk) shares the machine's cores with the servers, as it would with
# any single-machine measurement; compare ratios, not absolute numbers.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${1:-5}
CONN=${2:-32}
ROUNDS=${3:-5}
GRANTD_PORT=18180
BASE_PORT=18181

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet --bin grantd --example baseline --manifest-path "$ROOT/Cargo.toml"
GRANTD=${GRANTD_BIN:-$ROOT/target/release/grantd}

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

export GRANTD_DATABASE_URL="sqlite://$WORK/grantd.db"
export GRANTD_POLICIES_DIR="$ROOT/policies"
(cd "$WORK" && GRANTD_LOG=warn exec "$GRANTD" serve --bind 127.0.0.1:$GRANTD_PORT) &
PIDS+=($!)
"$ROOT/target/release/examples/baseline" 127.0.0.1:$BASE_PORT 2>/dev/null &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$GRANTD_PORT/readyz" >/dev/null && curl -s "http://127.0.0.1:$BASE_PORT/" >/dev/null && break
  sleep 0.1
done

# One tenant per rule count, seeded through the API.
seed() {
  local rules=$1
  local out
  out=$("$GRANTD" tenant create "bench-$rules" --json)
  python3 - "$rules" "$out" "$GRANTD_PORT" <<'PY'
import json, sys, urllib.request
rules, creds, port = int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
h = {"X-API-Key": creds["api_key"], "X-Tenant-ID": creds["tenant_id"], "Content-Type": "application/json"}
def call(method, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(), h, method=method)
    urllib.request.urlopen(req).read()
ents = [{"uid": {"type": "App", "id": f"app{i}"}, "attrs": {}, "parents": []} for i in range(50)]
ents += [{"uid": {"type": "App", "id": "finance"}, "attrs": {}, "parents": []}]
ents += [{"uid": {"type": "User", "id": f"u{i}"}, "attrs": {}, "parents": []} for i in range(max(rules, 10))]
for i in range(0, len(ents), 1000):
    call("PUT", "/v1/entities", ents[i:i + 1000])
for chunk in range((rules + 199) // 200):
    rs = []
    for i in range(chunk * 200, min(rules, chunk * 200 + 200)):
        if i % 10 == 9:
            rs.append({"effect": "forbid", "principal_scope_type": "eq", "principal_entity_type": "User",
                       "principal_entity_id": f"u{i}", "action_scope_type": "any", "resource_scope_type": "in",
                       "resource_entity_type": "App", "resource_entity_id": "finance", "notice": "no finance"})
        else:
            rs.append({"effect": "permit", "principal_scope_type": "eq", "principal_entity_type": "User",
                       "principal_entity_id": f"u{i}", "action_scope_type": "in", "action_ids": ["request", "extend"],
                       "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": f"app{i % 50}",
                       "conditions": "when { context.scopes.containsAll([\"read\"]) && context.reason != \"\" }"})
    call("POST", "/v1/policies", {"key": f"p{chunk}", "name": "bench", "max_duration_seconds": 3600, "rules": rs})
print(creds["tenant_id"], creds["api_key"])
PY
}

lua() { # method script for wrk: $1 tenant, $2 key
  cat > "$WORK/post-$3.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Tenant-ID"] = "$1"
wrk.headers["X-API-Key"] = "$2"
wrk.body = '{"principal":{"type":"User","id":"u3"},"action":{"type":"Action","id":"request"},"resource":{"type":"App","id":"app3"},"context":{"scopes":["read"],"reason":"incident","extension_count":0}}'
LUA
  echo "$WORK/post-$3.lua"
}

ticks() { # CPU time of a process in clock ticks (user + system)
  awk '{print $14 + $15}' "/proc/$1/stat"
}
idle() { # idle + iowait ticks of the whole machine
  awk '/^cpu / {print $5 + $6}' /proc/stat
}
rps() { # url script server-pid: prints "req/s server-CPU-us-per-request machine-idle-%"
  local t0 i0 t1 i1 r
  t0=$(ticks "$3"); i0=$(idle)
  local out
  out=$(wrk -t2 -c"$CONN" -d"${DUR}s" -s "$2" "$1")
  echo "$out" >> "$WORK/wrk.log"
  # An error answer is not throughput: a run with any is refused, not counted.
  if grep -q "Non-2xx or 3xx responses" <<<"$out" || ! grep -q "Requests/sec" <<<"$out"; then
    { echo "load.sh: $1 answered with errors (or wrk failed); not measured:"; echo "$out"; } >&2
    return 1
  fi
  r=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  t1=$(ticks "$3"); i1=$(idle)
  python3 -c "import os,sys; hz=os.sysconf('SC_CLK_TCK'); r=float(sys.argv[1]); d=float(sys.argv[5]); n=os.cpu_count()
print(f'{r} {(int(sys.argv[3])-int(sys.argv[2]))/hz/(r*d)*1e6:.1f} {100*(int(sys.argv[6])-int(sys.argv[4]))/hz/(d*n):.0f}')" "$r" "$t0" "$t1" "$i0" "$DUR" "$i1"
}

read -r T100 K100 < <(seed 100)
read -r T1000 K1000 < <(seed 1000)
S100=$(lua "$T100" "$K100" 100)
S1000=$(lua "$T1000" "$K1000" 1000)
# A warm-up call per tenant compiles its set and checks the request is allowed.
for pair in "$T100 $K100" "$T1000 $K1000"; do
  set -- $pair
  curl -sf "http://127.0.0.1:$GRANTD_PORT/v1/authorize" -H "X-Tenant-ID: $1" -H "X-API-Key: $2" \
    -H 'Content-Type: application/json' -d @<(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$S100") | grep -q '"decision":"allow"'
done

# A grant for the access-check run: u3 on app3, in the 100-rule tenant.
curl -sf "http://127.0.0.1:$GRANTD_PORT/v1/grants" -H "X-Tenant-ID: $T100" -H "X-API-Key: $K100" \
  -H 'Content-Type: application/json' \
  -d '{"principal":{"type":"User","id":"u3"},"resource":{"type":"App","id":"app3"},"scopes":["read"],"reason":"incident","duration_seconds":3600}' >/dev/null
cat > "$WORK/check.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Tenant-ID"] = "$T100"
wrk.headers["X-API-Key"] = "$K100"
wrk.body = '{"principal":{"type":"User","id":"u3"},"resource":{"type":"App","id":"app3"},"scopes":["read"]}'
LUA

curl -sf "http://127.0.0.1:$GRANTD_PORT/v1/access/check" -H "X-Tenant-ID: $T100" -H "X-API-Key: $K100" \
  -H 'Content-Type: application/json' -d @<(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$WORK/check.lua") | grep -q '"allowed":true'

# Seeding left the database's pages dirty; write them out now, so the kernel's writeback
# does not take CPU from whichever run comes first.
sync
GPID=${PIDS[0]}
BPID=${PIDS[1]}
measure() { # round name url script pid: appends one line to runs.txt; a failed run ends the script
  local m
  m=$(rps "$3" "$4" "$5") || exit 1
  echo "$1 $2 $m" >> "$WORK/runs.txt"
}
: > "$WORK/runs.txt"
for round in $(seq 1 "$ROUNDS"); do
  measure "$round" baseline "http://127.0.0.1:$BASE_PORT/v1/authorize" "$S100" "$BPID"
  measure "$round" authorize100 "http://127.0.0.1:$GRANTD_PORT/v1/authorize" "$S100" "$GPID"
  measure "$round" authorize1000 "http://127.0.0.1:$GRANTD_PORT/v1/authorize" "$S1000" "$GPID"
  measure "$round" check "http://127.0.0.1:$GRANTD_PORT/v1/access/check" "$WORK/check.lua" "$GPID"
done
EVENTS=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from audit_events where kind=\"authorize\"').fetchone()[0])" "$WORK/grantd.db")

printf '\n%s, %s rounds of %s s per endpoint, %s connections, wrk -t2, %s cores\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$ROUNDS" "$DUR" "$CONN" "$(nproc)"
printf '(median of the rounds; a ratio is to the baseline of its own round; server CPU = CPU time the server\n'
printf ' process used per request; idle = the machine'"'"'s idle share during the run)\n'
python3 - "$WORK/runs.txt" <<'PY2'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    rnd, name, rps, cpu, idle = line.split()
    runs.setdefault(name, {})[int(rnd)] = (float(rps), float(cpu), float(idle))
base = runs["baseline"]
names = [("baseline", "baseline (minimal axum JSON)"),
         ("authorize100", "grantd /v1/authorize, 100 rules"),
         ("authorize1000", "grantd /v1/authorize, 1000 rules"),
         ("check", "grantd /v1/access/check")]
print(f"{'endpoint':34} {'req/s':>10} {'ratio':>6}  {'ratio per round':18} {'server CPU us/req':>17} {'idle%':>5}")
for key, label in names:
    r = runs[key]
    ratios = [r[i][0] / base[i][0] for i in sorted(r)]
    med = lambda k: statistics.median(v[k] for v in r.values())
    print(f"{label:34} {med(0):10.0f} {statistics.median(ratios):6.3f}  {' '.join(f'{x:.2f}' for x in ratios):18} {med(1):17.1f} {med(2):5.0f}")
PY2
printf 'durable authorize audit events written during the runs: %s\n' "$EVENTS"
