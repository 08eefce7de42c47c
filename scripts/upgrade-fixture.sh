#!/usr/bin/env bash
# Makes the upgrade fixtures in tests/fixtures/upgrade/ from an EARLIER commit: that commit's
# code and migrations create and fill a SQLite file, a PostgreSQL database and a MongoDB
# database (tests/fixtures/upgrade/make.rs, run inside a checkout of it), which are then
# dumped here. tests/upgrade.rs loads them, migrates them with HEAD and uses them.
#
#   scripts/upgrade-fixture.sh COMMIT     e.g. scripts/upgrade-fixture.sh bd3dd70
#
# Needs what the tests need (scripts/services.sh: PostgreSQL, SecantusDB) and pg_dump.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMMIT="$(git -C "$ROOT" rev-parse --short "${1:?usage: scripts/upgrade-fixture.sh COMMIT}")"
OUT="$ROOT/tests/fixtures/upgrade"
SRC="$(mktemp -d)/tessera-$COMMIT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"
log() { printf '==> %s\n' "$*" >&2; }

"$ROOT/scripts/services.sh" >/dev/null
git -C "$ROOT" worktree add --detach "$SRC" "$COMMIT" >/dev/null
trap 'git -C "$ROOT" worktree remove --force "$SRC"' EXIT
cp "$OUT/make.rs" "$SRC/tests/zz_upgrade_fixture.rs"

for backend in sqlite postgresql mongodb; do
  log "Filling a $backend database with the code of $COMMIT"
  dir="$OUT/$backend"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$SRC" && FIXTURE_OUT="$dir" TESSERA_TEST_BACKEND="$backend" \
    cargo test --quiet --features ssr --test zz_upgrade_fixture -- --nocapture >&2)
  location="$(cat "$dir/location.txt")"
  rm "$dir/location.txt"
  case "$backend" in
    sqlite)
      python3 - "$location" "$dir/database.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.execute("VACUUM INTO ?", (sys.argv[2],))
PY
      ;;
    postgresql)
      # As the superuser: the tables force row-level security on their owner. INSERTs
      # rather than COPY, so the test can replay the dump through sqlx.
      database="${location##*/}"
      database="${database%%\?*}"
      pg_dump --inserts --no-owner --no-privileges --quote-all-identifiers \
        "postgresql://postgres@127.0.0.1:5432/$database" |
        # Only SQL: no psql meta-commands (\restrict), nothing about the schema itself.
        sed -e '/^\\/d' -e '/^COMMENT ON SCHEMA "public"/d' > "$dir/dump.sql"
      psql -q "postgresql://postgres@127.0.0.1:5432/postgres" -c "DROP DATABASE \"$database\" WITH (FORCE)"
      ;;
    mongodb)
      "$ROOT/.venv-services/bin/python" - "$location" "$dir/dump.json" <<'PY'
import json, sys
from bson import json_util
from pymongo import MongoClient, uri_parser
uri = sys.argv[1]
name = uri_parser.parse_uri(uri)["database"] or "tessera"
client = MongoClient(uri)
db = client[name]
dump = {c: [json.loads(json_util.dumps(d, json_options=json_util.CANONICAL_JSON_OPTIONS))
            for d in db[c].find({})]
        for c in sorted(db.list_collection_names())}
with open(sys.argv[2], "w") as f:
    json.dump(dump, f, indent=1, sort_keys=True)
client.drop_database(name)
PY
      ;;
  esac
done
echo "$COMMIT" > "$OUT/COMMIT"
log "Fixtures of $COMMIT written to tests/fixtures/upgrade/"
