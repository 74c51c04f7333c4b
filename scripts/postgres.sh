#!/usr/bin/env bash
# A private PostgreSQL 15 server for the tests (DuckLake catalog on PostgreSQL, change data capture).
#
#   scripts/postgres.sh install      install Debian's postgresql-15 and postgresql-15-wal2json if missing (root)
#   scripts/postgres.sh start DIR    initdb DIR if needed, start it, create database duckbook, print the DSN
#   scripts/postgres.sh stop DIR     stop the server of DIR (fast shutdown; no error if not running)
#   scripts/postgres.sh status DIR   exit 0 when the server of DIR runs, 3 when not
#
# The cluster lives in DIR and listens on a unix socket in DIR only (listen_addresses=''), port
# $PGPORT (default 5433; the number only names the socket file, so it never collides with another
# server). The `main` cluster the Debian package creates on 5432 is neither used nor touched.
# As root, DIR is chowned to the postgres user and every server command runs as that user
# (initdb refuses root); otherwise they run as the calling user, who must own DIR.
# Local connections are trusted; DIR is mode 0700, so only its owner and root can connect.
# Logical decoding is on (wal_level=logical, replication slots and WAL senders for the CDC source;
# wal2json allowed in output_plugin_libraries on servers that have that setting, 15.19 and later).
# Exit codes: 0 ok, 2 usage, 3 PostgreSQL 15 missing / cannot be installed or started.
set -euo pipefail

PGBIN=/usr/lib/postgresql/15/bin # explicit: other versions may be on PATH (/usr/local/bin)
PGLIB=/usr/lib/postgresql/15/lib
PACKAGES=(postgresql-15 postgresql-15-wal2json)
PORT=${PGPORT:-5433}
DATABASE=duckbook
SUPERUSER=postgres

die() {
	local code=$1
	shift
	echo "postgres.sh: $*" >&2
	exit "$code"
}

