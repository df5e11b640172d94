#!/usr/bin/env bash
# Change previews on a tenant with many active grants and recorded decisions: a release
# server per backend (SQLite, then PostgreSQL), seeded and measured by
# examples/preview_bench.rs (four kinds of change, each previewed `rounds` times; the time
# of each call as the client sees it).
#
#   bash benches/preview.sh [grants, default 10000] [decisions, default 10000] [rounds, default 3]
#
# PostgreSQL is the server at GRANTD_BENCH_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres); the script creates a database of its own
# there and drops it after.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GRANTS=${1:-10000}
DECISIONS=${2:-10000}
ROUNDS=${3:-3}
source "$ROOT/benches/common.sh"
bench_setup grantd_preview
PORT=18195

cargo build --release --quiet --bin grantd --example preview_bench --manifest-path "$ROOT/Cargo.toml"
GRANTD=${GRANTD_BIN:-$ROOT/target/release/grantd}
export GRANTD_POLICIES_DIR="$ROOT/policies"

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(git -C "$ROOT" rev-parse --short HEAD) $(nproc) cores, $GRANTS grants, $DECISIONS decisions"
for backend in sqlite postgres; do
  mkdir -p "$WORK/$backend"
  if [ "$backend" = sqlite ]; then url="sqlite://$WORK/sqlite/grantd.db"; else url="$PG_URL"; fi
  (cd "$WORK/$backend" && GRANTD_LOG=warn exec "$GRANTD" serve --bind 127.0.0.1:$PORT \
    --database-url "$url") &
  pid=$!
  PIDS+=($pid)
  wait_ready $PORT
  echo "## $backend"
  "$ROOT/target/release/examples/preview_bench" "http://127.0.0.1:$PORT" \
    "$WORK/$backend/grantd-bootstrap.json" "$GRANTS" "$DECISIONS" "$ROUNDS"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
