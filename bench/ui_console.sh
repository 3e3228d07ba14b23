#!/usr/bin/env bash
# The console's rollout page and overview with a large fleet (issue 19, items 1 and 2): seeds
# TARGETS devices (default 100,000) into SQLite, three distribution sets installed and assigned
# across them, and a started rollout of five groups over the whole fleet whose devices never poll
# again (a stuck rollout: 20,000 open actions in its first group, most devices offline). Then
# measures the server time (curl's time to first byte) of the rollout page, the overview and a
# set's page over RUNS requests each, logged in with a UI session.
#
#   cargo build --release -p updraft-server && bash bench/ui_console.sh
#
# Needs: the release binary, curl, sqlite3, jq (any awk). Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-50}"
PORT="${PORT:-18182}"
. bench/ui_lib.sh

# First start creates the schema, the tenant and the admin; three sets are made over the API.
start
three_sets
stop
NOW=$(($(date +%s) * 1000))
# Devices run set 1 or 2 and a third of them have set 2 or 3 assigned; last polls spread over the
# last 15 minutes, so about half are offline for the default 5 + 5 minutes.
sqlite3 "$DATA/updraft.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $TARGETS)
INSERT INTO targets (tenant, controller_id, name, security_token, update_status, request_attributes,
                     created_at, created_by, last_modified_at, last_modified_by, last_poll,
                     installed_ds_id, assigned_ds_id)
SELECT 'DEFAULT', printf('dev-%06d', i), printf('Device %d', i), lower(hex(randomblob(16))),
       'in_sync', 1, $NOW, 'bench', $NOW, 'bench', $NOW - (i % 900) * 1000,
       1 + i % 2, CASE i % 3 WHEN 0 THEN 2 + i % 2 ELSE 1 + i % 2 END
FROM n;
ANALYZE;
SQL
start

# A rollout over the whole fleet, started: its first group's devices never poll again.
echo "creating and starting the rollout" >&2
RID=$(api -d '{"name":"stuck","distributionSetId":3,"targetFilterQuery":"controllerId==dev-*","amountGroups":5,"successCondition":{"condition":"THRESHOLD","expression":"100"}}' \
  "$URL/rest/v1/rollouts" | jq .id)
api -X POST "$URL/rest/v1/rollouts/$RID/start" >/dev/null
for _ in $(seq 600); do
  [ "$(api "$URL/rest/v1/rollouts/$RID" | jq -r .status)" = running ] && break
  sleep 0.5
done

login

echo "| view | runs | median | p95 | max | non-200 |"
echo "| --- | --- | --- | --- | --- | --- |"
measure "rollout page (5 groups, 20,000 open actions)" "/ui/rollouts/$RID"
measure "overview" "/ui"
measure "set page (fw 2.0)" "/ui/distributions/2"
