#!/usr/bin/env bash
# Cache coherence between instances: two grantd processes on one PostgreSQL database; a
# write on A (a policy's `enabled` flipped; an API key revoked) and decisions sent to B
# until B enforces it, 1,000 times each (examples/coherence.rs). Prints p50/p99/max of the
# lag and every round's raw figure.
#
#   bash benches/coherence.sh [rounds, default 1000] [change poll ms, default 1000]
#
# PostgreSQL is the server at GRANTD_BENCH_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres); the script creates a database of its own
# there and drops it after. Both instances keep the default change poll (1 s), so a lag
# well under it is the notifications' doing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-1000}
POLL_MS=${2:-1000}
source "$ROOT/benches/common.sh"
bench_setup grantd_coherence
A_PORT=18193
B_PORT=18194

cargo build --release --quiet --bin grantd --example coherence --manifest-path "$ROOT/Cargo.toml"
GRANTD=${GRANTD_BIN:-$ROOT/target/release/grantd}

export GRANTD_POLICIES_DIR="$ROOT/policies"
mkdir -p "$WORK/a" "$WORK/b"
# A first: it creates the database and bootstraps the tenant; B then finds both.
(cd "$WORK/a" && GRANTD_LOG=warn exec "$GRANTD" serve --bind 127.0.0.1:$A_PORT \
  --database-url "$PG_URL" --change-poll-ms "$POLL_MS") &
PIDS+=($!)
wait_ready $A_PORT
(cd "$WORK/b" && GRANTD_LOG=warn exec "$GRANTD" serve --bind 127.0.0.1:$B_PORT \
  --database-url "$PG_URL" --change-poll-ms "$POLL_MS") &
PIDS+=($!)
wait_ready $B_PORT

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(git -C "$ROOT" rev-parse --short HEAD) $(nproc) cores, change poll ${POLL_MS} ms"
"$ROOT/target/release/examples/coherence" "http://127.0.0.1:$A_PORT" "http://127.0.0.1:$B_PORT" \
  "$WORK/a/grantd-bootstrap.json" "$ROUNDS"
