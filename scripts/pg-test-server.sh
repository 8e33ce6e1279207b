#!/usr/bin/env bash
# pg-test-server.sh start|stop|status|env [DIR]
#
# A throwaway PostgreSQL for paved's store tests: data under DIR (default
# .data/pg-test in the repo, git-ignored), listening on 127.0.0.1 only, port
# $PAVED_PG_PORT (default 55432), trust authentication for loopback, and no
# durability (fsync off): never put data you want to keep in it.
#
#   eval "$(scripts/pg-test-server.sh start)"   # start it (idempotent) and export the URL
#   go test ./sqlstore/postgres/...
#   scripts/pg-test-server.sh stop
#
# start and env print `export PAVED_TEST_DATABASE_URL=postgres://…` on stdout
# ($PAVED_PG_URL_VAR names another variable); everything else goes to stderr.
# A second server, e.g. for the postgres driver's regions (infra/postgresql
# starts a throwaway one itself when PAVED_TEST_DATABASE_URL_2 is unset):
#
#   eval "$(PAVED_PG_PORT=55433 PAVED_PG_URL_VAR=PAVED_TEST_DATABASE_URL_2 scripts/pg-test-server.sh start)"
#
# Without DIR, a port other than 55432 gets its own directory (.data/pg-test-PORT). initdb refuses to run as root, so as root
# the server runs as the user `postgres`, in ${TMPDIR:-/tmp}/paved-pg-test-PORT. A server that
# already answers on the port (another clone's) is reused.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
port=${PAVED_PG_PORT:-55432}
url_var=${PAVED_PG_URL_VAR:-PAVED_TEST_DATABASE_URL}
[[ $url_var =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "pg-test-server: PAVED_PG_URL_VAR must be a variable name" >&2; exit 2; }
suffix=
if [ "$port" != 55432 ]; then
	suffix=-$port
fi
dir=${2:-$repo/.data/pg-test$suffix}
# As root, the server runs as postgres, which must not need to enter the repo
# (a checkout under /root) nor .data/, which `make run` makes paved's own
# (0700): the default directory is outside the clone then.
if [ -z "${2:-}" ] && [ "$(id -u)" = 0 ]; then
	dir=${TMPDIR:-/tmp}/paved-pg-test-$port
fi
data=$dir/data
log=$dir/server.log

# Debian's postgresql packages put initdb, pg_ctl and postgres in
# /usr/lib/postgresql/<major>/bin, off PATH: use the newest one there when
# PATH has none.
if ! command -v initdb >/dev/null; then
	for bin in /usr/lib/postgresql/*/bin; do
		[ -x "$bin/initdb" ] && pg_bin=$bin
	done
	if [ -n "${pg_bin:-}" ]; then
		PATH=$pg_bin:$PATH
	fi
fi

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

running() {
	[ -f "$data/PG_VERSION" ] && as_owner pg_ctl -D "$data" status >/dev/null 2>&1
}

print_env() {
	# A running server keeps the port it started on.
	if running; then
		port=$(as_owner sed -n 4p "$data/postmaster.pid")
	fi
	echo "export $url_var=postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

start() {
	for bin in initdb pg_ctl postgres pg_isready; do
		command -v "$bin" >/dev/null || { echo "pg-test-server: $bin is not on PATH (install PostgreSQL 15)" >&2; exit 1; }
	done
	if [ ! -f "$data/PG_VERSION" ] && ! pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 2 2>/dev/null; then
		mkdir -p "$dir"
		if [ "$(id -u)" = 0 ]; then
			chown postgres: "$dir"
			runuser -u postgres -- test -w "$dir" || {
				echo "pg-test-server: user postgres cannot reach $dir; pass a DIR it can (e.g. under /tmp)" >&2
				exit 1
			}
		fi
		echo "pg-test-server: initdb $data" >&2
		as_owner initdb -D "$data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
		cat >>"$data/postgresql.conf" <<-'EOF'

		# pg-test-server.sh: a throwaway server for tests.
		listen_addresses = '127.0.0.1'
		unix_socket_directories = ''
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		max_connections = 200
		EOF
		# Loopback TCP only, and without a password.
		cat >"$data/pg_hba.conf" <<-'EOF'
		host all all 127.0.0.1/32 trust
		EOF
	fi
	if running; then
		echo "pg-test-server: already running ($data)" >&2
	elif pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 2 2>/dev/null; then
		# Another clone's (or an earlier default directory's) server holds the
		# port: the tests make their own databases, so it serves as well.
		echo "pg-test-server: reusing the server already on 127.0.0.1:$port" >&2
	else
		echo "pg-test-server: starting on 127.0.0.1:$port" >&2
		as_owner pg_ctl -D "$data" -l "$log" -o "-p $port" -w -t 60 start >&2 ||
			{ tail -n 20 "$log" >&2; exit 1; }
	fi
	print_env
}

stop() {
	if running; then
		as_owner pg_ctl -D "$data" -m fast -w stop >&2
	else
		echo "pg-test-server: not running" >&2
	fi
}

case $cmd in
start) start ;;
stop) stop ;;
status) if running; then echo running; else echo stopped; exit 1; fi ;;
env) print_env ;;
*)
	echo "usage: $0 start|stop|status|env [DIR]" >&2
	exit 2
	;;
esac
