#!/usr/bin/env bash
# What the rule count costs on a tenant shaped like a real one, in interleaved rounds:
#
#   bash benches/flatness.sh [seconds per run, default 10] [rounds, default 5] [backends, default "sqlite postgres"]
#
# Per backend, one release server holding the two tenants of latency.sh (benches/real_tenant.py:
# ~1,490 entities in nested groups, 10 policies; 1,000 rules, and the same tenant cut to 100
# rules, which decides every one of the 2,000 requests alike). Each round measures
# POST /v1/authorize on both tenants, the order alternating from round to round (the
# machine's speed drifts by ±15% within a minute, so only runs next to each other compare):
#   closed-32  32 connections sending as answers come: throughput and its p99;
#   open@R     a constant R requests/s (half the round's first closed-loop rate), the same R
#              for both tenants: p99 at equal load, from each request's due time.
# It prints every run, then per round the 1,000-rule tenant's figures as ratios to the
# 100-rule cut's, and the median of each ratio over the rounds. Every decision is durably
# audited. GRANTD_BIN=/path/to/grantd measures that build instead of this tree's.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUR=${1:-10}
ROUNDS=${2:-5}
BACKENDS=${3:-sqlite postgres}
source "$ROOT/benches/common.sh"
bench_setup grantd_flatness
PORT=18196

build_openloop

run() { # backend rules rate connections round: appends one result to raw.jsonl, prints it
  local out
  out=$("$LOAD" "http://127.0.0.1:$PORT/v1/authorize" "${T[$2]}" "${K[$2]}" \
    "$WORK/$1/$2/authorize.jsonl" "$3" "$DUR" "$4" 1)
  python3 - "$1" "$2" "$5" "$out" "$WORK/raw.jsonl" <<'PY'
import json, sys
backend, rules, rnd, r, raw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
mode = "closed-32" if r["rate"] == 0 else f"open@{int(r['rate'])}"
print(f"{backend:<8} round {rnd}  {rules:>4} rules  {mode:<10} {r['achieved']:>8.0f}/s  p50 {r['p50_ms']:7.2f}  "
      f"p99 {r['p99_ms']:7.2f}  max {r['max_ms']:7.2f}  errors {r['errors']}"
      + ("" if r["errors"] == 0 else f" {r['statuses']}"))
with open(raw, "a") as f:
    f.write(json.dumps({"backend": backend, "rules": rules, "round": rnd, "mode": mode.split("@")[0], **r}) + "\n")
PY
}

for backend in $BACKENDS; do
  start_server "$backend"
  seed_real_tenants "$backend" "$WORK/$backend" "$URL"
  sync
  for n in 100 1000; do # warm both compiled sets and the connections
    "$LOAD" "http://127.0.0.1:$PORT/v1/authorize" "${T[$n]}" "${K[$n]}" "$WORK/$backend/$n/authorize.jsonl" 0 2 32 0 >/dev/null
  done
  for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order="100 1000"; else order="1000 100"; fi
    rate=""
    for n in $order; do
      run "$backend" "$n" 0 32 "$round"
      [ -n "$rate" ] || rate=$(tail -n 1 "$WORK/raw.jsonl" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["achieved"]) // 2)')
    done
    for n in $order; do
      run "$backend" "$n" "$rate" 64 "$round"
    done
  done
  kill "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  unset T K
done

python3 - "$WORK/raw.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {(r["backend"], r["round"], r["mode"], r["rules"]): r for r in runs}
print("\n1,000 rules / 100 rules, per round (1.00 = no cost; throughput below 1 and p99 above 1 are slower)")
print(f"{'backend':<8} {'round':>5}  {'closed-32 req/s':>15}  {'closed-32 p99':>13}  {'open p99':>9}")
for backend in dict.fromkeys(r["backend"] for r in runs):
    rounds = sorted({r["round"] for r in runs if r["backend"] == backend})
    cols = []
    for rnd in rounds:
        a, b = by[(backend, rnd, "closed-32", 1000)], by[(backend, rnd, "closed-32", 100)]
        oa, ob = by[(backend, rnd, "open", 1000)], by[(backend, rnd, "open", 100)]
        row = (a["achieved"] / b["achieved"], a["p99_ms"] / b["p99_ms"], oa["p99_ms"] / ob["p99_ms"])
        cols.append(row)
        print(f"{backend:<8} {rnd:>5}  {row[0]:>15.2f}  {row[1]:>13.2f}  {row[2]:>9.2f}")
    med = [statistics.median(c[i] for c in cols) for i in range(3)]
    print(f"{backend:<8} {'median':>6} {med[0]:>15.2f}  {med[1]:>13.2f}  {med[2]:>9.2f}")
PY
