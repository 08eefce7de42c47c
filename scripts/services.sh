#!/usr/bin/env bash
# Makes sure the servers the tests talk to are running on 127.0.0.1, installing what is
# missing: PostgreSQL (5432) and Redis (6379) from Debian's packages, and from PyPI into
# .venv-services/: SecantusDB (27017), a MongoDB-wire-protocol server, aiosmtpd, the SMTP
# server the mail tests start for themselves, openapi-spec-validator, which checks the
# management API's OpenAPI document, and scim2-client (with scim2-models and httpx2), the
# SCIM client that provisions through the SCIM endpoints, and standardwebhooks, the reference
# library with which the webhook tests' receiver verifies signatures, and pysaml2 (with
# cryptography, pinned, and Debian's xmlsec1, which pysaml2 runs to sign), with which
# tests/saml_idp.py is the SAML identity provider of the SAML tests. Safe to run again: running
# servers are left alone. Set TESSERA_TEST_MONGODB_URI to test against a MongoDB of your own
# instead (SecantusDB is then not started).
set -euo pipefail

TESSERA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECANTUS_VERSION=0.7.0b3
AIOSMTPD_VERSION=1.4.6
OPENAPI_VALIDATOR_VERSION=0.8.4
SCIM_CLIENT_VERSION=0.13.2
SCIM_MODELS_VERSION=0.12.3
HTTPX2_VERSION=2.17.0
STANDARD_WEBHOOKS_VERSION=1.3.0
PYSAML2_VERSION=7.5.5
CRYPTOGRAPHY_VERSION=50.0.2
SERVICES_VENV="$TESSERA_ROOT/.venv-services"

services_log() { printf '==> %s\n' "$*" >&2; }

services_apt_updated=0
services_apt_install() {
  if [ "$services_apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update </dev/null
    services_apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" </dev/null
}

services_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

services_wait_port() {  # PORT NAME [LOG]
  local i
  for i in $(seq 1 120); do
    if services_port_open "$1"; then return 0; fi
    sleep 0.5
  done
  services_log "$2 did not start listening on 127.0.0.1:$1${3:+; see $3}"
  return 1
}

ensure_postgres() {
  if services_port_open 5432; then
    services_log "PostgreSQL is already running on 127.0.0.1:5432"
    return 0
  fi
  local installed=0 version hba
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    services_log "Installing PostgreSQL (apt)"
    services_apt_install postgresql
    installed=1
  fi
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  if [ "$installed" = 1 ]; then
    # The tests connect over loopback without passwords, as on the machines this project
    # runs on; only a cluster installed right here is changed.
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    services_log "Allowing password-less connections from 127.0.0.1 in $hba"
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  services_log "Starting PostgreSQL $version (cluster main)"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start </dev/null || true
  services_wait_port 5432 PostgreSQL
  services_log "PostgreSQL is running on 127.0.0.1:5432"
}

ensure_redis() {
  if services_port_open 6379; then
    services_log "Redis is already running on 127.0.0.1:6379"
    return 0
  fi
  if ! command -v redis-server >/dev/null; then
    services_log "Installing Redis (apt)"
    services_apt_install redis-server
  fi
  mkdir -p /var/lib/redis /var/log/redis
  services_log "Starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log </dev/null
  services_wait_port 6379 Redis
  services_log "Redis is running on 127.0.0.1:6379"
}

ensure_mongo() {
  if [ -n "${TESSERA_TEST_MONGODB_URI:-}" ]; then
    services_log "Using the MongoDB at TESSERA_TEST_MONGODB_URI; SecantusDB is not started"
    return 0
  fi
  if services_port_open 27017; then
    services_log "A MongoDB-protocol server is already running on 127.0.0.1:27017"
    return 0
  fi
  local venv="$SERVICES_VENV" log="$SERVICES_VENV/secantusd.log"
  services_log "Starting SecantusDB on 127.0.0.1:27017 (in memory; log: $log)"
  nohup "$venv/bin/secantusd-py" --host 127.0.0.1 --port 27017 --storage-path :memory: \
    </dev/null >"$log" 2>&1 &
  services_wait_port 27017 SecantusDB "$log"
  services_log "SecantusDB is running on 127.0.0.1:27017"
}

# pip_install PACKAGE VERSION: into .venv-services/, unless that version is there already.
services_pip_install() {
  local start
  if "$SERVICES_VENV/bin/python" -m pip show "$1" 2>/dev/null | grep -qx "Version: $2"; then
    return 0
  fi
  services_log "Installing $1 $2 (PyPI) into .venv-services/"
  start=$(date +%s)
  [ -x "$SERVICES_VENV/bin/python" ] || python3 -m venv "$SERVICES_VENV"
  "$SERVICES_VENV/bin/pip" install --quiet --disable-pip-version-check "$1==$2"
  services_log "$1 installed in $(( $(date +%s) - start ))s"
}

ensure_python_tools() {
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    services_log "Installing python3-venv (apt)"
    services_apt_install python3-venv
  fi
  services_pip_install SecantusDB "$SECANTUS_VERSION"
  services_pip_install aiosmtpd "$AIOSMTPD_VERSION"
  services_pip_install openapi-spec-validator "$OPENAPI_VALIDATOR_VERSION"
  services_pip_install scim2-models "$SCIM_MODELS_VERSION"
  services_pip_install scim2-client "$SCIM_CLIENT_VERSION"
  services_pip_install httpx2 "$HTTPX2_VERSION"
  services_pip_install standardwebhooks "$STANDARD_WEBHOOKS_VERSION"
  services_pip_install cryptography "$CRYPTOGRAPHY_VERSION"
  services_pip_install pysaml2 "$PYSAML2_VERSION"
  if ! command -v xmlsec1 >/dev/null; then
    services_log "Installing xmlsec1 (apt), which pysaml2 runs to sign"
    services_apt_install xmlsec1
  fi
}

ensure_python_tools
ensure_postgres
ensure_redis
ensure_mongo
