#!/usr/bin/env bash
# Throughput benchmark of Tessera's hot endpoints against a ceiling measured in the same run
# (issue 13). See bench/README.md, or run with --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/run.sh [options]

Builds Tessera (profile production: release with link-time optimisation, as deployed) and
the ceiling server, starts Tessera on a fresh SQLite database (or PostgreSQL), registers a
user and three clients with the command line (four with the cc-dpop run), drives each
endpoint with wrk on 127.0.0.1, and prints a markdown table (also written to
bench/results/) with requests per second, latency, server CPU per request, memory, and the
ratio to the ceiling with the issue's targets.

Options:
  --postgres             Use PostgreSQL on 127.0.0.1:5432 (trust auth as postgres); a fresh
                         database owned by the role tessera_bench is made and dropped.
  --quick                2 s warm-up and 5 s measured runs (default: 5 s and 20 s).
  --warmup SECONDS       Warm-up run length.
  --duration SECONDS     Measured run length (sign-ins too).
  --threads N            wrk threads (default 2).
  --connections N        wrk connections (default 32).
  --signin-concurrency N Simulated browsers in the sign-in run (default 8).
  --mixed-concurrency N  Sign-ins running during the mixed run (default 50).
  --log-level FILTER     RUST_LOG of the server (default warn; e.g. info).
  --wait-quiet MINUTES   Before each run, wait (at most this long in all) until other
                         processes use under 15% of a core; for shared machines.
  --perf                 Record a CPU profile (perf) of the server during the
                         client-credentials run; the report goes to bench/results/.
  --perf-on ENDPOINT     Profile this run instead (one of the --only names but ceiling,
                         signin and mixed; implies --perf).
  --only LIST            Comma-separated subset of: ceiling,discovery,jwks,cc,cc-dpop,
                         introspect,userinfo,refresh,signin,mixed (the ceiling always runs).
                         cc-dpop is the client-credentials run with a fresh DPoP proof
                         (RFC 9449) in every request, made by bench/dpop-proofs.mjs just
                         before each wrk run; it needs --warmup and --duration of at most
                         40 s (the server accepts a proof for 60 s), and is left out of
                         the default list otherwise.
  -h, --help             This text.

Environment:
  TESSERA_BIN            Use this tessera binary instead of building one.
  CARGO_TARGET_DIR       Where cargo builds (default: $HOME/.cache/tessera-target).
  BENCH_RESULTS_DIR      Where results go (default: bench/results).
EOF
}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf '==> ERROR: %s\n' "$*" >&2; exit 1; }

BACKEND=sqlite
WARMUP=5
DURATION=20
THREADS=2
CONNECTIONS=32
SIGNIN_CONCURRENCY=8
MIXED_CONCURRENCY=50
LOG_LEVEL=warn
PERF=0
PERF_ON=cc
WAIT_QUIET=0
ONLY_GIVEN=0
ONLY="ceiling,discovery,jwks,cc,cc-dpop,introspect,userinfo,refresh,signin,mixed"

need_value() { if [ "$#" -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi; }
while [ "$#" -gt 0 ]; do
  case "$1" in
    --postgres) BACKEND=postgresql ;;
    --quick) WARMUP=2; DURATION=5 ;;
    --warmup) need_value "$@"; WARMUP="$2"; shift ;;
    --duration) need_value "$@"; DURATION="$2"; shift ;;
    --threads) need_value "$@"; THREADS="$2"; shift ;;
    --connections) need_value "$@"; CONNECTIONS="$2"; shift ;;
    --signin-concurrency) need_value "$@"; SIGNIN_CONCURRENCY="$2"; shift ;;
    --mixed-concurrency) need_value "$@"; MIXED_CONCURRENCY="$2"; shift ;;
    --log-level) need_value "$@"; LOG_LEVEL="$2"; shift ;;
    --perf) PERF=1 ;;
    --perf-on) need_value "$@"; PERF=1; PERF_ON="$2"; shift ;;
    --wait-quiet) need_value "$@"; WAIT_QUIET="$2"; shift ;;
    --only) need_value "$@"; ONLY="ceiling,$2"; ONLY_GIVEN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
if ! [[ "$WAIT_QUIET" =~ ^[0-9]+$ ]]; then die "--wait-quiet takes whole minutes"; fi
for n in "$WARMUP" "$DURATION" "$THREADS" "$CONNECTIONS" "$SIGNIN_CONCURRENCY" "$MIXED_CONCURRENCY"; do
  if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then die "expected a positive whole number, got '$n'"; fi
done
[ "$CONNECTIONS" -ge "$THREADS" ] || die "--connections must be at least --threads"
wanted() { [[ ",$ONLY," == *",$1,"* ]]; }
# The proofs of a wrk run are all made just before it, and the server takes each for 60 s
# after its iat only: the last ones of a longer run would be refused as too old.
# Left out of the default list then; asked for by --only, an error.
DPOP_MAX_RUN=40
if wanted cc-dpop && { [ "$WARMUP" -gt "$DPOP_MAX_RUN" ] || [ "$DURATION" -gt "$DPOP_MAX_RUN" ]; }; then
  [ "$ONLY_GIVEN" = 0 ] ||
    die "the cc-dpop run needs --warmup and --duration of at most $DPOP_MAX_RUN s (DPoP proofs expire after 60 s); leave it out of --only for longer runs"
  log "Leaving out the cc-dpop run: it needs --warmup and --duration of at most $DPOP_MAX_RUN s (DPoP proofs expire after 60 s)"
  ONLY=${ONLY/,cc-dpop,/,}
fi
case "$PERF_ON" in
  discovery|jwks|cc|cc-dpop|introspect|userinfo|refresh)
    if [ "$PERF" = 1 ] && ! wanted "$PERF_ON"; then die "--perf-on $PERF_ON: that run is not in --only"; fi ;;
  *) die "--perf-on takes one of discovery, jwks, cc, cc-dpop, introspect, userinfo, refresh" ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-$BENCH/results}"
START_TIME=$(date +%s)

