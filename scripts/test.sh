#!/usr/bin/env bash
# One command for all tests. Starts (installing when missing) PostgreSQL, Redis and
# SecantusDB (MongoDB protocol) on 127.0.0.1, then runs:
#   1. unit and integration tests (cargo nextest; they start the server in-process),
#      including the storage contract suite on SQLite, PostgreSQL, MongoDB and Redis;
#   2. the OIDC flow tests again with the server on PostgreSQL, on MongoDB, and with its
#      OIDC artifacts in Redis; then on SQLite, PostgreSQL and MongoDB databases that began
#      as the upgrade fixture (an earlier commit's schema and data), migrated on opening;
#      then the storage contract and the flow tests with a database per tenant
#      (TESSERA_TEST_PLACEMENT=dedicated) on SQLite, PostgreSQL and MongoDB;
#   3. the release build, then the browser end-to-end tests in end2end/ (node --test;
#      they start the release binary themselves).
# Runs every stage it can and exits non-zero if any of them failed. A backend that cannot
# be reached fails its tests; nothing is skipped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '==> %s\n' "$*" >&2; }
# shellcheck source=tools.sh
. "$ROOT/scripts/tools.sh" --test

failed=()
started=$(date +%s)
"$ROOT/scripts/services.sh"

step_start=$(date +%s)
log "Running the unit and integration tests (cargo nextest)"
if cargo nextest run --features ssr --no-fail-fast; then
  log "Unit and integration tests passed in $(( $(date +%s) - step_start ))s"
else
  log "Unit and integration tests FAILED (after $(( $(date +%s) - step_start ))s)"
  failed+=("cargo nextest")
fi

# The flow tests once more on each other storage configuration. (The housekeeping test counts
# purged rows, which Redis never has: its keys expire by themselves.)
flows='binary(oidc_flow) | binary(hostile_input) | binary(token_lifecycle) | binary(par)'
flows="$flows | binary(device_flow) | binary(logout) | binary(client_auth) | binary(signing_keys)"
flows="$flows | binary(mfa) | binary(console) | binary(platform) | binary(signup)"
flows="$flows | binary(api_keys) | binary(data_export) | binary(management_api) | binary(scim)"
flows="$flows | binary(webhooks) | binary(webhooks_console)"
flows="$flows | binary(dpop) | binary(request_objects) | binary(token_exchange)"
flows="$flows | binary(registration) | binary(keys_by_reference) | binary(connections) | binary(upstream) | binary(saml)"
for backend in postgresql mongodb redis; do
  filter="$flows"
  [ "$backend" = redis ] || filter="$filter | binary(housekeeping)"
  step_start=$(date +%s)
  log "Running the OIDC flow tests on $backend (TESSERA_TEST_BACKEND=$backend)"
  if TESSERA_TEST_BACKEND="$backend" cargo nextest run --features ssr --no-fail-fast -E "$filter"; then
    log "Flow tests on $backend passed in $(( $(date +%s) - step_start ))s"
  else
    log "Flow tests on $backend FAILED"
    failed+=("flow tests on $backend")
  fi
done

# Upgrades: the flow tests again on databases that began as the upgrade fixture (made by an
# earlier commit's code and migrations, tests/fixtures/upgrade/), migrated by this code.
for backend in sqlite postgresql mongodb; do
  step_start=$(date +%s)
  log "Running the OIDC flow tests on an upgraded $backend database (TESSERA_TEST_FROM_FIXTURE=1)"
  if TESSERA_TEST_FROM_FIXTURE=1 TESSERA_TEST_BACKEND="$backend" \
    cargo nextest run --features ssr --no-fail-fast -E "$flows"; then
    log "Flow tests on an upgraded $backend database passed in $(( $(date +%s) - step_start ))s"
  else
    log "Flow tests on an upgraded $backend database FAILED"
    failed+=("flow tests on an upgraded $backend database")
  fi
done

# Database-per-tenant mode: the storage contract and the flow tests again with every tenant
# in a database of its own (a SQLite file, a PostgreSQL database, a MongoDB database each).
contract='binary(store_contract) & (test(/^sqlite::/) | test(/^postgresql::/) | test(/^mongodb::/) | test(/_changes::/))'
step_start=$(date +%s)
log "Running the storage contract with a database per tenant (TESSERA_TEST_PLACEMENT=dedicated)"
if TESSERA_TEST_PLACEMENT=dedicated cargo nextest run --features ssr --no-fail-fast -E "$contract"; then
  log "Storage contract with a database per tenant passed in $(( $(date +%s) - step_start ))s"
else
  log "Storage contract with a database per tenant FAILED"
  failed+=("storage contract with a database per tenant")
fi
for backend in sqlite postgresql mongodb; do
  step_start=$(date +%s)
  log "Running the OIDC flow tests on $backend with a database per tenant (TESSERA_TEST_PLACEMENT=dedicated)"
  if TESSERA_TEST_PLACEMENT=dedicated TESSERA_TEST_BACKEND="$backend" \
    cargo nextest run --features ssr --no-fail-fast -E "$flows | binary(housekeeping)"; then
    log "Flow tests on $backend with a database per tenant passed in $(( $(date +%s) - step_start ))s"
  else
    log "Flow tests on $backend with a database per tenant FAILED"
    failed+=("flow tests on $backend with a database per tenant")
  fi
done

step_start=$(date +%s)
log "Building the release binary and the site for the end-to-end tests"
if "$ROOT/scripts/build.sh"; then
  log "Where the build's time went: ${CARGO_TARGET_DIR:-target}/cargo-timings/ (one report per build)"
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
