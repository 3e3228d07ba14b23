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

BIN="${CARGO_TARGET_DIR:-target}/release/updraft-server"
TARGETS="${TARGETS:-100000}"
RUNS="${RUNS:-50}"
PORT="${PORT:-18182}"
URL="http://127.0.0.1:$PORT"
DATA="$(mktemp -d)"
PASSWORD="bench-admin-password"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT

start() {
  UPDRAFT_LISTEN="127.0.0.1:$PORT" UPDRAFT_DATA_DIR="$DATA" UPDRAFT_ADMIN_PASSWORD="$PASSWORD" \
    UPDRAFT_LOG=warn UPDRAFT_WORKERS=2 "$BIN" >>"$DATA/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "$URL/ui/login" && return; sleep 0.1; done
  echo "the server did not start; see $DATA/server.log" >&2
  exit 1
}
api() {
  curl -sf -u "admin:$PASSWORD" -H 'Content-Type: application/json' "$@"
}

# First start creates the schema, the tenant and the admin; three sets are made over the API.
start
for v in 1 2 3; do
  SM=$(api -d "[{\"name\":\"fw\",\"version\":\"$v.0\",\"type\":\"os\"}]" "$URL/rest/v1/softwaremodules" | jq '.[0].id')
  api -d "[{\"name\":\"fw\",\"version\":\"$v.0\",\"type\":\"os\",\"modules\":[{\"id\":$SM}]}]" \
    "$URL/rest/v1/distributionsets" >/dev/null
done
kill "$PID"; wait "$PID" 2>/dev/null || true
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
  done | awk '{ print ($1 == 200 ? 0 : 1), $2 * 1000 }' | sort -k2 -n | awk -v label="$label" '
    { bad += $1; t[NR] = $2 }
    END {
      printf "| %s | %d | %.1f ms | %.1f ms | %.1f ms | %d |\n", label, NR, t[int((NR + 1) / 2)], t[int(NR * 0.95)], t[NR], bad
    }'
}

echo "| view | runs | median | p95 | max | non-200 |"
echo "| --- | --- | --- | --- | --- | --- |"
measure "rollout page (5 groups, 20,000 open actions)" "/ui/rollouts/$RID"
measure "overview" "/ui"
measure "set page (fw 2.0)" "/ui/distributions/2"