# ---------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------
command -v curl >/dev/null || die "curl is needed"
command -v node >/dev/null || die "Node.js 20 or newer is needed (for bench/signin.mjs)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js 20 or newer is needed, found $(node --version)"
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    log "Updating the package lists (apt-get update)"
    DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >/dev/null
    apt_updated=1
  fi
  log "Installing $* (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" </dev/null >/dev/null
}
command -v wrk >/dev/null || apt_install wrk
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null; then apt_install linux-perf; fi
if [ "$BACKEND" = postgresql ]; then
  command -v psql >/dev/null || die "psql is needed for --postgres (apt-get install postgresql-client)"
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null ||
    psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1 ||
    die "no PostgreSQL answers on 127.0.0.1:5432 as postgres (scripts/services.sh starts one)"
fi

# ---------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------
cd "$ROOT"
if [ -n "${TESSERA_BIN:-}" ]; then
  [ -x "$TESSERA_BIN" ] || die "TESSERA_BIN=$TESSERA_BIN is not an executable file"
  TESSERA="$(cd "$(dirname "$TESSERA_BIN")" && pwd)/$(basename "$TESSERA_BIN")"
  log "Using the given binary $TESSERA (TESSERA_BIN; not building)"
else
  # What scripts/build.sh --server-only --production runs, without its check of the
  # browser-build tools.
  log "Building Tessera (profile production, features ssr) into $CARGO_TARGET_DIR"
  step=$(date +%s)
  cargo build --profile production --features ssr --bin tessera
  TESSERA="$CARGO_TARGET_DIR/production/tessera"
  log "Tessera built in $(( $(date +%s) - step ))s"
fi
log "Building the ceiling server (bench/ceiling)"
cargo build --release --locked --quiet --manifest-path "$BENCH/ceiling/Cargo.toml" \
  --target-dir "$CARGO_TARGET_DIR/bench-ceiling"
CEILING="$CARGO_TARGET_DIR/bench-ceiling/release/ceiling"

# ---------------------------------------------------------------------------------------
# Scratch space and clean-up
# ---------------------------------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench.XXXXXX")"
SERVER_PID=""
CEILING_PID=""
DRIVER_PID=""
PERF_PID=""
PG_DB=""
REPORTED=0
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$status" != 0 ] && [ "$REPORTED" = 0 ] && [ -s "$TMP/server.log" ]; then
    mkdir -p "$RESULTS_DIR"
    local kept
    kept="$RESULTS_DIR/failed-$(date -u +%Y%m%d-%H%M%S)-server.log"
    cp "$TMP/server.log" "$kept"
    if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "The server had stopped; its last lines:"
      tail -15 "$TMP/server.log" >&2
    fi
    log "The server's log is kept in $kept"
  fi
  for pid in "$PERF_PID" "$DRIVER_PID" "$CEILING_PID" "$SERVER_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "$PG_DB" ]; then
    log "Dropping the database $PG_DB"
    timeout 60 psql -q -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
      log "WARNING: could not drop the database $PG_DB"
  fi
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

server_alive() {
  if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
    local code=0
    wait "$SERVER_PID" 2>/dev/null || code=$?
    die "the server stopped unexpectedly (exit status $code)"
  fi
}

# utime + stime of a process (all its threads), in clock ticks.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {
  local stat fields
  stat=$(cat "/proc/$1/stat")
  read -r -a fields <<<"${stat##*) }"
  echo $(( fields[11] + fields[12] ))
}
# A line of /proc/PID/status in MiB (VmRSS, VmHWM).
mem_mib() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
# Busy time of the whole machine (every core, steal included), in clock ticks.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# CPU time of the PostgreSQL server's processes, in clock ticks (0 on SQLite): with --postgres
# the database is part of the system under test, not other load.
db_ticks() {
  [ "$BACKEND" = postgresql ] || { echo 0; return; }
  local total=0 pid stat fields
  for pid in $(pgrep -x postgres); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    stat=${stat##*) }
    read -r -a fields <<<"$stat"
    total=$(( total + fields[11] + fields[12] ))
  done
  echo "$total"
}
# CHILD_MS: CPU time of this script's finished children (wrk, node, curl), in ms. Not to be
# called in $(…): `times` must run in this shell, a subshell reports its own (empty) figures.
read_children_ms() {
  times >"$TMP/times"
  CHILD_MS=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
                 printf "%.0f", t * 1000 }' "$TMP/times")
}
now_ms() { date +%s%3N; }
# snap_begin PID ... snap_end: the CPU time PID used in between (SNAP_MS, in ms), and how much
# of a core everything else on the machine used meanwhile, besides this script's load
# generators (SNAP_OTHER, percent of one core): other work skews the results.
snap_begin() {
  S_PID=$1
  read_children_ms
  S_CHILD=$CHILD_MS; S_PROC=$(cpu_ticks "$1"); S_DB=$(db_ticks); S_MACHINE=$(machine_ticks); S_T=$(now_ms)
}
snap_end() {
  local proc db machine child t
  proc=$(cpu_ticks "$S_PID"); db=$(db_ticks); machine=$(machine_ticks); t=$(now_ms)
  read_children_ms
  child=$CHILD_MS
  SNAP_MS=$(( (proc - S_PROC) * 1000 / CLK_TCK ))
  SNAP_DB_MS=$(( (db - S_DB) * 1000 / CLK_TCK ))
  SNAP_OTHER=$(awk -v m=$(( (machine - S_MACHINE) * 1000 / CLK_TCK - SNAP_DB_MS )) -v p="$SNAP_MS" -v c=$(( child - S_CHILD )) \
    -v t=$(( t - S_T )) 'BEGIN { o = (m - p - c) / t * 100; printf "%.0f", o < 0 ? 0 : o }')
}
OTHER_LIMIT=15
# With --wait-quiet: waits until the machine besides the server is quiet for 3 s (at most
# WAIT_QUIET minutes over the whole run, then goes on regardless).
QUIET_DEADLINE=""
wait_quiet() {
  [ "$WAIT_QUIET" -gt 0 ] || return 0
  [ -n "$QUIET_DEADLINE" ] || QUIET_DEADLINE=$(( $(date +%s) + WAIT_QUIET * 60 ))
  local m0 p0 busy said=0
  while :; do
    server_alive
    m0=$(machine_ticks); p0=$(cpu_ticks "$SERVER_PID")
    sleep 3
    busy=$(( ( $(machine_ticks) - m0 - $(cpu_ticks "$SERVER_PID") + p0 ) * 100 / CLK_TCK / 3 ))
    [ "$busy" -gt "$OTHER_LIMIT" ] || return 0
    if [ "$(date +%s)" -ge "$QUIET_DEADLINE" ]; then
      log "The machine is still busy (${busy}% of a core); going on (--wait-quiet $WAIT_QUIET used up)"
      return 0
    fi
    [ "$said" = 1 ] || log "Waiting for the machine to be quiet (other processes: ${busy}% of a core)"
    said=1
  done
}

