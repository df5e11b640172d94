# Shared by the benchmark scripts that run release servers on PostgreSQL (sourced, not run):
#   bench_setup PREFIX   - sets PG_SERVER (GRANTD_BENCH_POSTGRES_URL, default
#                          postgres://postgres@127.0.0.1:5432/postgres), PG_DB and PG_URL (a
#                          database of its own there), WORK (a temporary directory) and
#                          PIDS, and on exit stops every process in PIDS, drops the database
#                          and removes WORK;
#   ensure_wrk           - installs wrk (Debian package) when it is missing;
#   wait_ready PORT      - waits until 127.0.0.1:PORT answers /readyz (30 s at most);
#   post_lua FILE TENANT KEY BODY - writes a wrk script that POSTs the JSON BODY with the
#                          tenant's key.
bench_setup() {
  PG_SERVER=${GRANTD_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  PG_DB="$1_$$"
  PG_URL="${PG_SERVER%/*}/$PG_DB"
  WORK=$(mktemp -d)
  PIDS=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG_SERVER" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}

ensure_wrk() {
  if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)" >&2
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  fi
}

wait_ready() {
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return 0
    sleep 0.1
  done
  echo "the server on port $1 did not become ready" >&2
  exit 1
}

post_lua() {
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Tenant-ID"] = "$2"
wrk.headers["X-API-Key"] = "$3"
wrk.body = '$4'
LUA
}
