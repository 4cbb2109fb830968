#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests and for trying the service on PostgreSQL.
#
#   scripts/postgres.sh start DIR [PORT]   initdb in DIR (made if missing), start on 127.0.0.1:PORT (default 55432),
#                                          create the database "ims"; prints the connection string as its last line
#   scripts/postgres.sh stop DIR           stop the cluster and remove DIR
#
# Installs Debian's postgresql when its binaries are missing (needs root or sudo). The cluster trusts local connections
# (it listens on loopback only and lives in a temporary folder), its superuser is "ims", and it uses the C locale, so
# text sorts byte by byte as in SQLite. initdb and postgres refuse to run as root: as root the script runs them as the
# "postgres" system user the package creates.
set -euo pipefail

usage() { echo "usage: $0 start DIR [PORT] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
command=$1
dir=$2
port=${3:-55432}

find_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$found" ] && [ -x "$found/initdb" ]; then echo "$found"; fi
}

install_postgres() {
  local as_root=()
  if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q >&2
  "${as_root[@]}" apt-get install -y -q --no-install-recommends postgresql >&2
}

# Runs a PostgreSQL binary as an unprivileged user when the script runs as root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$command" in
  start)
    bin=$(find_bin)
    if [ -z "$bin" ]; then
      install_postgres
      bin=$(find_bin)
      [ -n "$bin" ] || { echo "postgresql installed, but no initdb under /usr/lib/postgresql" >&2; exit 1; }
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then
      id postgres >/dev/null 2>&1 || { echo "no postgres system user (is Debian's postgresql installed?)" >&2; exit 1; }
      chown postgres: "$dir"
    fi
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir" -U ims --auth=trust --encoding=UTF8 --locale=C >"$dir.initdb.log" 2>&1 \
        || { cat "$dir.initdb.log" >&2; exit 1; }
      rm -f "$dir.initdb.log"
    fi
    # Sockets in the cluster's own folder, TCP on loopback only; fsync off: the cluster is thrown away after the tests.
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >&2 || { cat "$dir/server.log" >&2; exit 1; }
    if ! as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U ims -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ims'" | grep -q 1; then
      as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U ims -d postgres -qc "CREATE DATABASE ims" >&2
    fi
    echo "Host=127.0.0.1;Port=$port;Username=ims;Database=ims"
    ;;
  stop)
    bin=$(find_bin)
    if [ -d "$dir" ] && [ -f "$dir/postmaster.pid" ] && [ -n "$bin" ]; then
      as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >&2 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    usage
    ;;
esac