# ---------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------
busy_start=$(machine_ticks)
sleep 2
BUSY_BEFORE=$(( ( $(machine_ticks) - busy_start ) * 100 / CLK_TCK / 2 ))
if [ "$BUSY_BEFORE" -gt "$OTHER_LIMIT" ]; then
  log "WARNING: the machine is not quiet: ${BUSY_BEFORE}% of a core busy before the run; the results will be low"
else
  log "The machine is quiet (${BUSY_BEFORE}% of a core busy)"
fi

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
ISSUER="$BASE/t/default"
ENC_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
SITE_ROOT="$CARGO_TARGET_DIR/site"
[ -d "$SITE_ROOT" ] || { SITE_ROOT="$TMP/site"; mkdir -p "$SITE_ROOT/pkg"; }
mkdir -p "$TMP/mail"
server_env=(
  "TESSERA_ENCRYPTION_KEY=$ENC_KEY"
  "TESSERA_LISTEN=127.0.0.1:$PORT"
  "TESSERA_PUBLIC_URL=$BASE"
  "TESSERA_ADMIN_EMAIL=admin@bench.invalid"
  "MAIL_DEV_DIR=$TMP/mail"
  "LEPTOS_SITE_ROOT=$SITE_ROOT"
)
if [ "$BACKEND" = postgresql ]; then
  PG_ROLE=tessera_bench
  PG_DB="tessera_bench_$$"
  log "Creating the PostgreSQL database $PG_DB owned by the role $PG_ROLE"
  psql -q -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<EOF
DO \$\$ BEGIN
  CREATE ROLE $PG_ROLE LOGIN NOSUPERUSER NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END \$\$;
CREATE DATABASE "$PG_DB" OWNER $PG_ROLE;
EOF
  server_env+=("STORAGE_ADAPTER=postgresql"
    "STORAGE_POSTGRESQL_URL=postgresql://$PG_ROLE@127.0.0.1:5432/$PG_DB")
else
  server_env+=("STORAGE_SQLITE_PATH=$TMP/data/tessera.db")
fi
tessera_cli() { env "${server_env[@]}" RUST_LOG=warn timeout 60 "$TESSERA" "$@"; }

log "Starting Tessera ($BACKEND, RUST_LOG=$LOG_LEVEL) on $BASE"
env "${server_env[@]}" RUST_LOG="$LOG_LEVEL" "$TESSERA" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
ready=0
for _ in $(seq 1 120); do
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$TMP/server.log" >&2; die "the server stopped during start-up"; }
  if curl -fs -o /dev/null --max-time 2 "$BASE/readyz"; then ready=1; break; fi
  sleep 0.5
done
[ "$ready" = 1 ] || { tail -20 "$TMP/server.log" >&2; die "the server was not ready within 60 s"; }
sleep 1
RSS_IDLE=$(mem_mib "$SERVER_PID" VmRSS)
log "Ready; idle RSS ${RSS_IDLE} MiB"

# ---------------------------------------------------------------------------------------
# Seeding: a user, a web app, a service and an API (the resource), by the command line
# ---------------------------------------------------------------------------------------
RESOURCE="https://api.bench.invalid/"
REDIRECT_URI="http://127.0.0.1:9/callback"
EMAIL="bench@example.com"
PASSWORD="bench-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
secret_of() { awk '/^client_secret: / { print $2 }' "$1"; }

log "Registering the user $EMAIL and the clients bench-web, bench-service and bench-api"
printf '%s\n' "$PASSWORD" | tessera_cli user create --tenant default --email "$EMAIL" \
  --name "Bench User" --password-stdin >"$TMP/user.out"
tessera_cli client create --tenant default --client-id bench-web --name "Bench Web" \
  --redirect-uri "$REDIRECT_URI" --grant authorization_code --grant refresh_token \
  --scope openid --scope profile --scope email --scope offline_access >"$TMP/web.out"
tessera_cli client create --tenant default --client-id bench-service --name "Bench Service" \
  --grant client_credentials --scope bench:read --resource "$RESOURCE" >"$TMP/service.out"
tessera_cli client create --tenant default --client-id bench-api --name "Bench API" \
  --grant client_credentials --resource "$RESOURCE" >"$TMP/api.out"
WEB_SECRET=$(secret_of "$TMP/web.out")
SERVICE_SECRET=$(secret_of "$TMP/service.out")
API_SECRET=$(secret_of "$TMP/api.out")
if [ -z "$WEB_SECRET" ] || [ -z "$SERVICE_SECRET" ] || [ -z "$API_SECRET" ]; then
  die "a client secret was not printed by 'tessera client create'"
