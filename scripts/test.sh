#!/usr/bin/env bash
# One command for all tests: unit and integration tests (cargo nextest, they start
# the server in-process), then the release build, then the browser end-to-end
# tests in end2end/ (node --test; they start the release binary themselves).
# Runs every stage it can and exits non-zero if any of them failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '==> %s\n' "$*" >&2; }
# shellcheck source=tools.sh
. "$ROOT/scripts/tools.sh" --test

failed=()
started=$(date +%s)

step_start=$(date +%s)
log "Running the unit and integration tests (cargo nextest)"
if cargo nextest run --features ssr --no-fail-fast; then
  log "Unit and integration tests passed in $(( $(date +%s) - step_start ))s"
else
  log "Unit and integration tests FAILED (after $(( $(date +%s) - step_start ))s)"
  failed+=("cargo nextest")
fi

step_start=$(date +%s)
log "Building the release binary and the site for the end-to-end tests"
if "$ROOT/scripts/build.sh"; then
  log "Running the browser end-to-end tests (end2end/, node --test)"
  step_start=$(date +%s)
  rm -rf "$ROOT/end2end/test-results"
  if (cd "$ROOT/end2end" && node --test --test-concurrency=1 --test-reporter=spec tests/*.test.js); then
    log "End-to-end tests passed in $(( $(date +%s) - step_start ))s"
  else
    log "End-to-end tests FAILED (after $(( $(date +%s) - step_start ))s); screenshots and logs are in end2end/test-results/"
    failed+=("end-to-end tests")
  fi
else
  log "The release build FAILED; the end-to-end tests were not run"
  failed+=("release build")
fi

if [ "${#failed[@]}" -gt 0 ]; then
  log "FAILED: ${failed[*]} (total $(( $(date +%s) - started ))s)"
  exit 1
fi
log "All tests passed (total $(( $(date +%s) - started ))s)"
