#!/usr/bin/env bash
# Release build of Tessera without cargo-leptos, with the settings of Leptos.toml:
#   server binary  ${CARGO_TARGET_DIR:-target}/release/tessera
#   site (assets)  ${CARGO_TARGET_DIR:-target}/site   (the server reads it from LEPTOS_SITE_ROOT)
# Options: --server-only (skip the site), --site-only (skip the server binary), --production
# (the server with link-time optimisation, into .../production/tessera: for deployment; a cold
# build takes several minutes longer). Each build leaves a report of where its time went in
# ${CARGO_TARGET_DIR:-target}/cargo-timings/ (cargo --timings).
set -euo pipefail

build_server=1
build_site=1
profile=release
for arg in "$@"; do
  case "$arg" in
    --server-only) build_site=0 ;;
    --site-only) build_server=0 ;;
    --production) profile=production ;;
    *) printf '==> Unknown option: %s (use --server-only, --site-only or --production)\n' "$arg" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Makes sure the wasm tools are installed (quick no-op when they are) and puts them on PATH.
# shellcheck source=tools.sh
. "$ROOT/scripts/tools.sh" --build

log() { printf '==> %s\n' "$*" >&2; }
# shellcheck source=leptos.sh
. "$ROOT/scripts/leptos.sh"
STYLE="$(leptos_setting style-file)"
ASSETS="$(leptos_setting assets-dir)"
WASM_PROFILE="$(leptos_setting lib-profile-release)"
export LEPTOS_OUTPUT_NAME="$OUTPUT_NAME"
build_start=$(date +%s)

if [ "$build_server" = 1 ]; then
  step_start=$(date +%s)
  log "Building the server (profile $profile, features $(leptos_setting bin-features))"
  cargo build --timings --profile "$profile" --features "$(leptos_setting bin-features)" --bin tessera
  log "Server built in $(( $(date +%s) - step_start ))s: $TARGET_DIR/$profile/tessera"
fi
if [ "$build_site" = 0 ]; then
  log "Build finished in $(( $(date +%s) - build_start ))s (server only)"
  exit 0
fi

step_start=$(date +%s)
log "Building the browser code (wasm32, features $(leptos_setting lib-features), profile $WASM_PROFILE)"
cargo build --timings --lib --target wasm32-unknown-unknown --no-default-features \
  --features "$(leptos_setting lib-features)" --profile "$WASM_PROFILE"
WASM="$TARGET_DIR/wasm32-unknown-unknown/$WASM_PROFILE/$OUTPUT_NAME.wasm"
log "WebAssembly built in $(( $(date +%s) - step_start ))s: $WASM"

step_start=$(date +%s)
if [ -f "$PKG/$OUTPUT_NAME.js" ] && [ "$PKG/$OUTPUT_NAME.wasm" -nt "$WASM" ]; then
  log "The JavaScript bindings in $PKG are up to date"
else
  # Built in a scratch folder and moved into place at the end, so an interrupted
  # run never leaves a half-made pkg/ that the up-to-date check above would trust.
  NEW="$SITE/pkg.new"
  rm -rf "$NEW"
  mkdir -p "$NEW"
  tessera_wait_for_wasm_bindgen
  log "Generating the JavaScript bindings (wasm-bindgen)"
  wasm-bindgen --target web --out-name "$OUTPUT_NAME" --out-dir "$NEW" "$WASM"
  mv "$NEW/${OUTPUT_NAME}_bg.wasm" "$NEW/$OUTPUT_NAME.wasm"
  # -O1: 11 s against 51 s for -Oz on two cores, for a file 13% larger (3.3 against 2.9 MB)
  # that compresses 12% smaller (0.88 against 1.0 MB with gzip); measured for issue 18.
  log "Optimising the WebAssembly with wasm-opt -O1"
  wasm-opt -O1 --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$NEW/$OUTPUT_NAME.wasm" -o "$NEW/$OUTPUT_NAME.opt.wasm"
  mv "$NEW/$OUTPUT_NAME.opt.wasm" "$NEW/$OUTPUT_NAME.wasm"
  rm -rf "$PKG"
  mv "$NEW" "$PKG"
  log "Bindings and optimisation done in $(( $(date +%s) - step_start ))s ($(du -h "$PKG/$OUTPUT_NAME.wasm" | cut -f1) wasm in $PKG)"
fi

if [ -f "$STYLE" ]; then
  log "Copying $STYLE to $PKG/$OUTPUT_NAME.css"
  cp "$STYLE" "$PKG/$OUTPUT_NAME.css"
else
  log "WARNING: $STYLE not found; the site has no stylesheet"
fi
if [ -d "$ASSETS" ] && [ -n "$(ls -A "$ASSETS")" ]; then
  log "Copying $ASSETS/ into $SITE"
  cp -R "$ASSETS/." "$SITE/"
fi

log "Build finished in $(( $(date +%s) - build_start ))s. Run it with:"
log "  LEPTOS_SITE_ROOT=$SITE $TARGET_DIR/$profile/tessera serve"