fi
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }
SERVICE_BASIC=$(basic bench-service "$SERVICE_SECRET")
API_BASIC=$(basic bench-api "$API_SECRET")
WEB_BASIC=$(basic bench-web "$WEB_SECRET")
# The cc-dpop run's service: like bench-service, but it must send a DPoP proof with every
# token request, so a request without one (or with a bad one) is refused, not answered with
# a Bearer token, and shows among the non-2xx answers.
if wanted cc-dpop; then
  log "Registering the client bench-dpop (client credentials, --require-dpop)"
  tessera_cli client create --tenant default --client-id bench-dpop --name "Bench DPoP Service" \
    --grant client_credentials --scope bench:read --resource "$RESOURCE" --require-dpop \
    >"$TMP/dpop.out" 2>&1 ||
    die "could not register bench-dpop with --require-dpop (does this tessera support DPoP?): $(tail -3 "$TMP/dpop.out")"
  DPOP_SECRET=$(secret_of "$TMP/dpop.out")
  [ -n "$DPOP_SECRET" ] || die "a client secret was not printed by 'tessera client create' for bench-dpop"
  DPOP_BASIC=$(basic bench-dpop "$DPOP_SECRET")
fi

export BENCH_CLIENT_SECRET="$WEB_SECRET" BENCH_PASSWORD="$PASSWORD"
driver=(node "$BENCH/signin.mjs" --base "$BASE" --tenant default --client-id bench-web
  --redirect-uri "$REDIRECT_URI" --email "$EMAIL")

log "Checking that the login page renders"
login_status=$(curl -sS -o "$TMP/login.html" -w '%{http_code}' --max-time 10 -L -H 'Accept: text/html' \
  "$ISSUER/authorize?response_type=code&client_id=bench-web&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s")
grep -q 'name="email"' "$TMP/login.html" || die "the login page did not render (HTTP $login_status)"

log "Signing in once through the pages, granting consent"
timeout 120 "${driver[@]}" --tokens 1 --out "$TMP/first.tsv"


# ---------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------
declare -A RPS P50 P99 CPU DB_CPU RSS HWM BAD LABEL OTHER
ORDER=()
FLAGS=()
RAW="$TMP/raw.log"
: >"$RAW"
export BENCH_WRK_DIR="$BENCH/wrk" BENCH_THREADS="$THREADS"

# wrk_once SECONDS URL SCRIPT OUTFILE [VAR=VALUE...]: one wrk run; the variables are for the script.
wrk_once() {
  local seconds=$1 url=$2 script=$3 out=$4
  shift 4
  env "$@" timeout $(( seconds + 60 )) wrk -t "$THREADS" -c "$CONNECTIONS" -d "${seconds}s" \
    --timeout 10s --latency -s "$BENCH/wrk/$script" "$url" >"$out" 2>&1 ||
    { cat "$out" >&2; server_alive; die "wrk failed on $url"; }
}

field() { sed -n "s/.*[ ]$1=\\([0-9]*\\).*/\\1/p" "$2" | head -1; }

# measure KEY LABEL PID URL SCRIPT [VAR=VALUE...]: a warm-up run, then a measured one, with
# the server's CPU time read around the measured one. The refresh run takes new token
# families for each run. With --wait-quiet, a run that other processes disturbed is done
# again (up to 3 times, within the waiting time).
measure() {
  local key=$1 label=$2 pid=$3 url=$4 script=$5
  shift 5
  local try=1
  while :; do
    wait_quiet
    if [ "$key" = refresh ]; then fresh_refresh_tokens; fi
    if [ "$key" = cc-dpop ]; then dpop_proofs warmup "$WARMUP"; fi
    log "Measuring $label: ${WARMUP}s warm-up, ${DURATION}s measured ($THREADS threads, $CONNECTIONS connections)"
    wrk_once "$WARMUP" "$url" "$script" "$TMP/$key.warmup.txt" "$@" BENCH_TOKENS="$TMP/refresh-warmup.tsv" \
      BENCH_PROOFS="$TMP/dpop-warmup.txt"
    # The measured run's proofs are made after the warm-up (so they are fresh), before the
    # server's CPU time is read (so making them does not count).
    if [ "$key" = cc-dpop ]; then dpop_proofs measured "$DURATION"; fi
    snap_begin "$pid"
    if [ "$key" = "$PERF_ON" ] && [ "$PERF" = 1 ]; then
      perf record -q -F 499 -g -p "$pid" -o "$TMP/perf.data" -- sleep "$DURATION" >"$TMP/perf.log" 2>&1 &
      PERF_PID=$!
    fi
    wrk_once "$DURATION" "$url" "$script" "$TMP/$key.txt" "$@" BENCH_TOKENS="$TMP/refresh-measured.tsv" \
      BENCH_PROOFS="$TMP/dpop-measured.txt"
    if [ -n "$PERF_PID" ]; then
      # (perf stops with its `sleep`, as wrk does; waited for first so its CPU counts as ours)
      wait "$PERF_PID" || log "WARNING: perf record failed: $(tail -3 "$TMP/perf.log")"
      PERF_PID=""
    fi
    snap_end
    retry_disturbed "$try" || break
    try=$((try + 1))
  done
  record "$key" "$label" "$pid" "$TMP/$key.txt"
}

# retry_disturbed TRY: whether to do a disturbed run again (with --wait-quiet, time left).
retry_disturbed() {
  [ "$SNAP_OTHER" -gt "$OTHER_LIMIT" ] && [ "$WAIT_QUIET" -gt 0 ] && [ "$1" -lt 3 ] &&
    [ "$(date +%s)" -lt "${QUIET_DEADLINE:-0}" ] || return 1
  log "Other processes used ${SNAP_OTHER}% of a core during the run; once more"
}

# Refresh tokens rotate: every one is used once. New families for the warm-up and for the
# measured run, twice as many as connections each (a run loses one per connection at most).
REFRESH_SEED=$(( CONNECTIONS * 2 > 64 ? CONNECTIONS * 2 : 64 ))
fresh_refresh_tokens() {
  log "Getting $((REFRESH_SEED * 2)) refresh tokens (one password sign-in, then authorizations in that session)"
  timeout 300 "${driver[@]}" --tokens "$REFRESH_SEED" --out "$TMP/refresh-warmup.tsv"
  timeout 300 "${driver[@]}" --tokens "$REFRESH_SEED" --out "$TMP/refresh-measured.tsv"
}

