#!/usr/bin/env bash
# Installs what `make run` and `make test` need on a fresh Debian 12 machine, and only
# what is missing: Debian's -dev packages and test peers through apt, the npm test
# clients through `npm ci`. Safe to run again; it does nothing when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(
  build-essential clang libclang-rt-14-dev pkg-config
  libuv1-dev node-llhttp libssl-dev zlib1g-dev libcjson-dev libsqlite3-dev
  libcriterion-dev libhiredis-dev libpq-dev libcrypt-dev libcurl4-openssl-dev
  postgresql
  redis-server valgrind
  python3-socketio python3-engineio python3-aiohttp python3-websocket python3-requests
  python3-websockets
  chromium
)
[ -n "${SIOC_DEPS_EXTRA:-}" ] && APT_PKGS+=(${SIOC_DEPS_EXTRA})

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null; then
  echo "deps: node is missing; install Node.js 20 (Debian's nodejs package works)" >&2
  exit 1
fi
stamp=node_modules/.sioc-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
if [ -f web/package-lock.json ]; then
  wstamp=web/node_modules/.sioc-lock
  if [ ! -f "$wstamp" ] || ! cmp -s web/package-lock.json "$wstamp"; then
    echo "deps: npm ci (web)"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    cp web/package-lock.json "$wstamp"
  fi
fi
