#!/usr/bin/env bash
# Every page of the web console with a large fleet (issue 19's bar: each page <= 20 ms server time
# at 100,000 devices). Seeds TARGETS devices (default 100,000) into SQLite, or with DB=postgres into a
# fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, trust): three distribution sets
# installed and assigned across them and a fourth assigned to none (fw 2.0 and 4.0 with a chunk
# file for delta updates; two thirds of the devices are Updraft agents), a quarter of the devices in error with a failed action whose
# last feedback carries one of four messages, and a started rollout of five groups over the other
# 75,000 whose devices never poll again (15,000 open actions in its first group, 60,000 scheduled,
# most devices offline). Then measures the server time (curl's time to first byte) of each page over RUNS
# requests, logged in with a UI session.
#
#   cargo build --release -p updraft-server && bash bench/ui_pages.sh && DB=postgres bash bench/ui_pages.sh
#
# Needs: the release binary, curl, sqlite3 or psql, jq (any awk). Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-30}"
PORT="${PORT:-18183}"
DB="${DB:-sqlite}"
. bench/ui_lib.sh
case $DB in
  sqlite) DATABASE_URL="" ;;
  postgres)
    PGDB="updraft_bench_ui_$$"
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $PGDB" >/dev/null
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/$PGDB"
    # KEEP_DB=1 keeps the seeded database (named on stderr), to profile its queries with psql.
    trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA";
          if [ -n "${KEEP_DB:-}" ]; then echo "kept database $PGDB" >&2; else
          psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1 || true; fi' EXIT
    ;;
  *) echo "DB is sqlite or postgres, not '$DB'" >&2; exit 2 ;;
esac

# The seed's SQL in the database's dialect.
if [ "$DB" = postgres ]; then
  SQL_RUN() { psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d "$PGDB" >/dev/null; }
  SERIES="generate_series(1, $TARGETS) AS n(i)"
  CID="'dev-' || lpad(i::text, 6, '0')"
  NAME="'Device ' || ((i::bigint * 7919) % $TARGETS)"
  TOKEN="md5(random()::text)"
  ADDR="'10.' || (i / 65536) || '.' || ((i / 256) % 256) || '.' || (i % 256)"
  TRUE=true FALSE=false
else
  SQL_RUN() { sqlite3 "$DATA/updraft.db"; }
  SERIES="(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $TARGETS) SELECT i FROM n) AS n"
  CID="printf('dev-%06d', i)"
  NAME="printf('Device %d', (i * 7919) % $TARGETS)"
  TOKEN="lower(hex(randomblob(16)))"
  ADDR="printf('10.%d.%d.%d', i / 65536, (i / 256) % 256, i % 256)"
  TRUE=1 FALSE=0
fi

# First start creates the schema, the tenant and the admin; three sets are made over the API, and
# a fourth that nobody has assigned. fw 2.0 and fw 4.0 carry a `.zck` (a chunk file for delta
# updates), so their pages show the Delta panel: who would take a chunk delta or the full download.
start
three_sets
sm=$(api -d '[{"name":"fw","version":"4.0","type":"os"}]' "$URL/rest/v1/softwaremodules" | jq '.[0].id')
api -d "[{\"name\":\"fw\",\"version\":\"4.0\",\"type\":\"os\",\"modules\":[{\"id\":$sm}]}]" \
  "$URL/rest/v1/distributionsets" >/dev/null
head -c 65536 /dev/urandom >"$DATA/fw.zck"
for m in 2 "$sm"; do
  curl -sf -u "admin:$PASSWORD" -F "file=@$DATA/fw.zck" "$URL/rest/v1/softwaremodules/$m/artifacts" >/dev/null
done
stop
NOW=$(($(date +%s) * 1000))
# Devices run set 1 or 2; a quarter each in_sync, pending (set 3 assigned), error (set 3 failed)
# and registered; last polls spread over the last 15 minutes, so about half are offline for the
# default 5 + 5 minutes.
SQL_RUN <<SQL
INSERT INTO targets (tenant, controller_id, name, security_token, update_status, request_attributes,
                     created_at, created_by, last_modified_at, last_modified_by, last_poll,
                     installed_ds_id, assigned_ds_id, address)
SELECT 'DEFAULT', $CID, $NAME, $TOKEN,
       CASE i % 4 WHEN 0 THEN 'in_sync' WHEN 1 THEN 'pending' WHEN 2 THEN 'error' ELSE 'registered' END,
       $TRUE, $NOW, 'bench', $NOW, 'bench', $NOW - (i % 900) * 1000,
       1 + i % 2, CASE i % 4 WHEN 1 THEN 3 ELSE 1 + i % 2 END,
       $ADDR
FROM $SERIES;
-- Two thirds of the devices are Updraft agents: which delta forms they take.
INSERT INTO target_attributes (target_id, attr_key, attr_value)
SELECT id, 'updraft.delta', CASE id % 3 WHEN 0 THEN 'chunk,patch' ELSE 'chunk' END
FROM targets WHERE id % 3 <> 2;
INSERT INTO actions (tenant, target_id, ds_id, active, action_type, forced_time, weight, status,
                     initiated_by, revision, created_at, created_by, last_modified_at, last_modified_by)