# DPoP proofs (RFC 9449) for the cc-dpop run: each is taken once and for 60 s after its iat,
# so every wrk run gets its own file, made just before it by bench/dpop-proofs.mjs (wrk's
# Lua cannot sign ES256), all signed by one key. How many: twice the requests per second
# already seen on the token endpoint (the client-credentials run's before the warm-up, the
# warm-up's before the measured run; 6000 at least) for each second of the run. A thread
# that runs out sends an invalid proof (a non-2xx answer, counted as "dry"), never a spent one.
DPOP_KEY="$TMP/dpop-key.pem"
DPOP_MIN_RATE=6000
# dpop_proofs PHASE SECONDS: writes $TMP/dpop-PHASE.txt for a run of SECONDS.
dpop_proofs() {
  local phase=$1 seconds=$2 seen="" rate count took
  if [ "$phase" = measured ] && [ -s "$TMP/cc-dpop.warmup.txt" ]; then
    local dry
    dry=$(field dry "$TMP/cc-dpop.warmup.txt")
    [ "${dry:-0}" -eq 0 ] || log "The warm-up ran out of DPoP proofs ($dry requests without one); making more"
    seen=$(awk -v r="$(field requests "$TMP/cc-dpop.warmup.txt")" -v d="$(field duration_us "$TMP/cc-dpop.warmup.txt")" \
      'BEGIN { if (r > 0 && d > 0) printf "%.0f", r / (d / 1e6) }')
  elif [ -n "${RPS[cc]:-}" ]; then
    seen=${RPS[cc]}
  fi
  rate=$(( ${seen:-0} * 2 > DPOP_MIN_RATE ? ${seen:-0} * 2 : DPOP_MIN_RATE ))
  count=$(( rate * seconds + CONNECTIONS * 4 ))
  log "Making $count DPoP proofs for the ${seconds}s $phase run ($rate per second)"
  rm -f "$TMP/dpop-warmup.txt" "$TMP/dpop-measured.txt"
  timeout 120 node "$BENCH/dpop-proofs.mjs" --key "$DPOP_KEY" --htu "$ISSUER/token" --count "$count" \
    --out "$TMP/dpop-$phase.txt" 2>"$TMP/dpop-$phase.json" ||
    die "bench/dpop-proofs.mjs failed: $(tail -3 "$TMP/dpop-$phase.json")"
  took=$(json_field "$(tail -1 "$TMP/dpop-$phase.json")" seconds)
  log "Made them in ${took}s ($(json_field "$(tail -1 "$TMP/dpop-$phase.json")" per_second) per second)"
  # The first proof is as old as the making when the run starts; the last sent, the making
  # plus the run at most. 5 s to spare for wrk's start and whole-second iats.
  if awk -v t="$took" -v s="$seconds" 'BEGIN { exit !(t + s + 5 > 60) }'; then
    die "making the DPoP proofs took ${took}s: with the ${seconds}s run, the last ones would be older than the 60 s the server accepts; use a shorter --duration (or --quick)"
  fi
}

# The busy-machine check after each measured run (SNAP_OTHER from snap_end).
check_other() {
  OTHER[$1]=$SNAP_OTHER
  if [ "$SNAP_OTHER" -gt "$OTHER_LIMIT" ]; then
    FLAGS+=("$2: other processes used ${SNAP_OTHER}% of a core during the run (machine not quiet)")
    log "WARNING: other processes used ${SNAP_OTHER}% of a core during the run; the figures are low"
  fi
}

