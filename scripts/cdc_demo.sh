#!/usr/bin/env bash
# make cdc-demo: the Jaffle Shop fed by change data capture from its own operational PostgreSQL.
#
#   1. a private PostgreSQL 15 cluster in data/cdc-demo/pg (scripts/postgres.sh: unix socket only),
#   2. database jaffle with the shop's tables, seeded from data/sample (first time only),
#   3. a writer placing orders, renaming customers and changing prices (in the background),
#   4. `duckbook stream --trigger 2s` for DEMO_SECONDS (default 60; Ctrl-C stops it early) into the
#      warehouse data/cdc-demo/warehouse, with the sources of lib/jaffle_shop/sources_cdc.yml,
#   5. the writer stopped, then one `duckbook run` so the reports show the CDC-fed marts,
#   6. the server stopped (also on error or a second Ctrl-C).
#
# Settings (environment): DEMO_SECONDS (60), DEMO_RATE (writer transactions per second, 2),
# DEMO_SEED (the writer's seed; default: the time, so a rerun never repeats ids), BIN (.venv/bin).
# A rerun continues where the last one stopped; `rm -rf data/cdc-demo` starts over.
# Nothing is downloaded: PostgreSQL 15 and wal2json must be installed (`sudo make postgres`).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=$ROOT/data/cdc-demo
PGDIR=$DEMO/pg
BIN=${BIN:-$ROOT/.venv/bin}
DEMO_SECONDS=${DEMO_SECONDS:-60}
DEMO_RATE=${DEMO_RATE:-2}
DEMO_SEED=${DEMO_SEED:-$(date +%s)}
PSQL=/usr/lib/postgresql/15/bin/psql
WAL2JSON=/usr/lib/postgresql/15/lib/wal2json.so
SLOT=duckbook_jaffle # the slot of lib/jaffle_shop/sources_cdc.yml

say() { printf '\033[1mcdc-demo:\033[0m %s\n' "$*"; }
die() {
	echo "cdc-demo: $*" >&2
	exit 1
}

[[ $DEMO_SECONDS =~ ^[0-9]+$ ]] || die "DEMO_SECONDS must be a whole number of seconds, not '$DEMO_SECONDS'"
[ -x "$BIN/duckbook" ] || die "$BIN/duckbook is missing: run 'make setup' first"
[ -x "$PSQL" ] && [ -f "$WAL2JSON" ] ||
	die "PostgreSQL 15 with wal2json is not installed: run 'sudo make postgres' (the demo downloads nothing)"

WRITER=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$WRITER" ] && kill -0 "$WRITER" 2>/dev/null; then
		kill -TERM "$WRITER" 2>/dev/null || true
		wait "$WRITER" 2>/dev/null || true
	fi
	bash scripts/postgres.sh stop "$PGDIR" || true
	[ "$rc" = 0 ] || echo "cdc-demo: stopped (exit $rc); the server of $PGDIR is down, the warehouse kept" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$DEMO"
say "starting PostgreSQL in $PGDIR"
ADMIN=$(bash scripts/postgres.sh start "$PGDIR" | tail -n 1)
export JAFFLE_PG_DSN=${ADMIN/dbname=duckbook/dbname=jaffle}
sql() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -tA -d "$1" -c "$2"; }

if [ -z "$(sql "$ADMIN" "SELECT 1 FROM pg_database WHERE datname = 'jaffle'")" ]; then
	sql "$ADMIN" "CREATE DATABASE jaffle" >/dev/null
	"$BIN/python" -m jaffle_shop.operational schema --dsn "$JAFFLE_PG_DSN" >/dev/null
	say "seeded database jaffle from data/sample: $("$BIN/python" -m jaffle_shop.operational seed --dsn "$JAFFLE_PG_DSN" --sample data/sample)"
fi
export DUCKBOOK_PROJECT_FILES=lib/jaffle_shop/sources_cdc.yml,lib/jaffle_shop/models.yml,lib/jaffle_shop/semantic_models.yml
export DUCKBOOK_WAREHOUSE=$DEMO/warehouse DUCKBOOK_REPORTS_DIR=$DEMO/reports
if [ ! -d "$DUCKBOOK_WAREHOUSE" ] && [ -n "$(sql "$JAFFLE_PG_DSN" "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$SLOT'")" ]; then
	# the warehouse was removed but its slot kept: drop the slot so the stream starts with a new snapshot
	sql "$JAFFLE_PG_DSN" "SELECT pg_drop_replication_slot('$SLOT')" >/dev/null
fi

# In the background SIGINT is ignored (no job control): the writer stops on SIGTERM from cleanup.
"$BIN/python" -m jaffle_shop.operational write --dsn "$JAFFLE_PG_DSN" --rate "$DEMO_RATE" --seed "$DEMO_SEED" \
	>"$DEMO/writer.log" 2>&1 &
WRITER=$!
sleep 1
kill -0 "$WRITER" 2>/dev/null || die "the writer stopped at once: $(tail -n 3 "$DEMO/writer.log")"
say "writer started (pid $WRITER, $DEMO_RATE transactions/s, log $DEMO/writer.log)"

say "duckbook stream --trigger 2s for ${DEMO_SECONDS}s into $DUCKBOOK_WAREHOUSE (Ctrl-C stops it early)"
trap 'say "stopping the stream"' INT # the stream gets Ctrl-C too and stops after its batch
rc=0
timeout --foreground -s INT -k 60 "$DEMO_SECONDS" "$BIN/duckbook" stream --trigger 2s || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 124 ] || [ "$rc" = 130 ] || die "duckbook stream failed (exit $rc)"
trap 'exit 130' INT

kill -TERM "$WRITER" 2>/dev/null && wait "$WRITER" || true
WRITER=""
say "writer stopped: $(tail -n 1 "$DEMO/writer.log")"

say "duckbook run: the last changes and the reports"
"$BIN/duckbook" run
say "reports: $DUCKBOOK_REPORTS_DIR/index.html (warehouse $DUCKBOOK_WAREHOUSE; start over: rm -rf data/cdc-demo)"
