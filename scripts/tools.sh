#!/usr/bin/env bash
# Installs the tools Tessera's build and tests need. Safe to run again: every
# step is skipped when the tool is already there at the right version.
#
#   scripts/tools.sh           build tools: OpenSSL headers, wasm32 target, wasm-bindgen-cli, wasm-opt
#   scripts/tools.sh --test    also the end-to-end test tools: chromium, end2end/node_modules
#
# It can also be sourced (`. scripts/tools.sh [--test]`); then the PATH change
# (.tools/node_modules/.bin for wasm-opt, ~/.cargo/bin) stays in the caller's shell.
# Sourced with --background (as scripts/serve.sh does), a missing wasm-bindgen-cli is compiled
# in the background; scripts/build.sh waits for it before it needs it.
set -euo pipefail

TESSERA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BINARYEN_VERSION=132

tessera_log() { printf '==> %s\n' "$*" >&2; }

tessera_now() { date +%s; }

tessera_tools_path() {
  # cargo-installed binaries and the npm-installed wasm-opt come first, so a
  # Debian `binaryen` (too old, breaks hydration) is never picked up.
  export PATH="$TESSERA_ROOT/.tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
}

tessera_wasm_bindgen_version() {
  # The exact version of the wasm-bindgen crate in Cargo.lock; the CLI must match it.
  awk '
    $0 == "name = \"wasm-bindgen\"" { want = 1; next }
    want && /^version = / { gsub(/"/, "", $3); print $3; exit }
    /^\[\[package\]\]/ { want = 0 }
  ' "$TESSERA_ROOT/Cargo.lock"
}

# With "background", wasm-bindgen-cli (needed only after the browser code is built) is
# compiled in the background when it is missing.
tessera_build_tools() {
  local background="${1:-}"
  [ "$background" = background ] && background=1
  tessera_tools_path
  local start

  # webauthn-rs verifies passkey signatures with OpenSSL, and samael SAML signatures with
  # libxmlsec1 (over libxml2), whose bindings it generates with bindgen, which needs libclang.
  if pkg-config --exists openssl xmlsec1 libxml-2.0 2>/dev/null \
    && ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1; then
    tessera_log "OpenSSL, libxmlsec1, libxml2 and libclang development files are already installed"
  else
    tessera_log "Installing libssl-dev, libxmlsec1-dev, libxml2-dev, libclang-dev and pkg-config (apt) for webauthn-rs and samael"
    DEBIAN_FRONTEND=noninteractive apt-get update </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y libssl-dev libxmlsec1-dev libxml2-dev \
      libclang-dev pkg-config </dev/null
  fi

  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    tessera_log "Rust target wasm32-unknown-unknown is already installed"
  else
    tessera_log "Adding the Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi

  local want have
  want="$(tessera_wasm_bindgen_version)"
  if [ -z "$want" ]; then
    tessera_log "Could not find the wasm-bindgen version in Cargo.lock" ; return 1
  fi
  have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
  # No --locked: the CLI's own lock file names a crate version the registry here does not serve.
  # opt-level 1: it compiles in less time, and it still turns our wasm into bindings in seconds.
  local install=(cargo install wasm-bindgen-cli --version "$want" --force
    --config 'profile.release.opt-level=1')
  if [ "$have" = "$want" ]; then
    tessera_log "wasm-bindgen $want is already installed"
  elif [ "$background" = 1 ]; then
    # Compiled at the lowest priority beside the server's build, on the cycles that build
    # leaves idle; tessera_wait_for_wasm_bindgen waits for it before it is needed.
    export TESSERA_BINDGEN_LOG="$TESSERA_ROOT/.tools/wasm-bindgen-install.log"
    mkdir -p "$TESSERA_ROOT/.tools"
    rm -f "$TESSERA_BINDGEN_LOG.status"
    tessera_log "Installing wasm-bindgen-cli $want in the background (found: ${have:-none}; log: $TESSERA_BINDGEN_LOG)"
    ( nice -n 19 "${install[@]}" >"$TESSERA_BINDGEN_LOG" 2>&1; echo $? >"$TESSERA_BINDGEN_LOG.status" ) &
  else
    tessera_log "Installing wasm-bindgen-cli $want (found: ${have:-none}); this takes about 2 minutes"
    start="$(tessera_now)"
    "${install[@]}"
    tessera_log "wasm-bindgen-cli $want installed in $(( $(tessera_now) - start ))s"
  fi

  local pkg="$TESSERA_ROOT/.tools/node_modules/binaryen/package.json" bver=""
  if [ -f "$pkg" ]; then
    bver="$(node -p "require('$pkg').version" 2>/dev/null || true)"
  fi
  if [ "${bver%%.*}" = "$BINARYEN_VERSION" ] && [ -x "$TESSERA_ROOT/.tools/node_modules/.bin/wasm-opt" ]; then
    tessera_log "wasm-opt (binaryen $bver from npm) is already installed in .tools/"
  else
    tessera_log "Installing wasm-opt (npm binaryen@$BINARYEN_VERSION) into .tools/"
    start="$(tessera_now)"
    mkdir -p "$TESSERA_ROOT/.tools"
    [ -f "$TESSERA_ROOT/.tools/package.json" ] || echo '{"private": true}' > "$TESSERA_ROOT/.tools/package.json"
    npm install --prefix "$TESSERA_ROOT/.tools" --no-audit --no-fund "binaryen@$BINARYEN_VERSION"
    tessera_log "binaryen installed in $(( $(tessera_now) - start ))s"
  fi
}

# Waits for a background install of wasm-bindgen-cli (see tessera_build_tools), if one runs.
tessera_wait_for_wasm_bindgen() {
  [ -n "${TESSERA_BINDGEN_LOG:-}" ] || return 0
  if [ ! -f "$TESSERA_BINDGEN_LOG.status" ]; then
    tessera_log "Waiting for wasm-bindgen-cli, which is still being installed in the background"
    while [ ! -f "$TESSERA_BINDGEN_LOG.status" ]; do sleep 1; done
  fi
  if [ "$(cat "$TESSERA_BINDGEN_LOG.status")" != 0 ]; then
    tail -n 30 "$TESSERA_BINDGEN_LOG" >&2
    tessera_log "Installing wasm-bindgen-cli failed (the whole log: $TESSERA_BINDGEN_LOG)"
    return 1
  fi
  tessera_log "wasm-bindgen-cli is installed: $(wasm-bindgen --version)"
}

tessera_test_tools() {
  local start
  if [ -x /usr/bin/chromium ]; then
    tessera_log "Chromium is already installed ($(/usr/bin/chromium --version 2>/dev/null || echo '/usr/bin/chromium'))"
  else
    tessera_log "Installing Chromium from Debian (apt)"
    start="$(tessera_now)"
    DEBIAN_FRONTEND=noninteractive apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
    tessera_log "Chromium installed in $(( $(tessera_now) - start ))s"
  fi

  if (cd "$TESSERA_ROOT/end2end" && npm ls --all >/dev/null 2>&1); then
    tessera_log "end2end/node_modules is up to date"
  else
    tessera_log "Installing the end-to-end test dependencies (npm ci in end2end/)"
    start="$(tessera_now)"
    if [ -f "$TESSERA_ROOT/end2end/package-lock.json" ]; then
      (cd "$TESSERA_ROOT/end2end" && npm ci --no-audit --no-fund)
    else
      (cd "$TESSERA_ROOT/end2end" && npm install --no-audit --no-fund)
    fi
    tessera_log "end2end dependencies installed in $(( $(tessera_now) - start ))s"
  fi
}

tessera_tools_main() {
  local with_test=0 background="" arg
  for arg in "$@"; do
    case "$arg" in
      --test) with_test=1 ;;
      --background) background=background ;;
      --build|"") ;;  # the default: build tools only
      -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}"; return 0 ;;
      *) tessera_log "Unknown option: $arg"; return 2 ;;
    esac
  done
  # Already checked earlier in this process tree (e.g. test.sh, then build.sh): only fix up PATH.
  if [ "${TESSERA_TOOLS_READY:-}" = 1 ] && { [ "$with_test" = 0 ] || [ "${TESSERA_TEST_TOOLS_READY:-}" = 1 ]; }; then
    tessera_tools_path
    return 0
  fi
  tessera_build_tools "$background"
  export TESSERA_TOOLS_READY=1
  if [ "$with_test" = 1 ]; then
    tessera_test_tools
    export TESSERA_TEST_TOOLS_READY=1
  fi
  tessera_log "Tools are ready: $(wasm-bindgen --version 2>/dev/null || echo 'wasm-bindgen (installing)'), wasm-opt $(wasm-opt --version | awk '{print $3}') at $(command -v wasm-opt)"
}

tessera_tools_main "$@"
