#!/usr/bin/env bash
# Console device list (sorted by each column, with a filter) and failures page with a large fleet:
# seeds TARGETS devices (default 100,000) straight into the SQLite database, a quarter of them in
# error with a failed action whose last feedback carries one of four messages, then measures the
# server time of each view with curl's time to first byte over RUNS requests, logged in.
#
#   cargo build --release -p updraft-server && bash bench/ui_fleet.sh
#
# Needs: the release binary, curl, sqlite3. Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-30}"
PORT="${PORT:-18182}"
COOKIE_EXTRA="updraft_columns=lastpoll.type.installed.assigned.tag.ip"
. bench/ui_lib.sh

start
stop
NOW=$(($(date +%s) * 1000))
sqlite3 "$DATA/updraft.db" <<SQL
INSERT INTO distribution_sets (tenant, ds_type_id, name, version, required_migration_step, locked,
                               deleted, valid, created_at, created_by, last_modified_at, last_modified_by)
SELECT 'DEFAULT', (SELECT min(id) FROM ds_types WHERE tenant = 'DEFAULT'), 'bench-os', v, 0, 0, 0, 1,
       $NOW, 'bench', $NOW, 'bench'
FROM (SELECT '1.0' AS v UNION ALL SELECT '1.1' UNION ALL SELECT '1.2');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $TARGETS)
INSERT INTO targets (tenant, controller_id, name, security_token, update_status, request_attributes,
                     created_at, created_by, last_modified_at, last_modified_by, last_poll,
                     installed_ds_id, assigned_ds_id, address)
SELECT 'DEFAULT', printf('dev-%06d', i), printf('Device %d', (i * 7919) % $TARGETS), lower(hex(randomblob(16))),
       CASE i % 4 WHEN 0 THEN 'in_sync' WHEN 1 THEN 'pending' WHEN 2 THEN 'error' ELSE 'registered' END,
       1, $NOW, 'bench', $NOW, 'bench', $NOW - (i % 900) * 1000,
       (SELECT min(id) FROM distribution_sets) + i % 2,
       CASE i % 4 WHEN 1 THEN (SELECT min(id) FROM distribution_sets) + 2 END,
       printf('10.%d.%d.%d', i / 65536, (i / 256) % 256, i % 256)
FROM n;
INSERT INTO actions (tenant, target_id, ds_id, active, action_type, forced_time, weight, status,
                     initiated_by, revision, created_at, created_by, last_modified_at, last_modified_by)
SELECT 'DEFAULT', id, (SELECT min(id) FROM distribution_sets) + 2, 0, 'forced', 0, 1000, 'error',
       'bench', 1, $NOW, 'bench', $NOW, 'bench'
FROM targets WHERE update_status = 'error';
INSERT INTO action_statuses (action_id, status, occurred_at, created_at)
SELECT id, 'error', $NOW, $NOW FROM actions;
INSERT INTO action_status_messages (action_status_id, message)
SELECT id, CASE id % 4 WHEN 0 THEN 'flash write failed' WHEN 1 THEN ' checksum mismatch'
                       WHEN 2 THEN 'no space left on device' ELSE 'signature invalid' END
FROM action_statuses;
ANALYZE;
SQL
start

login

echo "| view (all six optional columns shown) | runs | median | p95 | max | non-200 |"
echo "| --- | --- | --- | --- | --- | --- |"
for sort in name -name lastpoll -lastpoll installed -installed assigned -assigned type -type; do
  measure "sort=$sort" "/ui/devices?sort=$sort"
done
for sort in name -lastpoll installed; do
  measure "status=pending, sort=$sort" "/ui/devices?status=pending&sort=$sort"
done
measure "RSQL updateStatus==error, sort=name, page 100" "/ui/devices?q=updateStatus%3D%3Derror&sort=name&page=100"
measure "failures page" "/ui/failures"
measure "failures: a message group's devices" "/ui/failures/devices?by=message&key=flash%20write%20failed"
