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

RUNS="${RUNS:-50}"
PORT="${PORT:-18181}"
. bench/ui_lib.sh

# First start creates the schema, the tenant and the admin; then seed with the server stopped.
start
stop
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

login

echo "| view | runs | median | p95 | max | non-200 |"
echo "| --- | --- | --- | --- | --- | --- |"
measure "first page, no filter" "/ui/devices"
measure "RSQL name==*4242*" "/ui/devices?q=name%3D%3D*4242*"
measure "status=error" "/ui/devices?status=error"
measure "last page (offset 99,950)" "/ui/devices?offset=$((TARGETS - 50))"
measure "overview" "/ui"