# record KEY LABEL PID WRK_OUTPUT, after snap_end
record() {
  local key=$1 label=$2 pid=$3 out=$4
  {
    printf '\n### %s (server CPU %s ms; other processes %s%% of a core)\n\n' "$label" "$SNAP_MS" "$SNAP_OTHER"
    cat "$out"
  } >>"$RAW"
  local requests duration p50 p99 non2xx errors dry dry_note=""
  requests=$(field requests "$out")
  duration=$(field duration_us "$out")
  p50=$(field p50_us "$out")
  p99=$(field p99_us "$out")
  if [ -z "$requests" ] || [ "$requests" -eq 0 ]; then die "no requests completed for $label: $(tail -5 "$out")"; fi
  non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$out" | head -1)
  non2xx=${non2xx:-0}
  errors=$(( $(field connect_errors "$out") + $(field read_errors "$out") + $(field write_errors "$out") + $(field timeouts "$out") ))
  dry=$(field dry "$out")
  if [ "${dry:-0}" -gt 0 ]; then
    if [ "$key" = cc-dpop ]; then dry_note=", DPoP proofs ran out $dry times"; else dry_note=", refresh queue dry $dry"; fi
  fi
  LABEL[$key]=$label
  RPS[$key]=$(awk -v r="$requests" -v d="$duration" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
  P50[$key]=$(awk -v u="$p50" 'BEGIN { printf "%.2f", u / 1000 }')
  P99[$key]=$(awk -v u="$p99" 'BEGIN { printf "%.2f", u / 1000 }')
  CPU[$key]=$(awk -v t="$SNAP_MS" -v r="$requests" 'BEGIN { printf "%.3f", t / r }')
  check_other "$key" "$label"
  if [ "$pid" = "$SERVER_PID" ]; then
    RSS[$key]=$(mem_mib "$pid" VmRSS)
    HWM[$key]=$(mem_mib "$pid" VmHWM)
  else
    RSS[$key]="–"
    HWM[$key]="–"
  fi
  BAD[$key]=""
  if [ "$non2xx" -gt 0 ] || [ "$errors" -gt 0 ] || [ "${dry:-0}" -gt 0 ]; then
    BAD[$key]="non-2xx $non2xx, socket errors $errors$dry_note"
    FLAGS+=("$label: ${BAD[$key]}")
    log "WARNING: $label: ${BAD[$key]}"
  fi
  ORDER+=("$key")
  log "$label: ${RPS[$key]} req/s, p50 ${P50[$key]} ms, p99 ${P99[$key]} ms, ${CPU[$key]} CPU ms/request"
  if [ "$BACKEND" = postgresql ]; then
    DB_CPU[$key]=$(awk -v t="$SNAP_DB_MS" -v r="$requests" 'BEGIN { printf "%.3f", t / r }')
    log "$label: PostgreSQL used ${DB_CPU[$key]} CPU ms/request besides"
  fi
}

json_field() { node -e 'const o=JSON.parse(process.argv[1]); const v=o[process.argv[2]]; console.log(typeof v==="object"?JSON.stringify(v):v)' "$1" "$2"; }

# The ceiling: the same wrk against the minimal axum server.
CEILING_PORT=$(free_port)
"$CEILING" "127.0.0.1:$CEILING_PORT" >"$TMP/ceiling.log" 2>&1 &
CEILING_PID=$!
for _ in $(seq 1 50); do
  curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$CEILING_PORT/" && break
  sleep 0.1
done
measure ceiling "ceiling (GET / on bench/ceiling)" "$CEILING_PID" "http://127.0.0.1:$CEILING_PORT/" static.lua
kill -TERM "$CEILING_PID" 2>/dev/null || true
wait "$CEILING_PID" 2>/dev/null || true
CEILING_PID=""

if wanted discovery; then
  measure discovery "discovery" "$SERVER_PID" "$ISSUER/.well-known/openid-configuration" static.lua
fi
if wanted jwks; then
  measure jwks "JWKS" "$SERVER_PID" "$ISSUER/jwks" static.lua
fi

CC_BODY="grant_type=client_credentials&scope=bench%3Aread&resource=$(node -p 'encodeURIComponent(process.argv[1])' "$RESOURCE")"
check_cc() {
  curl -fsS --max-time 10 -H "Authorization: $SERVICE_BASIC" -d "$CC_BODY" "$ISSUER/token" >"$TMP/cc.json" ||
    die "the client-credentials grant failed: $(cat "$TMP/cc.json" 2>/dev/null)"
}
if wanted cc || wanted mixed; then
  check_cc
fi
if wanted cc; then
  measure cc "client credentials (POST /token)" "$SERVER_PID" "$ISSUER/token" static.lua \
    BENCH_METHOD=POST BENCH_BODY="$CC_BODY" BENCH_AUTHORIZATION="$SERVICE_BASIC"
fi

# The same grant with a DPoP proof: what checking the proof's signature and storing its jti
# (the replay marker) add to a token request. Once before measuring, with curl: the answer
# must be a DPoP-bound token, or the figures would be of something else.
check_cc_dpop() {
  local proof status token_type
  proof=$(timeout 60 node "$BENCH/dpop-proofs.mjs" --key "$DPOP_KEY" --htu "$ISSUER/token" --count 1 \
    --out - 2>"$TMP/dpop-check.json") || die "bench/dpop-proofs.mjs failed: $(tail -3 "$TMP/dpop-check.json")"
  status=$(curl -sS -o "$TMP/cc-dpop.json" -w '%{http_code}' --max-time 10 -H "Authorization: $DPOP_BASIC" \
    -H "DPoP: $proof" -d "$CC_BODY" "$ISSUER/token") || die "the client-credentials grant with a DPoP proof failed"
  [ "$status" = 200 ] ||
    die "the client-credentials grant with a DPoP proof was refused (HTTP $status): $(cat "$TMP/cc-dpop.json")"
  token_type=$(json_field "$(cat "$TMP/cc-dpop.json")" token_type)
  [ "$token_type" = DPoP ] ||
    die "the client-credentials grant with a DPoP proof gave token_type '$token_type', not DPoP: $(cat "$TMP/cc-dpop.json")"
}
if wanted cc-dpop; then
  check_cc_dpop
  measure cc-dpop "client credentials with DPoP (POST /token)" "$SERVER_PID" "$ISSUER/token" dpop.lua \
    BENCH_BODY="$CC_BODY" BENCH_AUTHORIZATION="$DPOP_BASIC"
fi

if wanted introspect; then
  check_cc
  API_TOKEN=$(json_field "$(cat "$TMP/cc.json")" access_token)
  introspect_active() {
    curl -fsS --max-time 10 -H "Authorization: $API_BASIC" --data-urlencode "token=$API_TOKEN" \
      "$ISSUER/introspect" | grep -q '"active":true'
  }
  introspect_active || die "introspection of a fresh access token did not say active"
  measure introspect "introspection (POST /introspect)" "$SERVER_PID" "$ISSUER/introspect" static.lua \
    BENCH_METHOD=POST BENCH_BODY="token=$API_TOKEN" BENCH_AUTHORIZATION="$API_BASIC"
  introspect_active || FLAGS+=("introspection: the token was no longer active after the run")
fi

if wanted userinfo; then
  # A fresh access token (they live 10 minutes by default), from a sign-in in a new session.
  timeout 120 "${driver[@]}" --tokens 1 --out "$TMP/userinfo.tsv"
  USER_TOKEN=$(cut -f2 "$TMP/userinfo.tsv" | head -1)
  userinfo_ok() { curl -fsS -o /dev/null --max-time 10 -H "Authorization: Bearer $USER_TOKEN" "$ISSUER/userinfo"; }
  userinfo_ok || die "userinfo refused a fresh access token"
  measure userinfo "userinfo (GET /userinfo)" "$SERVER_PID" "$ISSUER/userinfo" static.lua \
    BENCH_AUTHORIZATION="Bearer $USER_TOKEN"
  userinfo_ok || FLAGS+=("userinfo: the access token was refused after the run")
fi

if wanted refresh; then
  measure refresh "refresh-token grant (POST /token)" "$SERVER_PID" "$ISSUER/token" refresh.lua \
    BENCH_AUTHORIZATION="$WEB_BASIC"
fi

# signin_result KEY LABEL JSON, after snap_end: the sign-in driver's figures.
signin_result() {
  local key=$1 label=$2 json=$3
  printf '\n### %s (server CPU %s ms; other processes %s%% of a core)\n\n%s\n' "$label" "$SNAP_MS" "$SNAP_OTHER" "$json" >>"$RAW"
  local n errors consents
  n=$(json_field "$json" signins)
  errors=$(json_field "$json" errors)
  consents=$(json_field "$json" consents)
  [ "$n" -gt 0 ] || die "no sign-in completed: $json"
  LABEL[$key]=$label
  RPS[$key]=$(json_field "$json" per_second)
  P50[$key]=$(json_field "$json" p50_ms)
  P99[$key]=$(json_field "$json" p99_ms)
  CPU[$key]=$(awk -v t="$SNAP_MS" -v r="$n" 'BEGIN { printf "%.1f", t / r }')
  check_other "$key" "$label"
  RSS[$key]=$(mem_mib "$SERVER_PID" VmRSS)
  HWM[$key]=$(mem_mib "$SERVER_PID" VmHWM)
  BAD[$key]=""
  if [ "$errors" -gt 0 ] || [ "$consents" -gt 0 ]; then
    BAD[$key]="failed sign-ins $errors $(json_field "$json" error_kinds), consent asked $consents times"
    FLAGS+=("$label: ${BAD[$key]}")
    log "WARNING: $label: ${BAD[$key]}"
  fi
  ORDER+=("$key")
  log "$label: ${RPS[$key]} sign-ins/s, p50 ${P50[$key]} ms, p99 ${P99[$key]} ms, ${CPU[$key]} CPU ms/sign-in"
}

if wanted signin; then
  try=1
  while :; do
    wait_quiet
    log "Measuring whole sign-ins: ${WARMUP}s warm-up, ${DURATION}s measured ($SIGNIN_CONCURRENCY browsers)"
    timeout $(( WARMUP + 120 )) "${driver[@]}" --concurrency "$SIGNIN_CONCURRENCY" --seconds "$WARMUP" >/dev/null
    snap_begin "$SERVER_PID"
    json=$(timeout $(( DURATION + 120 )) "${driver[@]}" --concurrency "$SIGNIN_CONCURRENCY" --seconds "$DURATION")
    snap_end
    retry_disturbed "$try" || break
    try=$((try + 1))
  done
  signin_result signin "whole sign-ins ($SIGNIN_CONCURRENCY browsers)" "$json"
fi

if wanted mixed && wanted cc; then
  try=1
  while :; do
    wait_quiet
    log "Measuring client credentials while $MIXED_CONCURRENCY browsers sign in ($DURATION s)"
    # The sign-ins start 2 s before wrk and end 2 s after it. The server's CPU is read around
    # wrk; the other processes' load over the whole, once the driver has ended.
    snap_begin "$SERVER_PID"
    timeout $(( DURATION + 180 )) "${driver[@]}" --concurrency "$MIXED_CONCURRENCY" \
      --seconds $(( DURATION + 4 )) >"$TMP/mixed-signin.json" &
    DRIVER_PID=$!
    sleep 2
    mixed_before=$(cpu_ticks "$SERVER_PID")
    wrk_once "$DURATION" "$ISSUER/token" static.lua "$TMP/mixed.txt" \
      BENCH_METHOD=POST BENCH_BODY="$CC_BODY" BENCH_AUTHORIZATION="$SERVICE_BASIC"
    mixed_after=$(cpu_ticks "$SERVER_PID")
    wait "$DRIVER_PID" || die "the sign-in driver failed during the mixed run"
    DRIVER_PID=""
    snap_end
    retry_disturbed "$try" || break
    try=$((try + 1))
  done
  SNAP_MS=$(( (mixed_after - mixed_before) * 1000 / CLK_TCK ))
  record mixed "client credentials during $MIXED_CONCURRENCY sign-ins" "$SERVER_PID" "$TMP/mixed.txt"
  mixed_json=$(cat "$TMP/mixed-signin.json")
  printf '\n### sign-ins during the mixed run\n\n%s\n' "$mixed_json" >>"$RAW"
  MIXED_SIGNINS=$(json_field "$mixed_json" per_second)
  MIXED_SIGNIN_ERRORS=$(json_field "$mixed_json" errors)
  if [ "$MIXED_SIGNIN_ERRORS" -gt 0 ]; then
    FLAGS+=("sign-ins during the mixed run: $MIXED_SIGNIN_ERRORS failed $(json_field "$mixed_json" error_kinds)")
  fi
fi

RSS_PEAK=$(mem_mib "$SERVER_PID" VmHWM)
RSS_END=$(mem_mib "$SERVER_PID" VmRSS)
kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the run"

# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then COMMIT_LABEL="$COMMIT dirty"; COMMIT_FILE="$COMMIT-dirty"; else COMMIT_LABEL=$COMMIT; COMMIT_FILE=$COMMIT; fi
STAMP=$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS_DIR"
REPORT="$RESULTS_DIR/$STAMP-$COMMIT_FILE-$BACKEND.md"
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

target_of() {
  case "$1" in
    cc) if [ "$BACKEND" = postgresql ]; then echo 0.10; else echo 0.25; fi ;;
    introspect) echo 0.25 ;;
    userinfo) echo 0.30 ;;
    refresh) echo 0.15 ;;
    discovery|jwks) echo 0.80 ;;
    *) echo "" ;;
  esac
}
mark() { if awk -v a="$1" -v b="$2" "BEGIN { exit !(a $3 b) }"; then echo pass; else echo "**FAIL**"; fi; }
failures=0
ceiling_rps=${RPS[ceiling]}
{
  printf '# Tessera throughput benchmark\n\n'
  printf -- '- date: %s UTC; commit %s; backend %s; RUST_LOG=%s\n' "$(date -u '+%Y-%m-%d %H:%M')" "$COMMIT_LABEL" "$BACKEND" "$LOG_LEVEL"
  printf -- '- binary: %s (%s)%s\n' "$TESSERA" "$("$TESSERA" --version 2>/dev/null || echo '?')" \
    "${TESSERA_BIN:+; given by TESSERA_BIN, so not necessarily built from that commit}"
  printf -- '- machine: %s cores, %s; %s\n' "$(nproc)" "$CPU_MODEL" "$(uname -r)"
  printf -- '- load: wrk %s threads, %s connections, %s s warm-up + %s s measured, on loopback; sign-ins: %s browsers (node bench/signin.mjs)\n' \
    "$THREADS" "$CONNECTIONS" "$WARMUP" "$DURATION" "$SIGNIN_CONCURRENCY"
  [ "$PERF" = 1 ] && printf -- '- perf was recording (499 Hz) during the %s run\n' "$PERF_ON"
  printf -- '- before the run, other processes kept %s%% of a core busy\n' "$BUSY_BEFORE"
  printf '\n| endpoint | req/s | p50 ms | p99 ms | server CPU ms/req | RSS MiB | peak MiB | other load | ÷ ceiling | target | |\n'
  printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
  for key in "${ORDER[@]}"; do
    ratio="–"; target=""; verdict=""
    case "$key" in
      signin) ;;
      ceiling) ratio="1.00" ;;
      *) ratio=$(awk -v a="${RPS[$key]}" -v b="$ceiling_rps" 'BEGIN { printf "%.3f", a / b }') ;;
    esac
    target=$(target_of "$key")
    if [ -n "$target" ]; then
      verdict=$(mark "$ratio" "$target" '>=')
      [ "$verdict" = pass ] || failures=$((failures + 1))
      target="≥ $target"
    fi
    [ -n "${BAD[$key]}" ] && verdict="$verdict ⚠ ${BAD[$key]}"
    unit=""; [ "$key" = signin ] && unit=" sign-ins/s"
    printf '| %s | %s%s | %s | %s | %s | %s | %s | %s%% | %s | %s | %s |\n' "${LABEL[$key]}" "${RPS[$key]}" "$unit" \
      "${P50[$key]}" "${P99[$key]}" "${CPU[$key]}" "${RSS[$key]}" "${HWM[$key]}" "${OTHER[$key]}" "$ratio" "$target" "$verdict"
  done
  printf '\n| check | measured | target | |\n|---|---|---|---|\n'
  v=$(mark "$RSS_IDLE" 30 '<='); [ "$v" = pass ] || failures=$((failures + 1))
  printf '| idle RSS (VmRSS after start-up) | %s MiB | ≤ 30 MiB | %s |\n' "$RSS_IDLE" "$v"
  v=$(mark "$RSS_PEAK" 80 '<='); [ "$v" = pass ] || failures=$((failures + 1))
  printf '| peak RSS (VmHWM at the end; %s MiB resident then) | %s MiB | ≤ 80 MiB | %s |\n' "$RSS_END" "$RSS_PEAK" "$v"
  if [ -n "${RPS[mixed]:-}" ] && [ -n "${P99[cc]:-}" ]; then
    factor=$(awk -v a="${P99[mixed]}" -v b="${P99[cc]}" 'BEGIN { printf "%.2f", a / b }')
    v=$(mark "$factor" 1.5 '<='); [ "$v" = pass ] || failures=$((failures + 1))
    printf '| client-credentials p99 during %s sign-ins (%s sign-ins/s) vs alone | %s ms vs %s ms: %s× | ≤ 1.5× | %s |\n' \
      "$MIXED_CONCURRENCY" "$MIXED_SIGNINS" "${P99[mixed]}" "${P99[cc]}" "$factor" "$v"
  fi
  if [ -n "${RPS[cc-dpop]:-}" ] && [ -n "${RPS[cc]:-}" ]; then
    printf '\nDPoP on the client-credentials grant: %s× the requests per second without it (%s vs %s); %s vs %s server CPU ms per request.\n' \
      "$(awk -v a="${RPS[cc-dpop]}" -v b="${RPS[cc]}" 'BEGIN { printf "%.2f", a / b }')" "${RPS[cc-dpop]}" "${RPS[cc]}" \
      "${CPU[cc-dpop]}" "${CPU[cc]}"
  fi
  if [ "${#FLAGS[@]}" -gt 0 ]; then
    printf '\n**Flagged** (the figures above include these):\n\n'
    printf -- '- %s\n' "${FLAGS[@]}"
  else
    printf '\nEvery response was 2xx; no socket errors; no failed sign-in.\n'
  fi
  printf '\n%s target(s) missed. Full run took %s s.\n' "$failures" "$(( $(date +%s) - START_TIME ))"
} >"$REPORT"
{
  printf '\n## Raw output (wrk --latency, sign-in driver)\n'
  cat "$RAW"
} >"${REPORT%.md}.log"

