#!/usr/bin/env bash
# Web UI device list with a large fleet: seeds TARGETS devices (default 100,000) straight into the
# SQLite database, then measures the server time of the device list's first page (and a few other
# views) with curl's time to first byte over RUNS requests each, logged in with a UI session.
#
#   cargo build --release -p updraft-server && bash bench/ui_devices.sh
#
# Needs: the release binary, curl, sqlite3. Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${CARGO_TARGET_DIR:-target}/release/updraft-server"
TARGETS="${TARGETS:-100000}"
RUNS="${RUNS:-50}"
PORT="${PORT:-18181}"
URL="http://127.0.0.1:$PORT"
DATA="$(mktemp -d)"
PASSWORD="bench-admin-password"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT

start() {
  UPDRAFT_LISTEN="127.0.0.1:$PORT" UPDRAFT_DATA_DIR="$DATA" UPDRAFT_ADMIN_PASSWORD="$PASSWORD" \
    UPDRAFT_LOG=warn UPDRAFT_WORKERS=2 "$BIN" >"$DATA/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "$URL/ui/login" && return; sleep 0.1; done
  echo "the server did not start; see $DATA/server.log" >&2
  exit 1
}

# First start creates the schema, the tenant and the admin; then seed with the server stopped.
start
kill "$PID"; wait "$PID" 2>/dev/null || true
NOW=$(($(date +%s) * 1000))
sqlite3 "$DATA/updraft.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $TARGETS)
INSERT INTO targets (tenant, controller_id, name, security_token, update_status, request_attributes,
                     created_at, created_by, last_modified_at, last_modified_by, last_poll)
SELECT 'DEFAULT', printf('dev-%06d', i), printf('Device %d', i), lower(hex(randomblob(16))),
       CASE i % 4 WHEN 0 THEN 'in_sync' WHEN 1 THEN 'pending' WHEN 2 THEN 'error' ELSE 'registered' END,
       1, $NOW, 'bench', $NOW, 'bench', $NOW - (i % 900) * 1000
FROM n;
ANALYZE;
SQL
start

# Log in through the form, as a browser does.
COOKIE=$(curl -s -o /dev/null -D - -H "Origin: $URL" \
  --data-urlencode "username=admin" --data-urlencode "password=$PASSWORD" "$URL/ui/login" |
  sed -n 's/^set-cookie: \(updraft_session=[^;]*\).*/\1/ip')
[ -n "$COOKIE" ] || { echo "login failed" >&2; exit 1; }

measure() {
  local label=$1 path=$2
  # One warm-up request, then RUNS measured ones; time to first byte in ms.
  curl -s -o /dev/null -b "$COOKIE" "$URL$path"
  for _ in $(seq "$RUNS"); do
    curl -s -o /dev/null -b "$COOKIE" -w '%{http_code} %{time_starttransfer}\n' "$URL$path"
  done | awk -v label="$label" '
    $1 != 200 { bad++ }
    { t[NR] = $2 * 1000 }
    END {
      n = asort(t)
      printf "| %s | %d | %.1f ms | %.1f ms | %.1f ms | %d |\n", label, n, t[int((n + 1) / 2)], t[int(n * 0.95)], t[n], bad
    }'
}

echo "| view | runs | median | p95 | max | non-200 |"
echo "| --- | --- | --- | --- | --- | --- |"
measure "first page, no filter" "/ui/devices"
measure "RSQL name==*4242*" "/ui/devices?q=name%3D%3D*4242*"
measure "status=error" "/ui/devices?status=error"
measure "last page (offset 99,950)" "/ui/devices?offset=$((TARGETS - 50))"
measure "overview" "/ui"
