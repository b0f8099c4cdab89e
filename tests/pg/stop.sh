#!/usr/bin/env bash
# Stops and deletes a cluster made by tests/pg/start.sh: tests/pg/stop.sh <url|port>.
set -euo pipefail
arg="${1:?usage: tests/pg/stop.sh <postgresql-url|port>}"
port=$(sed -E 's#.*:([0-9]+)(/.*)?$#\1#' <<<"$arg")
case "$port" in ''|*[!0-9]*) echo "pg/stop: no port in '$arg'" >&2; exit 2 ;; esac
dir="/tmp/sioc-pg.$port"
[ -d "$dir/data" ] || { echo "pg/stop: no cluster in $dir" >&2; exit 1; }
bindir="${PG_BINDIR:-}"
if [ -z "$bindir" ]; then
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && bindir="$d"; done
fi
run=()
[ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
"${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
rm -rf "$dir"
