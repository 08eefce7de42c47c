#!/usr/bin/env bash
# One command for newcomers: installs the tools, builds Tessera and starts it.
# Listens on 127.0.0.1:3000 (open http://localhost:3000) and keeps its SQLite database in ./data/tessera.db
# (the binary's defaults; override with TESSERA_LISTEN / STORAGE_SQLITE_PATH).
# Extra arguments are passed to `tessera serve`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=tools.sh
. "$ROOT/scripts/tools.sh" --build
"$ROOT/scripts/build.sh"

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
export LEPTOS_SITE_ROOT="$TARGET_DIR/site"
[ -n "${STORAGE_SQLITE_PATH:-}" ] || mkdir -p "$ROOT/data"
printf '==> %s\n' "Starting Tessera (stop it with Ctrl-C)" >&2
exec "$TARGET_DIR/release/tessera" serve "$@"
