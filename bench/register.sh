#!/usr/bin/env bash
# Registration storm and cold polls (issue 16), server on CPU 0, simulator on CPU 1:
#  1. DEVICES unknown devices register through DDI plug-and-play at once: each polls with the
#     gateway token (the server creates its target) and answers the server's configData request;
#     a device counts once its PUT configData got its 200. Devices per second and server CPU.
#  2. The server restarts (empty device cache) and every device polls once: each poll is a cache
#     miss that loads the device from the database. Server CPU per cold poll.
#  3. Still cold after a second restart: every device polls every 30 s, first polls spread over
#     30 s, for 30 s. Server CPU as a share of one core.
#
#   bash bench/register.sh                 # DB=sqlite DEVICES=100000 CONCURRENCY=64
#   DB=postgres bash bench/register.sh     # a fresh database on PG (127.0.0.1:5432, user postgres)
#
# PERF=<dir> records a profile of CPU 0 (the server's) per phase (perf record -g -C 0) into <dir>.
# Machine CPU (all processes, PostgreSQL's included) is from /proc/stat over the same window.
# Needs: a release build (cargo build --release -p updraft-server -p updraft-sim), curl, bc, taskset;
# psql for DB=postgres.
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${DB:-sqlite}
DEVICES=${DEVICES:-100000}
CONCURRENCY=${CONCURRENCY:-64}
PHASES=${PHASES:-123}
PORT=${PORT:-18093}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
SERVER_BIN=${SERVER_BIN:-$TARGET_DIR/release/updraft-server}
SIM=${SIM:-$TARGET_DIR/release/updraft-sim}
WORK=$(mktemp -d /tmp/updraft-register-bench.XXXXXX)
PGDB=updraft_register_$$_$(date +%s)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "$DB" = postgres ]; then psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $PGDB" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
URL=http://127.0.0.1:$PORT
GW=bench-gateway
ulimit -n 65536 2>/dev/null || true

case $DB in
  sqlite) DATABASE_URL=$WORK/data/updraft.db ;;
  postgres)
    psql -q "$PG/postgres" -c "CREATE DATABASE $PGDB"
    DATABASE_URL=$PG/$PGDB ;;
  *) echo "DB must be sqlite or postgres" >&2; exit 2 ;;
esac

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
hz=$(getconf CLK_TCK)
api() { curl -sSf -u admin:bench-password -H 'content-type: application/json' "$@"; }

start_server() {
  UPDRAFT_LISTEN=127.0.0.1:$PORT UPDRAFT_DATA_DIR=$WORK/data UPDRAFT_DATABASE_URL=$DATABASE_URL \
    UPDRAFT_ADMIN_PASSWORD=bench-password UPDRAFT_LOG=warn UPDRAFT_WORKERS=1 \
    taskset -c 0 "$SERVER_BIN" >> "$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 300); do curl -s -o /dev/null "$URL/rest/v1/targets" && return; sleep 0.1; done
  echo "the server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1
}
stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }

sim() { # simulator arguments; prints its report's summary lines
  taskset -c 1 "$SIM" --server "$URL" --gateway-token "$GW" --concurrency "$CONCURRENCY" \
    --devices "$DEVICES" --id-prefix reg- "$@" > "$WORK/sim.txt" || echo "(simulator exit status $?)"
  sed 's/^/  sim: /' "$WORK/sim.txt"
}

# measure LABEL UNIT SIMARGS...: runs the simulator, prints wall time, rate and CPU.
measure() {
  local label=$1 count=$2; shift 2
  local c0 b0 t0 c1 b1 t1
  c0=$(cpu_ticks "$SERVER"); b0=$(busy_ticks); t0=$(date +%s.%N)
  if [ -n "${PERF:-}" ]; then # PERF=dir: a profile of the server per phase
    perf record -q -F 499 ${PERF_CALLGRAPH:--g} -C 0 -o "$PERF/${label%%.*}.data" 2>/dev/null & PERF_PID=$!
  fi
  sim "$@"
  if [ -n "${PERF:-}" ]; then kill -INT "$PERF_PID"; wait "$PERF_PID" || true; fi
  c1=$(cpu_ticks "$SERVER"); b1=$(busy_ticks); t1=$(date +%s.%N)
  python3 - "$label" "$count" "$c0" "$c1" "$b0" "$b1" "$t0" "$t1" "$hz" <<'PY'
import sys
label, n = sys.argv[1], int(sys.argv[2])
c0, c1, b0, b1 = (int(x) for x in sys.argv[3:7])
t0, t1, hz = float(sys.argv[7]), float(sys.argv[8]), int(sys.argv[9])
wall, cpu, busy = t1 - t0, (c1 - c0) / hz, (b1 - b0) / hz
print(f"{label}: {n} in {wall:.2f} s = {n / wall:,.0f}/s; server CPU {cpu:.2f} s "
      f"({cpu / wall * 100:.0f} % of one core, {cpu / n * 1e6:.1f} us each); "
      f"machine CPU {busy:.2f} s ({busy / n * 1e6:.1f} us each)")
PY
}

echo "--- $DB, $DEVICES devices, $CONCURRENCY requests in flight, server on CPU 0, simulator on CPU 1"
start_server
api -X PUT "$URL/rest/v1/system/configs/authentication.gatewaytoken.enabled" -d '{"value":true}' > /dev/null
api -X PUT "$URL/rest/v1/system/configs/authentication.gatewaytoken.key" -d "{\"value\":\"$GW\"}" > /dev/null

if [[ $PHASES == *1* ]]; then
  measure "1. registration (poll + configData)" "$DEVICES" --until-registered --duration 30m
  total=$(api "$URL/rest/v1/targets?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  echo "  targets stored: $total"
fi
if [[ $PHASES == *2* ]]; then
  sleep 11 # the batched poll times flush
  stop_server; start_server
  measure "2. cold polls after a restart" "$DEVICES" --until-polls 1 --poll-interval 1h --duration 30m
fi
if [[ $PHASES == *3* ]]; then
  stop_server; start_server
  measure "3. restart, every device polls every 30 s for 30 s" "$DEVICES" \
    --poll-interval 30s --ramp-up 30s --duration 30s
fi
echo "server RSS at the end: $(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status") kB"
