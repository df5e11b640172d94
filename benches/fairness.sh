#!/usr/bin/env bash
# Fairness between tenants: a prober of tenant B (one connection, POST /v1/authorize) alone,
# then while tenant A floods the same server with 64 connections, on a release server per
# backend (SQLite, then PostgreSQL); then the same flood with quotas set
# (--tenant-rps/--tenant-burst), where A's excess is refused with 429. Prints the prober's
# p50/p90/p99 and max per phase, A's answers per second, and the ratio of B's p99 under the
# flood to B's p99 alone (the issue's target: at most 3).
#
#   bash benches/fairness.sh [seconds per phase, default 10] [quota rps, default 2000]
#
# wrk (Debian package, installed when missing) is both the flood and the prober; it shares
# the machine's two cores with the server, as any single-machine measurement does.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${1:-10}
QUOTA=${2:-2000}
source "$ROOT/benches/common.sh"
bench_setup grantd_fairness
ensure_wrk
PORT=18199

cargo build --release --quiet --bin grantd --manifest-path "$ROOT/Cargo.toml"
GRANTD=${GRANTD_BIN:-$ROOT/target/release/grantd}
export GRANTD_POLICIES_DIR="$ROOT/policies"
BODY='{"principal":{"type":"User","id":"u0"},"action":{"type":"Action","id":"request"},"resource":{"type":"App","id":"github"},"context":{"scopes":[],"reason":"","extension_count":0}}'

# Seeds tenant $1 (key $2): one user, one app, a policy that permits everyone.
seed() {
  local h=(-H "X-Tenant-ID: $1" -H "X-API-Key: $2" -H 'Content-Type: application/json')
  curl -sf "http://127.0.0.1:$PORT/v1/entities" -X PUT "${h[@]}" -d '[{"uid":{"type":"User","id":"u0"},"attrs":{},"parents":[]},{"uid":{"type":"App","id":"github"},"attrs":{},"parents":[]}]' >/dev/null
  curl -sf "http://127.0.0.1:$PORT/v1/policies" "${h[@]}" -d '{"key":"all","name":"all","max_duration_seconds":3600,"rules":[{"effect":"permit","principal_scope_type":"any","action_scope_type":"any","resource_scope_type":"any"}]}' >/dev/null
}

# "p50 p90 p99 max" in ms from wrk --latency output on stdin.
percentiles() {
  python3 -c '
import re, sys
text = sys.stdin.read()
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[u]
got = {p: ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", text, re.M)}
mx = ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", text).group(1))
rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
print("%.2f %.2f %.2f %.2f %.0f" % (got["50"], got["90"], got["99"], mx, float(rps)))'
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(git -C "$ROOT" rev-parse --short HEAD) $(nproc) cores, ${DUR}s per phase, quota ${QUOTA}/s"
echo "backend  phase            B p50 ms  B p90 ms  B p99 ms  B max ms  B req/s  A req/s  A 429s  B p99 / alone"
for backend in sqlite postgres; do
  for quotas in off on; do
    mkdir -p "$WORK/$backend-$quotas"
    if [ "$backend" = sqlite ]; then
      url="sqlite://$WORK/$backend-$quotas/grantd.db"
    else
      psql "$PG_SERVER" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
      psql "$PG_SERVER" -qc "CREATE DATABASE $PG_DB" >/dev/null
      url="$PG_URL"
    fi
    extra=()
    [ "$quotas" = on ] && extra=(--tenant-rps "$QUOTA" --tenant-burst "$QUOTA")
    (cd "$WORK/$backend-$quotas" && GRANTD_LOG=error exec "$GRANTD" serve --bind 127.0.0.1:$PORT \
      --database-url "$url" "${extra[@]}") &
    pid=$!
    PIDS+=($pid)
    wait_ready $PORT
    a_tenant=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["tenant_id"])' "$WORK/$backend-$quotas/grantd-bootstrap.json")
    a_key=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["api_key"])' "$WORK/$backend-$quotas/grantd-bootstrap.json")
    b=$("$GRANTD" tenant create prober --json --database-url "$url")
    b_tenant=$(echo "$b" | python3 -c 'import json,sys;print(json.load(sys.stdin)["tenant_id"])')
    b_key=$(echo "$b" | python3 -c 'import json,sys;print(json.load(sys.stdin)["api_key"])')
    seed "$a_tenant" "$a_key"
    seed "$b_tenant" "$b_key"
    post_lua "$WORK/flood.lua" "$a_tenant" "$a_key" "$BODY"
    post_lua "$WORK/probe.lua" "$b_tenant" "$b_key" "$BODY"
    # warm up both tenants' caches
    wrk -t1 -c4 -d2s -s "$WORK/flood.lua" "http://127.0.0.1:$PORT/v1/authorize" >/dev/null
    wrk -t1 -c1 -d1s -s "$WORK/probe.lua" "http://127.0.0.1:$PORT/v1/authorize" >/dev/null
    if [ "$quotas" = off ]; then
      alone=$(wrk -t1 -c1 -d"${DUR}s" --latency -s "$WORK/probe.lua" "http://127.0.0.1:$PORT/v1/authorize" | percentiles)
      read -r p50 p90 p99 mx rps <<<"$alone"
      alone_p99=$p99
      printf "%-8s %-16s %9s %9s %9s %9s %8s %8s %7s %14s\n" "$backend" "B alone" "$p50" "$p90" "$p99" "$mx" "$rps" "-" "-" "1.0"
    fi
    wrk -t2 -c64 -d"$((DUR + 2))s" -s "$WORK/flood.lua" "http://127.0.0.1:$PORT/v1/authorize" > "$WORK/flood.out" &
    flood=$!
    sleep 1
    under=$(wrk -t1 -c1 -d"${DUR}s" --latency -s "$WORK/probe.lua" "http://127.0.0.1:$PORT/v1/authorize" | percentiles)
    wait "$flood"
    read -r p50 p90 p99 mx rps <<<"$under"
    a_rps=$(grep -oP 'Requests/sec:\s+\K[\d.]+' "$WORK/flood.out" | cut -d. -f1)
    a_bad=$(grep -oP 'Non-2xx or 3xx responses:\s+\K\d+' "$WORK/flood.out" || echo 0)
    ratio=$(python3 -c "print(f'{$p99 / $alone_p99:.1f}')")
    printf "%-8s %-16s %9s %9s %9s %9s %8s %8s %7s %14s\n" "$backend" "A floods, q=$quotas" "$p50" "$p90" "$p99" "$mx" "$rps" "$a_rps" "$a_bad" "$ratio"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
  done
done
