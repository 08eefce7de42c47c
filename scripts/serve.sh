#!/usr/bin/env bash
# One command for newcomers: installs the tools, builds Tessera and starts it.
# Listens on 127.0.0.1:3000 (open http://localhost:3000) and keeps its SQLite database in ./data/tessera.db
# (the binary's defaults; override with TESSERA_LISTEN / STORAGE_SQLITE_PATH).
# Extra arguments are passed to `tessera serve`.
#
# The first run takes about 12 minutes on two cores (measured from a fresh clone on a fresh
# machine; see the README's "First run"); later runs start in seconds, rebuilding only what
# changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started=$(date +%s)
# Each stage with what it took on a fresh 2-core machine, the first time.
stage() {
  printf '\n==> [%s/4] %s (%s +%ds)\n' "$1" "$2" "$(date +%H:%M:%S)" "$(( $(date +%s) - started ))" >&2
}

stage 1 "Build tools: the wasm32 target and wasm-opt, and wasm-bindgen-cli in the background"
# shellcheck source=tools.sh
. "$ROOT/scripts/tools.sh" --build --background
stage 2 "The server; first time about 9 minutes"
"$ROOT/scripts/build.sh" --server-only
stage 3 "The browser code; first time about 2 minutes"
"$ROOT/scripts/build.sh" --site-only
# shellcheck source=leptos.sh
. "$ROOT/scripts/leptos.sh"
export LEPTOS_SITE_ROOT="$SITE"
[ -n "${STORAGE_SQLITE_PATH:-}" ] || mkdir -p "$ROOT/data"
stage 4 "Starting Tessera (stop it with Ctrl-C)"
exec "$TARGET_DIR/release/tessera" serve "$@"
