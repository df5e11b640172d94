#!/usr/bin/env bash
# Latency at the tail, on SQLite and on PostgreSQL, measured from outside on this machine:
#
#   bash benches/latency.sh [seconds per run, default 10] [backends, default "sqlite postgres"]
#
# Workloads, on a tenant shaped like a real one (benches/real_tenant.py: ~1,490 entities in
# nested groups, 10 policies, 2,000 distinct authorize requests sent in turn; the 100-rule
# cut decides every request as the 1,000-rule tenant does):
#   authorize100   POST /v1/authorize, the tenant cut to 100 rules (10 per policy)
#   authorize1000  POST /v1/authorize, the same tenant with 1,000 rules (100 per policy)
#   grant          POST /v1/grants (durable; requests the 1,000-rule tenant permits)
#   check          POST /v1/access/check (grants of the 1,000-rule tenant, and pairs without)
# For each: a closed-loop run at 32 connections (saturation: the maximum rate, with its
# p50/p99), then open-loop runs at a constant 50% and 80% of that maximum (examples/openloop.rs:
# latency from each request's due time, so a stall counts for every request due during it),
# each printing p50/p90/p99/p99.9/max in milliseconds. Every decision is durably audited.
#
# Then the bytes each audited decision adds to the database: the growth of the audit
# table and its indexes over the authorize runs, divided by the decisions they audited
# (SQLite: dbstat pages; PostgreSQL: pg_total_relation_size).
#
# The server, the load generator (one thread) and PostgreSQL share the machine's two
# cores. GRANTD_BIN=/path/to/grantd measures that build instead of this tree's.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${1:-10}
BACKENDS=${2:-sqlite postgres}
source "$ROOT/benches/common.sh"
bench_setup grantd_latency
PORT=18195

build_openloop

run() { # label tenant key path bodies rate connections: prints one result line
  local out
  out=$("$LOAD" "http://127.0.0.1:$PORT$4" "$2" "$3" "$5" "$6" "$DUR" "$7" 1)
  python3 - "$1" "$out" <<'PY'
import json, sys
label, r = sys.argv[1], json.loads(sys.argv[2])
mode = "closed-32" if r["rate"] == 0 else f"open@{int(r['rate'])}"
print(f"{label:<24} {mode:<12} {r['achieved']:>8.0f}/s  p50 {r['p50_ms']:7.2f}  p90 {r['p90_ms']:7.2f}  "
      f"p99 {r['p99_ms']:7.2f}  p99.9 {r['p999_ms']:7.2f}  max {r['max_ms']:7.2f}  errors {r['errors']}"
      + ("" if r["errors"] == 0 else f" {r['statuses']}"))
PY
  echo "$out" >> "$WORK/raw.jsonl"
}

max_of() { # the last closed-loop line's achieved rate
  tail -n 1 "$WORK/raw.jsonl" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["achieved"]))'
}

audit_bytes() { # backend: "bytes decisions" of the audit table and its indexes
  if [ "$1" = sqlite ]; then
    python3 - "$WORK/sqlite/grantd.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
b = c.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'audit_events' OR name LIKE 'audit_events_%' "
              "OR name LIKE 'sqlite_autoindex_audit_events%'").fetchone()[0]
n = c.execute("SELECT count(*) FROM audit_events WHERE kind = 'authorize'").fetchone()[0]
print(b, n)
PY
  else
    psql "$PG_URL" -Atqc "SELECT pg_total_relation_size('audit_events'), (SELECT count(*) FROM audit_events WHERE kind = 'authorize')" | tr '|' ' '
  fi
}

for backend in $BACKENDS; do
  start_server "$backend"
  seed_real_tenants "$backend" "$WORK/$backend" "$URL"
  sync
  # Warm both tenants' compiled sets and the connections.
  "$LOAD" "http://127.0.0.1:$PORT/v1/authorize" "${T[100]}" "${K[100]}" "$WORK/$backend/100/authorize.jsonl" 0 2 32 0 >/dev/null
  "$LOAD" "http://127.0.0.1:$PORT/v1/authorize" "${T[1000]}" "${K[1000]}" "$WORK/$backend/1000/authorize.jsonl" 0 2 32 0 >/dev/null
  read -r bytes0 n0 < <(audit_bytes "$backend")
  for w in authorize100 authorize1000 grant check; do
    case $w in
      authorize100) t=100; path=/v1/authorize; bodies=authorize.jsonl ;;
      authorize1000) t=1000; path=/v1/authorize; bodies=authorize.jsonl ;;
      grant) t=1000; path=/v1/grants; bodies=grants.jsonl ;;
      check) t=1000; path=/v1/access/check; bodies=check.jsonl ;;
    esac
    args=("${T[$t]}" "${K[$t]}" "$path" "$WORK/$backend/$t/$bodies")
    run "$backend $w" "${args[@]}" 0 32
    max=$(max_of)
    run "$backend $w" "${args[@]}" $((max / 2)) 64
    run "$backend $w" "${args[@]}" $((max * 8 / 10)) 64
    if [ "$w" = authorize1000 ]; then
      sleep 2 # the last decisions reach the database
      read -r bytes1 n1 < <(audit_bytes "$backend")
      echo "$backend bytes per audited decision: $(( (bytes1 - bytes0) / (n1 - n0) )) ($((n1 - n0)) decisions, $(( (bytes1 - bytes0) / 1048576 )) MiB)"
    fi
  done
  echo "$backend /metrics, decision phases:"
  curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^grantd_(decision_evaluation|audit_queue|audit_commit)_seconds_(count|sum)' | sed 's/^/  /'
  kill "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  unset T K
done