SELECT 'DEFAULT', id, 3, $FALSE, 'forced', 0, 1000, 'error', 'bench', 1, $NOW, 'bench', $NOW, controller_id
FROM targets WHERE update_status = 'error';
INSERT INTO action_statuses (action_id, status, occurred_at, created_at)
SELECT id, 'running', $NOW - 60000, $NOW - 60000 FROM actions;
INSERT INTO action_statuses (action_id, status, occurred_at, created_at)
SELECT id, 'error', $NOW, $NOW FROM actions;
INSERT INTO action_status_messages (action_status_id, message)
SELECT id, CASE id % 4 WHEN 0 THEN 'flash write failed' WHEN 1 THEN ' checksum mismatch'
                       WHEN 2 THEN 'no space left on device' ELSE 'signature invalid' END
FROM action_statuses WHERE status = 'error';
SQL
# The rows above bypass the write paths (the database's triggers still keep their counts); where the
# schema keeps each action's last status message on the action (migration ui_speed), fill it in as
# that migration's backfill does.
if [ "$DB" = postgres ] || [ -n "$(sqlite3 "$DATA/updraft.db" "SELECT 1 FROM pragma_table_info('actions') WHERE name = 'last_message'")" ]; then
  echo "UPDATE actions SET last_message = COALESCE((SELECT trim(m.message)
    FROM action_status_messages m WHERE m.action_status_id = (SELECT max(s.id) FROM action_statuses s
    WHERE s.action_id = actions.id) ORDER BY m.id DESC LIMIT 1), '');" | SQL_RUN
fi
# Statistics for the planner; on PostgreSQL also the visibility map that autovacuum would set
# soon after such a bulk load (index-only scans need it).
if [ "$DB" = postgres ]; then echo "VACUUM ANALYZE;" | SQL_RUN; else echo "ANALYZE;" | SQL_RUN; fi
start

# A rollout over the devices not in error (75,000), started: its first group's devices never poll
# again. (Before migration failed_latest, a device in error with a newer scheduled rollout action
# did not count as failed; the rollout leaves those devices out so both builds count 25,000.)
echo "creating and starting the rollout" >&2
RID=$(api -d '{"name":"stuck","distributionSetId":3,"targetFilterQuery":"updateStatus!=error","amountGroups":5,"successCondition":{"condition":"THRESHOLD","expression":"100"}}' \
  "$URL/rest/v1/rollouts" | jq .id)
api -X POST "$URL/rest/v1/rollouts/$RID/start" >/dev/null
for _ in $(seq 600); do
  [ "$(api "$URL/rest/v1/rollouts/$RID" | jq -r .status)" = running ] && break
  sleep 0.5
done

# PostgreSQL's count triggers append rows (the seed's 100,000 targets, the rollout's 75,000 actions)
# that the scheduler folds on its next pass, 2 s apart; until then readers sum them. Measure the
# steady state: wait until each counts table is folded (at most 256 rows).
if [ "$DB" = postgres ]; then
  unfolded() {
    psql -Atq -h 127.0.0.1 -U postgres -d "$PGDB" -c "SELECT count(*) FROM target_counts"
    if [ "$(psql -Atq -h 127.0.0.1 -U postgres -d "$PGDB" -c "SELECT to_regclass('rollout_group_counts') IS NOT NULL")" = t ]; then
      psql -Atq -h 127.0.0.1 -U postgres -d "$PGDB" -c "SELECT count(*) FROM rollout_group_counts"
    fi
  }
  for _ in $(seq 300); do
    unfolded | awk '$1 > 256 { big = 1 } END { exit big }' && break
    sleep 0.2
  done
  # Statistics and a visibility map that count the rollout's 75,000 new actions, as autovacuum's
  # insert-triggered run would within its minute: the seed's saw only the 25,000 failed ones.
  echo "VACUUM ANALYZE;" | SQL_RUN
fi

login

echo "| page | runs | median | p95 | max | non-200 |"
echo "| --- | --- | --- | --- | --- | --- |"
measure "overview" "/ui"
measure "devices" "/ui/devices"
measure "devices, status=error" "/ui/devices?status=error"
measure "devices, RSQL updateStatus==pending" "/ui/devices?q=updateStatus%3D%3Dpending"
measure "devices, sort=-lastpoll, page 100" "/ui/devices?sort=-lastpoll&page=100"
measure "device page (failed, then in a rollout)" "/ui/devices/dev-000002"
measure "fleet health" "/ui/fleet"
measure "software modules" "/ui/software"
measure "software module" "/ui/software/1"
measure "distribution sets" "/ui/distributions"
measure "distribution set (fw 3.0)" "/ui/distributions/3"
measure "distribution set with a .zck (fw 2.0)" "/ui/distributions/2"
measure "distribution set with a .zck, not assigned (fw 4.0)" "/ui/distributions/4"
measure "rollouts" "/ui/rollouts"
measure "rollout (5 groups, 15,000 open actions)" "/ui/rollouts/$RID"
measure "new rollout form" "/ui/rollouts/new"
measure "new rollout: match preview" "/ui/rollouts/preview?q=controllerId%3D%3Ddev-*&ds=3"
measure "failures" "/ui/failures"
measure "failures: a message's devices" "/ui/failures/devices?by=message&key=flash%20write%20failed"
measure "failures: a set's devices" "/ui/failures/devices?by=set&key=3"
measure "settings" "/ui/settings"

# KEEP_DB=path keeps a copy of the seeded SQLite database, to profile its queries with sqlite3.
if [ -n "${KEEP_DB:-}" ] && [ "$DB" = sqlite ]; then stop; cp "$DATA/updraft.db" "$KEEP_DB"; fi
