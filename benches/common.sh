# Shared by the benchmark scripts that run release servers on PostgreSQL (sourced, not run):
#   bench_setup PREFIX   - sets PG_SERVER (GRANTD_BENCH_POSTGRES_URL, default
#                          postgres://postgres@127.0.0.1:5432/postgres), PG_DB and PG_URL (a
#                          database of its own there), WORK (a temporary directory) and
#                          PIDS, and on exit stops every process in PIDS, drops the database
#                          and removes WORK;
#   ensure_wrk           - installs wrk (Debian package) when it is missing;
#   wait_ready PORT      - waits until 127.0.0.1:PORT answers /readyz (30 s at most);
#   post_lua FILE TENANT KEY BODY - writes a wrk script that POSTs the JSON BODY with the
#                          tenant's key;
#   build_openloop       - builds this tree's release server and examples/openloop; sets
#                          GRANTD (GRANTD_BIN, or that build) and LOAD, and the policies dir;
#   start_server BACKEND - starts "$GRANTD" on $PORT in $WORK/BACKEND (sqlite: a database
#                          file there; postgres: $PG_URL), sets URL and SERVER, waits until
#                          it is ready;
#   seed_real_tenants LABEL DIR URL - with "$GRANTD" on database URL and the server on
#                          $PORT: creates tenants real-100 and real-1000, seeds each with
#                          benches/real_tenant.py into DIR/100 and DIR/1000 (the 1,000-rule
#                          tenant and its 100-rule cut), sets T[n] and K[n] (tenant id and key),
#                          and fails unless both are sent the same requests.
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

seed_real_tenants() {
  declare -gA T K
  local n creds seeded allowed100=""
  for n in 100 1000; do
    creds=$("$GRANTD" --database-url "$3" tenant create "real-$n" --json)
    T[$n]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["tenant_id"])' "$creds")
    K[$n]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["api_key"])' "$creds")
    seeded=$(python3 "$ROOT/benches/real_tenant.py" "$PORT" "${T[$n]}" "${K[$n]}" $((n / 10)) "$2/$n")
    echo "$1: tenant of $n rules: $seeded"
    if [ "$n" = 100 ]; then allowed100=$seeded; fi
  done
  [ "$allowed100" = "$seeded" ] ||
    echo "warning: the 100-rule cut does not decide as the 1,000-rule tenant does" >&2
  cmp -s "$2/100/authorize.jsonl" "$2/1000/authorize.jsonl" ||
    { echo "the two tenants must be sent the same requests" >&2; exit 1; }
}

build_openloop() {
  cargo build --release --quiet --bin grantd --example openloop --manifest-path "$ROOT/Cargo.toml"
  GRANTD=${GRANTD_BIN:-$ROOT/target/release/grantd}
  LOAD=$ROOT/target/release/examples/openloop
  export GRANTD_POLICIES_DIR="$ROOT/policies"
}

start_server() {
  mkdir -p "$WORK/$1"
  if [ "$1" = sqlite ]; then URL="sqlite://$WORK/sqlite/grantd.db"; else URL="$PG_URL"; fi
  (cd "$WORK/$1" && GRANTD_LOG=warn exec "$GRANTD" serve --bind 127.0.0.1:$PORT --database-url "$URL") &
  PIDS+=($!)
  SERVER=$!
  wait_ready $PORT
}
