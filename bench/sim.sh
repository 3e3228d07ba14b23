#!/usr/bin/env bash
# End-to-end benchmarks with the device simulator (issue 5), server on CPU 0, simulator on CPU 1:
#  1. DEVICES devices take a SIZE_MIB artifact: assignment of all in one call, download with the
#     SHA-256 check, `closed`/`success` feedback; the time until every device has reported.
#  2. Steady polling of POLL_DEVICES devices at POLL_INTERVAL for POLL_DURATION, with the server's
#     CPU per poll. A warm-up of two polls per device first registers them and sends the attributes
#     (configData) the server asks new targets for, so the measured run polls only.
#
#   bash bench/sim.sh     # DEVICES=1000 SIZE_MIB=1 POLL_DEVICES=100000 POLL_INTERVAL=10s POLL_DURATION=60s
#
# Needs: cargo build --release -p updraft-server -p updraft-sim, curl, python3, taskset, bc, GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-1000}
SIZE_MIB=${SIZE_MIB:-1}
POLL_DEVICES=${POLL_DEVICES:-100000}
POLL_INTERVAL=${POLL_INTERVAL:-10s}
POLL_DURATION=${POLL_DURATION:-60s}
CONCURRENCY=${CONCURRENCY:-64}
PORT=${PORT:-18092}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
SERVER_BIN=${SERVER_BIN:-$TARGET_DIR/release/updraft-server}
SIM=${SIM:-$TARGET_DIR/release/updraft-sim}
WORK=$(mktemp -d /tmp/updraft-sim-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
URL=http://127.0.0.1:$PORT
GW=bench-gateway
ulimit -n 65536 2>/dev/null || true

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
api() { curl -sSf -u admin:bench-password -H 'content-type: application/json' "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

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

sim() { # the simulator's report, then its own CPU time and peak RSS
  /usr/bin/time -f "simulator CPU: %U s user + %S s system, peak RSS %M kB" \
    taskset -c 1 "$SIM" --server "$URL" --gateway-token "$GW" --concurrency "$CONCURRENCY" "$@" \
    || echo "(simulator exit status $?)"
}

echo "--- 1. $DEVICES devices download a $SIZE_MIB MiB artifact"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$WORK/image.bin"
SM=$(api -X POST "$URL/rest/v1/softwaremodules" -d '[{"name":"bench","version":"1","type":"os"}]' | json '[0]["id"]')
curl -sSf -u admin:bench-password "$URL/rest/v1/softwaremodules/$SM/artifacts" -F "file=@$WORK/image.bin" > /dev/null
DS=$(api -X POST "$URL/rest/v1/distributionsets" \
  -d "[{\"name\":\"bench\",\"version\":\"1\",\"type\":\"os\",\"modules\":[{\"id\":$SM}]}]" | json '[0]["id"]')
create_targets dl- "$DEVICES"
python3 -c "import json; print(json.dumps([{'id': 'dl-%05d' % i} for i in range($DEVICES)]))" \
  | api -X POST "$URL/rest/v1/distributionsets/$DS/assignedTargets" -d @- > /dev/null
c0=$(cpu_ticks "$SERVER")
sim --devices "$DEVICES" --id-prefix dl- --poll-interval 1s --until-done 1 --duration 10m
c1=$(cpu_ticks "$SERVER")
echo "server CPU: $(echo "scale=2; ($c1 - $c0) / $hz" | bc) s"
api "$URL/rest/v1/targets?q=updateStatus==in_sync&limit=1" | json '["total"]' | sed 's/^/targets in_sync: /'

echo "--- 2. steady polling: $POLL_DEVICES devices every $POLL_INTERVAL for $POLL_DURATION"
create_targets poll- "$POLL_DEVICES"
sim --devices "$POLL_DEVICES" --id-prefix poll- --poll-interval "$POLL_INTERVAL" --ramp-up "$POLL_INTERVAL" \
  --until-polls 2 --duration 10m | sed 's/^/warm-up: /'
sleep 11 # the batched poll times flush
c0=$(cpu_ticks "$SERVER")
sim --devices "$POLL_DEVICES" --id-prefix poll- --poll-interval "$POLL_INTERVAL" --ramp-up "$POLL_INTERVAL" \
  --duration "$POLL_DURATION"
c1=$(cpu_ticks "$SERVER")
echo "server CPU: $(echo "scale=2; ($c1 - $c0) / $hz" | bc) s; RSS $(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status") kB"
