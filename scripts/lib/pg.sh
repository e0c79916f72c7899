#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for scripts/run and the integration tests:
# UNIX socket only, trust authentication, superuser "postgres".
#
#   scripts/lib/pg.sh start DIR [--fsync=on|off]   create if missing, start, wait, create db "presence"
#   scripts/lib/pg.sh stop DIR                     pg_ctl stop -m fast (fine if not running)
#   scripts/lib/pg.sh url DIR                      print postgresql:///presence?host=SOCKDIR&user=postgres
#   scripts/lib/pg.sh status DIR                   exit 0 when it accepts connections
#   scripts/lib/pg.sh destroy DIR                  stop and delete the cluster
#
# Sourced, it defines pg_start, pg_stop, pg_url, pg_status and pg_destroy with
# the same arguments; each runs in a subshell, so the caller's shell options
# are left alone. Prints nothing but errors (url prints the URL).
#
# fsync: on by default (scripts/run keeps data across restarts); tests pass
# --fsync=off or set PRS_PG_FSYNC=off, which also turns off
# synchronous_commit and full_page_writes. Decided at every start.
#
# Where the cluster lives, and why. PostgreSQL refuses to run as root, so as
# root initdb/pg_ctl run as an unprivileged user (PRS_PG_USER, default
# "postgres", else "nobody"). That user must be able to traverse every parent
# of the data directory, and DIR is often under /root (mode 0700), which it
# cannot. Changing the mode of someone's home directory behind their back is
# worse than the problem, so instead: if that user can reach DIR/pg, the
# cluster lives there; otherwise it lives in a fresh directory
# /var/tmp/presence-pg.XXXXXX owned by that user (/var/tmp rather than /tmp:
# it survives a reboot and is not a tmpfs). The same happens when DIR/pg is so
# deep that the socket path would pass the 107-byte limit of sun_path. The
# chosen directory is written to DIR/pg.location on creation and read by
# every later command, so start/stop/url always agree. The cluster directory
# holds data/ (PGDATA), the log (postgres.log) and the socket.
#
# Every command takes a lock (flock DIR/pg.lock) so concurrent starts are safe.

_pg_die() {
	echo "pg.sh: $*" >&2
	exit 1
}

# Directory holding initdb, pg_ctl, pg_isready, psql.
_pg_bindir() {
	local d v
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null) || d=
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	fi
	v=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$v" ] && [ -x "$v/initdb" ]; then
		echo "$v"
		return 0
	fi
	d=$(command -v initdb 2>/dev/null) || d=
	[ -n "$d" ] && { dirname "$d"; return 0; }
	_pg_die "no PostgreSQL server binaries (install postgresql)"
}

# The OS user that runs the server: empty when we are not root.
_pg_runas() {
	[ "$(id -u)" -ne 0 ] && return 0
	if [ -n "${PRS_PG_USER:-}" ]; then
		id -u "$PRS_PG_USER" >/dev/null 2>&1 ||
			_pg_die "PRS_PG_USER=$PRS_PG_USER: no such user"
		echo "$PRS_PG_USER"
	elif id -u postgres >/dev/null 2>&1; then
		echo postgres
	elif id -u nobody >/dev/null 2>&1; then
		echo nobody
	else
		_pg_die "running as root and neither 'postgres' nor 'nobody' exists"
	fi
}

# Runs a command as the server user, from / (initdb fails when it cannot
# read its current directory, e.g. /root/...). The lock fd is closed for it:
# the postmaster would otherwise inherit it and hold the lock forever.
_pg_as() {
	local u
	u=$(_pg_runas)
	if [ -n "$u" ]; then
		(cd / && runuser -u "$u" -- "$@" 9>&-)
	else
		(cd / && "$@" 9>&-)
	fi
}

_pg_abs() {
	mkdir -p "$1" || _pg_die "cannot create $1"
	(cd "$1" && pwd -P)
}

# Prints the cluster directory of DIR ("" if never created).
_pg_location() {
	local dir=$1
	if [ -f "$dir/pg.location" ]; then
		head -n 1 "$dir/pg.location"
	elif [ -d "$dir/pg/data" ]; then
		echo "$dir/pg"
	fi
}