if [ "$PERF" = 1 ] && [ -f "$TMP/perf.data" ]; then
  PERF_OUT="${REPORT%.md}-perf-$PERF_ON.txt"
  log "Writing the profile of the $PERF_ON run to $PERF_OUT"
  {
    printf '# By thread: the runtime (tokio-rt-worker), SQLite (sqlx-sqlite-wor), hashing\n\n'
    timeout 300 perf report -i "$TMP/perf.data" --no-children --stdio -g none --sort comm \
      2>/dev/null | grep -v '^#' | grep -v '^$' | head -8 || true
    printf '\n# Call graphs of the heaviest functions\n\n'
    timeout 300 perf report -i "$TMP/perf.data" --no-children --percent-limit 2 --stdio 2>/dev/null | head -60 || true
    printf '\n# Flat: the functions with the most samples (self time)\n\n'
    timeout 300 perf report -i "$TMP/perf.data" --no-children --percent-limit 0.5 --stdio -g none \
      --sort dso,symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60 || true
  } | sed -E 's/([[:space:]]+-)*[[:space:]]*$//' >"$PERF_OUT"
  cp "$TMP/perf.data" "${PERF_OUT%.txt}.data"
  printf '\nperf profile of the %s run: %s (recording: %s)\n' "$PERF_ON" \
    "${PERF_OUT#"$ROOT"/}" "${PERF_OUT%.txt}.data" >>"$REPORT"
fi

REPORTED=1
echo
cat "$REPORT"
echo
RAW_LOG="${REPORT%.md}.log"
log "Results: ${REPORT#"$ROOT"/} (raw output: ${RAW_LOG#"$ROOT"/})"
if [ "${#FLAGS[@]}" -gt 0 ]; then
  log "Flagged: failed or non-2xx requests, or a machine busy with other work; see above"
  exit 1
fi
