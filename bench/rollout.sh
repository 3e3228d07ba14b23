#!/usr/bin/env bash
# Rollout benchmarks (issue 5), server on CPU 0, simulator on CPU 1:
#  1. A rollout of a SIZE_MIB artifact to DEVICES simulated devices end to end, in ROLLOUT_GROUPS groups with
#     hawkBit's default conditions (next group at 50 % success): devices/s, MB/s, the server's peak RSS.
#  2. Creating (and starting, and deleting) a rollout over TARGETS targets: wall time of each call.
#
#   bash bench/rollout.sh              # DEVICES=1000 SIZE_MIB=1 ROLLOUT_GROUPS=5 TARGETS=100000, SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1/bench bash bench/rollout.sh   # on PostgreSQL
#   SCENARIOS="1x1s 5x1s 1x200ms 5x200ms" TARGETS=0 bash bench/rollout.sh   # several rollouts, one run
#
# Needs: cargo build --release -p updraft-server -p updraft-sim, curl, python3, taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-1000}
SIZE_MIB=${SIZE_MIB:-1}
ROLLOUT_GROUPS=${ROLLOUT_GROUPS:-5}
TARGETS=${TARGETS:-100000}
PORT=${PORT:-18093}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
SERVER_BIN=${SERVER_BIN:-$TARGET_DIR/release/updraft-server}
SIM=${SIM:-$TARGET_DIR/release/updraft-sim}
WORK=$(mktemp -d /tmp/updraft-rollout-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
URL=http://127.0.0.1:$PORT
GW=bench-gateway
ulimit -n 65536 2>/dev/null || true

api() { curl -sSf -u admin:bench-password -H 'content-type: application/json' "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
now_ms() { date +%s%3N; }
peak_rss() { awk '/VmHWM/ {print $2 / 1024 " MiB"}' "/proc/$SERVER/status"; }
busy() { awk '/^cpu[01] / {printf "%d ", $2 + $3 + $4 + $7 + $8}' /proc/stat; } # user nice system irq softirq

env ${DATABASE_URL:+UPDRAFT_DATABASE_URL=$DATABASE_URL} \
  UPDRAFT_LISTEN=127.0.0.1:$PORT UPDRAFT_DATA_DIR=$WORK/data UPDRAFT_ADMIN_PASSWORD=bench-password \
  UPDRAFT_LOG=warn UPDRAFT_WORKERS=1 UPDRAFT_MIN_POLLING_TIME=00:00:01 \
  taskset -c 0 "$SERVER_BIN" > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -s -o /dev/null "$URL/rest/v1/targets" && break; sleep 0.1; done
api -X PUT "$URL/rest/v1/system/configs/authentication.gatewaytoken.enabled" -d '{"value":true}' > /dev/null
api -X PUT "$URL/rest/v1/system/configs/authentication.gatewaytoken.key" -d "{\"value\":\"$GW\"}" > /dev/null

create_targets() { # prefix count
  for ((b = 0; b < $2; b += 1000)); do
    local end=$(($b + 1000 < $2 ? $b + 1000 : $2))
    python3 -c "import json; print(json.dumps([{'controllerId': '$1%05d' % i} for i in range($b, $end)]))" \
      | api -X POST "$URL/rest/v1/targets" -d @- > /dev/null
  done
}

head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$WORK/image.bin"
SM=$(api -X POST "$URL/rest/v1/softwaremodules" -d '[{"name":"bench","version":"1","type":"os"}]' | json '[0]["id"]')
curl -sSf -u admin:bench-password "$URL/rest/v1/softwaremodules/$SM/artifacts" -F "file=@$WORK/image.bin" > /dev/null
DS=$(api -X POST "$URL/rest/v1/distributionsets" \
  -d "[{\"name\":\"bench\",\"version\":\"1\",\"type\":\"os\",\"modules\":[{\"id\":$SM}]}]" | json '[0]["id"]')

# One rollout per scenario GROUPSxPOLL (groups, and the simulator's poll period), each over its own
# DEVICES fresh targets, one after another against the same server: side by side in one run.
rollout_run() { # groups poll-period prefix
  local groups=$1 poll=$2 prefix=$3
  echo "--- 1. a rollout of $SIZE_MIB MiB to $DEVICES devices in $groups groups, devices polling every $poll"
  create_targets "$prefix" "$DEVICES"
  local rid t0 t1 t2 status secs
  rid=$(api -X POST "$URL/rest/v1/rollouts" -d "{\"name\":\"fleet-$prefix\",\"distributionSetId\":$DS,\
\"targetFilterQuery\":\"controllerId==$prefix*\",\"amountGroups\":$groups}" | json '["id"]')
  local b0 b1
  b0=$(busy)
  t0=$(now_ms)
  api -X POST "$URL/rest/v1/rollouts/$rid/start" > /dev/null
  taskset -c 1 "$SIM" --server "$URL" --gateway-token "$GW" --concurrency "${CONCURRENCY:-64}" --devices "$DEVICES" \
    --id-prefix "$prefix" --poll-interval "$poll" --until-done 1 --duration 3m | sed 's/^/sim: /'
  t1=$(now_ms)
  for _ in $(seq 500); do
    status=$(api "$URL/rest/v1/rollouts/$rid" | json '["status"]')
    [ "$status" = finished ] && break
    sleep 0.01
  done
  t2=$(now_ms)
  b1=$(busy)
  secs=$(python3 -c "print(($t2 - $t0) / 1000)")
  echo "rollout $status after $secs s (start to last feedback: $(python3 -c "print(($t1 - $t0) / 1000)") s):" \
    "$(python3 -c "print(round($DEVICES / $secs, 1))") devices/s," \
    "$(python3 -c "print(round($DEVICES * $SIZE_MIB * 1.048576 / $secs, 1))") MB/s"
  # Each group's last change (its `finished`), in seconds after the start call.
  api "$URL/rest/v1/rollouts/$rid/deploygroups?limit=100" | python3 -c "import json,sys
gs = sorted(json.load(sys.stdin)['content'], key=lambda g: g['id'])
print('groups finished at: ' + ', '.join('%.2f s' % ((g['lastModifiedAt'] - $t0) / 1000) for g in gs))"
  api "$URL/rest/v1/rollouts/$rid" | json '["totalTargetsPerStatus"]' | sed 's/^/totals: /'
  python3 -c "b0, b1 = '$b0'.split(), '$b1'.split(); hz = $(getconf CLK_TCK); s = ($t2 - $t0) / 1000
print('busy: CPU 0 (server) %.0f %%, CPU 1 (simulator) %.0f %%' % tuple(100 * (int(y) - int(x)) / hz / s for x, y in zip(b0, b1)))"
  RID=$rid
}

n=0
for scenario in ${SCENARIOS:-${ROLLOUT_GROUPS}x1s}; do
  rollout_run "${scenario%%x*}" "${scenario#*x}" "dl$n-"
  n=$((n + 1))
done
echo "server peak RSS so far: $(peak_rss)"

[ "$TARGETS" -gt 0 ] || exit 0
echo "--- 2. a rollout over $TARGETS targets"
t0=$(now_ms); create_targets big- "$TARGETS"; t1=$(now_ms)
echo "creating $TARGETS targets through the API: $(((t1 - t0))) ms"
for run in 1 2 3; do
  t0=$(now_ms)
  RID=$(api -X POST "$URL/rest/v1/rollouts" -d "{\"name\":\"big-$run\",\"distributionSetId\":$DS,\
\"targetFilterQuery\":\"controllerId==big-*\",\"amountGroups\":10}" | json '["id"]')
  t1=$(now_ms)
  api -X POST "$URL/rest/v1/rollouts/$RID/start" > /dev/null
  t2=$(now_ms)
  api -X DELETE "$URL/rest/v1/rollouts/$RID" > /dev/null
  t3=$(now_ms)
  echo "run $run: create $((t1 - t0)) ms, start (100 % of actions scheduled, first 10 % running)" \
    "$((t2 - t1)) ms, delete (running ones canceled) $((t3 - t2)) ms"
done
echo "server peak RSS: $(peak_rss)"