usage() {
	sed -n '2,7s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

have_server() { [ -x "$PGBIN/postgres" ] && [ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pg_ctl" ]; }

have_wal2json() { [ -f "$PGLIB/wal2json.so" ]; }

need_server() {
	have_server || die 3 "PostgreSQL 15 is not installed ($PGBIN/postgres missing): run 'sudo scripts/postgres.sh install'"
}

cmd_install() {
	if have_server && have_wal2json; then
		echo "PostgreSQL 15 present: $("$PGBIN/postgres" --version), with wal2json" >&2
		return 0
	fi
	[ "$(id -u)" = 0 ] || die 3 "PostgreSQL 15 with wal2json is not installed ($PGBIN/postgres or $PGLIB/wal2json.so missing) and we are not root: run 'sudo scripts/postgres.sh install' (or 'apt-get install ${PACKAGES[*]}')"
	command -v apt-get >/dev/null 2>&1 || die 3 "PostgreSQL 15 with wal2json is not installed and apt-get is missing: install ${PACKAGES[*]} by hand"
	echo "installing ${PACKAGES[*]} with apt-get ..." >&2
	# The package also creates and may start a `main` cluster on port 5432: we leave it alone.
	apt-get update -qq >&2 || die 3 "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null ||
		die 3 "apt-get install ${PACKAGES[*]} failed"
	have_server || die 3 "postgresql-15 installed but $PGBIN/postgres is still missing"
	have_wal2json || die 3 "postgresql-15-wal2json installed but $PGLIB/wal2json.so is still missing"
	echo "installed: $("$PGBIN/postgres" --version), with wal2json" >&2
}

# Settings for logical decoding, appended once to postgresql.conf (a marker line says they are
# there). output_plugin_libraries appeared in a 15.x security update: an older server refuses to
# start with an unknown setting, so it is written only when the server lists it.
CDC_MARKER="# scripts/postgres.sh: logical decoding"
configure_cdc() {
	local conf="$1/postgresql.conf"
	grep -qxF "$CDC_MARKER" "$conf" && return 1
	{
		echo
		echo "$CDC_MARKER"
		echo "wal_level = logical"
		echo "max_replication_slots = 16"
		echo "max_wal_senders = 16"
		if "$PGBIN/postgres" --describe-config 2>/dev/null | cut -f1 | grep -qx output_plugin_libraries; then
			echo "output_plugin_libraries = 'wal2json'"
		fi
	} >>"$conf"
}

# The cluster directory as an absolute path, validated (it is written into postgresql.conf and a
# unix socket path, which is limited to 107 bytes).
cluster_dir() {
	[ -n "${1:-}" ] || usage
	local dir
	dir=$(realpath -m -- "$1")
	[[ $dir =~ ^[A-Za-z0-9._/+-]+$ ]] || die 2 "DIR may only contain letters, digits and ._/+- : $dir"
	local socket="$dir/.s.PGSQL.$PORT"
	[ "${#socket}" -le 107 ] || die 2 "DIR is too long for a unix socket path (${#socket} > 107 bytes): $socket"
	[[ $PORT =~ ^[0-9]+$ ]] || die 2 "PGPORT must be a number: $PORT"
	echo "$dir"
}

# Run a server command as the cluster's owner: postgres when we are root, else ourselves.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

running() { as_owner "$PGBIN/pg_ctl" status -D "$1" >/dev/null 2>&1; }

cmd_start() {
	need_server
	local dir
	dir=$(cluster_dir "${1:-}")
	mkdir -p -- "$dir"
	if [ "$(id -u)" = 0 ]; then
		chown postgres:postgres -- "$dir"
	fi
	chmod 0700 -- "$dir"

	if [ ! -f "$dir/PG_VERSION" ]; then
		[ -z "$(ls -A -- "$dir")" ] || die 3 "$dir is neither empty nor a PostgreSQL cluster"
		local out
		out=$(as_owner "$PGBIN/initdb" -D "$dir" -U "$SUPERUSER" --auth=trust --encoding=UTF8 --locale=C 2>&1) || {
			echo "$out" >&2
			die 3 "initdb failed in $dir"
		}
		cat >>"$dir/postgresql.conf" <<-EOF

			# scripts/postgres.sh: unix socket in the cluster directory only
			listen_addresses = ''
			unix_socket_directories = '$dir'
			port = $PORT
		EOF
	fi

	local port=$PORT
	if configure_cdc "$dir" && running "$dir"; then
		# a cluster made before logical decoding was configured: wal_level needs a restart
		as_owner "$PGBIN/pg_ctl" restart -w -t 60 -m fast -D "$dir" -l "$dir/server.log" \
			-o "-p $(sed -n 4p "$dir/postmaster.pid") -k $dir" >/dev/null ||
			die 3 "the server of $dir did not restart with logical decoding (log: $dir/server.log)"
	fi
	if running "$dir"; then
		# already up (possibly on another port): report the port it really listens on
		port=$(sed -n 4p "$dir/postmaster.pid")
		as_owner "$PGBIN/pg_isready" -q -t 10 -h "$dir" -p "$port" ||
			die 3 "a server of $dir runs (pid $(head -n 1 "$dir/postmaster.pid")) but does not answer on $dir/.s.PGSQL.$port: stop it first"
	else
		as_owner "$PGBIN/pg_ctl" start -w -t 60 -D "$dir" -l "$dir/server.log" -o "-p $port -k $dir" >/dev/null || {
			tail -n 20 "$dir/server.log" >&2 || true
			die 3 "the server of $dir did not start (log: $dir/server.log)"
		}
	fi

	local psql=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U "$SUPERUSER" -d postgres -tA)
	if [ -z "$(as_owner "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
		as_owner "${psql[@]}" -c "CREATE DATABASE $DATABASE" >/dev/null
	fi
	echo "host=$dir port=$port dbname=$DATABASE user=$SUPERUSER"
}

cmd_stop() {
	local dir
	dir=$(cluster_dir "${1:-}")
	[ -f "$dir/PG_VERSION" ] && have_server || return 0
	running "$dir" || return 0
	as_owner "$PGBIN/pg_ctl" stop -w -t 60 -m fast -D "$dir" >/dev/null
}

cmd_status() {
	local dir
	dir=$(cluster_dir "${1:-}")
	[ -f "$dir/PG_VERSION" ] && have_server && running "$dir" || exit 3
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start "${2:-}" ;;
stop) cmd_stop "${2:-}" ;;
status) cmd_status "${2:-}" ;;
*) usage ;;
esac
