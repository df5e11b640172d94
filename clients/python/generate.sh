#!/usr/bin/env bash
# The Python client, generated from the OpenAPI document the current build serves.
#   generate.sh update   regenerate clients/python/grantd_client in place
#   generate.sh check    fail when the committed client differs from a fresh one, then run
#                        examples/walkthrough.py against a live grantd on 127.0.0.1
# Uses target/debug/grantd (built by `cargo test` or `cargo build`) and a virtualenv in
# target/ with pinned generator versions, so the output depends on the spec alone.
set -euo pipefail
mode="${1:-check}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/clients/python"
venv="$root/target/python-client-venv"
case "$mode" in update|check) ;; *) echo "usage: $0 update|check"; exit 2 ;; esac
pins="openapi-python-client==0.29.1 ruff==0.17.6"
# The virtualenv is made again whenever the pins change.
if [ "$(cat "$venv/pins" 2>/dev/null)" != "$pins" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $pins
  echo "$pins" > "$venv/pins"
fi
export PATH="$venv/bin:$PATH"
# ruff (the generator formats its output with it) leaves no cache in the output.
export RUFF_NO_CACHE=true
# Loopback calls never go through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
bin="$root/target/debug/grantd"
(cd "$root" && cargo build -q --bin grantd)

work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A grantd of its own, on a free port, in a scratch directory.
(cd "$work" && exec "$bin" serve --bind 127.0.0.1:0 --log-format json \
  --database-url "sqlite://$work/grantd.db" --policies-dir "$root/policies" 2>"$work/log") &
server=$!
addr=""
for _ in $(seq 1 300); do
  addr="$(python3 -c 'import json,sys
for line in open(sys.argv[1]):
    try: v = json.loads(line)
    except ValueError: continue
    if v.get("fields", {}).get("message") == "grantd listening": print(v["fields"]["addr"]); break' "$work/log" 2>/dev/null || true)"
  [ -n "$addr" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
[ -n "$addr" ] || { echo "grantd did not start:"; cat "$work/log"; exit 1; }
base="http://$addr"
python3 -c 'import sys,urllib.request; open(sys.argv[2],"wb").write(urllib.request.urlopen(sys.argv[1]).read())' \
  "$base/openapi.json" "$work/openapi.json"

(cd "$work" && openapi-python-client generate --path openapi.json --fail-on-warning \
  --config "$here/openapi-python-client.yml" --meta none --output-path "$work/gen" >"$work/gen.log" 2>&1) \
  || { echo "the generator failed or skipped parts of the spec:"; cat "$work/gen.log"; exit 1; }
# The package's type hints are for its users' checkers too (PEP 561).
touch "$work/gen/py.typed"

case "$mode" in
  update)
    rm -rf "$here/grantd_client"
    cp -r "$work/gen" "$here/grantd_client"
    echo "regenerated $here/grantd_client"
    ;;
  check)
    if ! diff -r -q -x __pycache__ "$work/gen" "$here/grantd_client" >/dev/null; then
      diff -r -u -x __pycache__ "$here/grantd_client" "$work/gen" | head -80 || true
      echo "clients/python/grantd_client is stale: run 'bash clients/python/generate.sh update' and commit it"
      exit 1
    fi
    # Installed from a copy, so no build directory in the tree feeds it stale modules.
    mkdir "$work/pkg"
    cp -r "$here/pyproject.toml" "$here/README.md" "$here/grantd" "$here/grantd_client" "$work/pkg/"
    find "$work/pkg" -name __pycache__ -prune -exec rm -rf {} +
    "$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall "$work/pkg" >/dev/null
    (cd "$work" && "$venv/bin/python" "$here/examples/walkthrough.py" "$base" "$work/grantd-bootstrap.json")
    ;;
esac
