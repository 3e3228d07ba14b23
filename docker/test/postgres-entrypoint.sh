#!/bin/sh
# Entry point of the test-only PostgreSQL image (docker/test/postgres-image.sh): the official
# postgres image's variables (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA, PGPORT), a
# first-start initdb, then postgres in the foreground on 127.0.0.1.
set -eu
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}" "${PGPORT:=5432}"
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA PGPORT
bin=/usr/lib/postgresql/15/bin
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -n "${POSTGRES_PASSWORD:-}" ] || { echo "POSTGRES_PASSWORD is required" >&2; exit 1; }
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  "$bin/initdb" --username="$POSTGRES_USER" --pwfile="$pwfile" --auth=scram-sha-256 --auth-local=trust >/dev/null
  rm -f "$pwfile"
  "$bin/pg_ctl" -w -o "-c listen_addresses='' -k /tmp" start >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    "$bin/createdb" -h /tmp -U "$POSTGRES_USER" "$POSTGRES_DB"
  fi
  "$bin/pg_ctl" -w stop >/dev/null
fi
exec "$bin/postgres" -c listen_addresses=127.0.0.1 -c unix_socket_directories=/tmp