# Chooses and creates the cluster directory for DIR; prints it.
_pg_place() {
	local dir=$1 u cl
	u=$(_pg_runas)
	cl="$dir/pg"
	# 107 = sizeof(sun_path) - 1; the socket is "$cl/.s.PGSQL.5432".
	if [ $((${#cl} + 16)) -le 100 ]; then
		mkdir -p "$cl" || _pg_die "cannot create $cl"
		if [ -z "$u" ]; then
			chmod 0755 "$cl"
			echo "$cl"
			return 0
		fi
		chown "$u:" "$cl" && chmod 0755 "$cl" || _pg_die "cannot chown $cl"
		if runuser -u "$u" -- test -x "$cl" -a -w "$cl" 2>/dev/null; then
			echo "$cl"
			return 0
		fi
		rmdir "$cl" 2>/dev/null
	fi
	cl=$(mktemp -d /var/tmp/presence-pg.XXXXXX 2>/dev/null ||
		mktemp -d /tmp/presence-pg.XXXXXX) || _pg_die "mktemp failed"
	chmod 0755 "$cl"
	[ -n "$u" ] && { chown "$u:" "$cl" || _pg_die "cannot chown $cl"; }
	echo "$cl"
}

_pg_lock() {
	exec 9>"$1/pg.lock" || _pg_die "cannot write $1/pg.lock"
	flock -w 120 9 || _pg_die "timed out waiting for $1/pg.lock"
}

_pg_ready() {
	"$1/pg_isready" -q -h "$2" -d postgres -U postgres -t 2 >/dev/null 2>&1
}

pg_start() (
	set -u
	[ $# -ge 1 ] || _pg_die "usage: pg.sh start DIR [--fsync=on|off]"
	local dir fsync=${PRS_PG_FSYNC:-on} arg bin cl opts i u log
	dir=$(_pg_abs "$1") || exit 1
	shift
	for arg in "$@"; do
		case $arg in
		--fsync=on | --fsync=off) fsync=${arg#--fsync=} ;;
		*) _pg_die "start: unknown option $arg" ;;
		esac
	done
	case $fsync in on | off) ;; *) _pg_die "PRS_PG_FSYNC must be on or off" ;; esac
	bin=$(_pg_bindir) || exit 1
	u=$(_pg_runas) || exit 1
	_pg_lock "$dir"

	cl=$(_pg_location "$dir")
	if [ -z "$cl" ] || [ ! -f "$cl/data/PG_VERSION" ]; then
		[ -n "$cl" ] && [ -d "$cl" ] || cl=$(_pg_place "$dir") || exit 1
		# A half-done initdb (no PG_VERSION) is redone from scratch.
		[ -d "$cl/data" ] && rm -rf "$cl/data"
		log="$cl/initdb.log"
		local nosync=()
		[ "$fsync" = off ] && nosync=(--no-sync)
		if ! _pg_as "$bin/initdb" -D "$cl/data" -U postgres -A trust \
			-E UTF8 --locale=C "${nosync[@]}" >"$log.tmp" 2>&1; then
			cat "$log.tmp" >&2
			_pg_die "initdb failed in $cl/data"
		fi
		mv -f "$log.tmp" "$log" 2>/dev/null
		cat >>"$cl/data/postgresql.conf" <<-EOF

			# presence throwaway cluster (scripts/lib/pg.sh)
			listen_addresses = ''
			unix_socket_directories = '$cl'
			unix_socket_permissions = 0777
			max_connections = 200
			logging_collector = off
		EOF
		echo "$cl" >"$dir/pg.location.tmp" && mv -f "$dir/pg.location.tmp" "$dir/pg.location"
	fi

	if ! _pg_ready "$bin" "$cl"; then
		opts="-c fsync=$fsync"
		[ "$fsync" = off ] && opts="$opts -c synchronous_commit=off -c full_page_writes=off"
		# Bounded wait: 600 x 0.1 s. Every second, if no postmaster runs,
		# (re)start one, at most 5 times: right after a crash the old
		# postmaster can linger as an unreaped zombie, or its children can
		# still hold the shared memory, and a start then fails once.
		local tries=0
		for ((i = 0; i < 600; i++)); do
			_pg_ready "$bin" "$cl" && break
			if ((i % 10 == 0)) &&
				! _pg_as "$bin/pg_ctl" status -D "$cl/data" >/dev/null 2>&1; then
				if ((tries >= 5)); then
					tail -n 30 "$cl/postgres.log" >&2 2>/dev/null
					_pg_die "postgres does not start ($cl/postgres.log)"
				fi
				tries=$((tries + 1))
				_pg_as "$bin/pg_ctl" start -W -D "$cl/data" \
					-l "$cl/postgres.log" -o "$opts" >/dev/null 2>&1
			fi
			sleep 0.1
		done
		if ! _pg_ready "$bin" "$cl"; then
			tail -n 30 "$cl/postgres.log" >&2 2>/dev/null
			_pg_die "postgres not accepting connections after 60 s ($cl)"
		fi
	fi

	local have
	have=$("$bin/psql" -X -q -h "$cl" -U postgres -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'presence'" 2>&1) ||
		_pg_die "psql failed: $have"
	if [ "$have" != 1 ]; then
		local out
		out=$("$bin/psql" -X -q -h "$cl" -U postgres -d postgres \
			-v ON_ERROR_STOP=1 -c "CREATE DATABASE presence" 2>&1) ||
			_pg_die "cannot create database presence: $out"
	fi
	exit 0
)

pg_stop() (
	set -u
	[ $# -eq 1 ] || _pg_die "usage: pg.sh stop DIR"
	local dir bin cl
	[ -d "$1" ] || exit 0
	dir=$(cd "$1" && pwd -P)
	cl=$(_pg_location "$dir")
	[ -n "$cl" ] && [ -f "$cl/data/PG_VERSION" ] || exit 0
	bin=$(_pg_bindir) || exit 1
	_pg_lock "$dir"
	_pg_as "$bin/pg_ctl" status -D "$cl/data" >/dev/null 2>&1 || exit 0
	local out
	out=$(_pg_as "$bin/pg_ctl" stop -D "$cl/data" -m fast -w -t 60 2>&1) ||
		_pg_die "pg_ctl stop failed: $out"
	exit 0
)

pg_url() (
	set -u
	[ $# -eq 1 ] || _pg_die "usage: pg.sh url DIR"
	local dir cl
	[ -d "$1" ] || _pg_die "no cluster in $1 (run start first)"
	dir=$(cd "$1" && pwd -P)
	cl=$(_pg_location "$dir")
	[ -n "$cl" ] || _pg_die "no cluster in $dir (run start first)"
	echo "postgresql:///presence?host=$cl&user=postgres"
)

pg_status() (
	set -u
	[ $# -eq 1 ] || _pg_die "usage: pg.sh status DIR"
	local dir cl bin
	[ -d "$1" ] || exit 1
	dir=$(cd "$1" && pwd -P)
	cl=$(_pg_location "$dir")
	[ -n "$cl" ] || exit 1
	bin=$(_pg_bindir) || exit 1
	_pg_ready "$bin" "$cl"
)

pg_destroy() (
	set -u
	[ $# -eq 1 ] || _pg_die "usage: pg.sh destroy DIR"
	local dir cl
	[ -d "$1" ] || exit 0
	pg_stop "$1" || exit 1
	dir=$(cd "$1" && pwd -P)
	cl=$(_pg_location "$dir")
	[ -n "$cl" ] && rm -rf "$cl"
	rm -f "$dir/pg.location" "$dir/pg.lock"
	exit 0
)

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cmd=${1:-}
	[ $# -gt 0 ] && shift
	case $cmd in
	start) pg_start "$@" ;;
	stop) pg_stop "$@" ;;
	url) pg_url "$@" ;;
	status) pg_status "$@" ;;
	destroy) pg_destroy "$@" ;;
	*)
		echo "usage: ${0##*/} start|stop|url|status|destroy DIR [--fsync=on|off]" >&2
		exit 2
		;;
	esac
fi
