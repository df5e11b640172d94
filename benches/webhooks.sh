#!/usr/bin/env bash
# Webhooks: what the outbox costs a grant request, and how fast the delivery worker
# empties it, on a release server per backend (SQLite, then PostgreSQL), measured by
# benches/webhooks.py (sequential grant requests without webhooks, then with W webhooks to a
# local receiver that checks every signature; deliveries counted until all arrived).
#
#   bash benches/webhooks.sh [grants per phase, default 300] [webhooks, default 5]
#
# PostgreSQL is the server at GRANTD_BENCH_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres); the script creates a database of its own
# there and drops it after.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GRANTS=${1:-300}
HOOKS=${2:-5}
source "$ROOT/benches/common.sh"
bench_setup grantd_webhooks
PORT=18197

cargo build --release --quiet --bin grantd --manifest-path "$ROOT/Cargo.toml"
GRANTD=${GRANTD_BIN:-$ROOT/target/release/grantd}
export GRANTD_POLICIES_DIR="$ROOT/policies"

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(git -C "$ROOT" rev-parse --short HEAD) $(nproc) cores, $GRANTS grants per phase, $HOOKS webhooks"
for backend in sqlite postgres; do
  mkdir -p "$WORK/$backend"
  if [ "$backend" = sqlite ]; then url="sqlite://$WORK/sqlite/grantd.db"; else url="$PG_URL"; fi
  (cd "$WORK/$backend" && GRANTD_LOG=warn exec "$GRANTD" serve --bind 127.0.0.1:$PORT \
    --database-url "$url" --allow-insecure-webhooks --allow-private-webhooks) &
  pid=$!
  PIDS+=($pid)
  wait_ready $PORT
  echo "## $backend"
  python3 "$ROOT/benches/webhooks.py" "http://127.0.0.1:$PORT" "$WORK/$backend/grantd-bootstrap.json" \
    "$GRANTS" "$HOOKS"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
