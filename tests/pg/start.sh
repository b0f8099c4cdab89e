#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on a free loopback port and prints its URL, for
#   SIOC_TEST_PG_URL=$(tests/pg/start.sh) build/tests/test_store ...
#   DATABASE_URL=$(tests/pg/start.sh) tests/run integration
# The cluster lives in /tmp/sioc-pg.<port> (trust auth, listening on 127.0.0.1 only, no
# fsync); tests/pg/stop.sh <url|port> stops and deletes it. As root, initdb/postgres run
# as the `postgres` user (runuser), since PostgreSQL refuses to run as root.
# Only the URL goes to stdout; progress and errors go to stderr.
set -euo pipefail

bindir="${PG_BINDIR:-}"
if [ -z "$bindir" ]; then
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir="$d"; done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "pg/start: initdb not found (apt-get install postgresql, or set PG_BINDIR)" >&2
  exit 1
fi

# A free port: ask the kernel for one (bind to port 0), then make sure nothing listens.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
dir="/tmp/sioc-pg.$port"
rm -rf "$dir"
mkdir -p "$dir"

run=()
user="$(id -un)"
if [ "$(id -u)" -eq 0 ]; then
  user=postgres
  chown postgres "$dir"
  run=(runuser -u postgres --)
fi

"${run[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
"${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
echo "pg/start: cluster in $dir (user $user) on 127.0.0.1:$port" >&2
echo "postgresql://postgres@127.0.0.1:$port/postgres"
