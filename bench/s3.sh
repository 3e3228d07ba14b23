#!/usr/bin/env bash
# Artifact download throughput through the DDI endpoint, filesystem store against S3 store, in the
# same run: two servers (SQLite, one HTTP worker, CPU 0), one on `storage = "fs"`, one on an s3s-fs
# bucket on loopback; each serves a SIZE_MIB artifact RUNS times to curl (CPU 1), one at a time,
# then PARALLEL at once. Prints MiB/s per download and the server's CPU seconds per GiB served.
#
#   bash bench/s3.sh     # SIZE_MIB=256 RUNS=5 PARALLEL=4
#
# Needs: the release build (cargo build --release -p updraft-server), s3s-fs (as .ci/run installs
# it, or S3S_FS=path), curl, python3, taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-256}
RUNS=${RUNS:-5}
PARALLEL=${PARALLEL:-4}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
SERVER_BIN=${SERVER_BIN:-$TARGET_DIR/release/updraft-server}
S3S_FS=${S3S_FS:-/var/tmp/updraft-s3s/bin/s3s-fs}
WORK=$(mktemp -d /tmp/updraft-s3-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
GW=bench-gateway
hz=$(getconf CLK_TCK)
. bench/artifact_lib.sh

mkdir -p "$WORK/s3/bench"
"$S3S_FS" --host 127.0.0.1 --port 18190 --access-key bench-key --secret-key bench-secret "$WORK/s3" \
  > "$WORK/s3s.log" 2>&1 &
wait_port 18190
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$WORK/image.bin"

start() { # name port extra-env...
  local name=$1 port=$2
  shift 2
  env UPDRAFT_LISTEN=127.0.0.1:$port UPDRAFT_DATA_DIR=$WORK/$name UPDRAFT_ADMIN_PASSWORD=bench-password \
    UPDRAFT_LOG=warn UPDRAFT_WORKERS=1 "$@" taskset -c 0 "$SERVER_BIN" > "$WORK/$name.log" 2>&1 &
}
# Started in this shell (not in a $(...) subshell), so the EXIT trap stops them.
start fs 18191
FS_PID=$!
start s3 18192 UPDRAFT_STORAGE=s3 UPDRAFT_S3_BUCKET=bench UPDRAFT_S3_ENDPOINT=http://127.0.0.1:18190 \
  UPDRAFT_S3_PATH_STYLE=true AWS_ACCESS_KEY_ID=bench-key AWS_SECRET_ACCESS_KEY=bench-secret
S3_PID=$!
wait_port 18191
wait_port 18192

measure() { # name pid url
  local name=$1 pid=$2 url=$3 before after t0 t1 speeds=() curls=()
  before=$(cpu_ticks "$pid")
  for _ in $(seq "$RUNS"); do
    speeds+=("$(taskset -c 1 curl -sSf -o /dev/null -H "authorization: GatewayToken $GW" \
      -w '%{speed_download}' "$url")")
  done
  t0=$(date +%s.%N)
  for _ in $(seq "$PARALLEL"); do
    taskset -c 1 curl -sSf -o /dev/null -H "authorization: GatewayToken $GW" -H 'range: bytes=1048576-' "$url" &
    curls+=($!)
  done
  wait "${curls[@]}"
  t1=$(date +%s.%N)
  after=$(cpu_ticks "$pid")
  python3 - "$name" "$SIZE_MIB" "$RUNS" "$PARALLEL" "$t0" "$t1" "$((after - before))" "$hz" "${speeds[@]}" <<'EOF'
import statistics, sys
name, size, runs, par, t0, t1, ticks, hz = sys.argv[1:9]
speeds = [float(s) / 1048576 for s in sys.argv[9:]]
size, runs, par = int(size), int(runs), int(par)
served_gib = (size * runs + (size - 1) * par) / 1024
print(f"{name}: one at a time {statistics.median(speeds):.0f} MiB/s median "
      f"(min {min(speeds):.0f}, max {max(speeds):.0f}); {par} ranged at once "
      f"{(size - 1) * par / (float(t1) - float(t0)):.0f} MiB/s total; "
      f"server CPU {int(ticks) / int(hz) / served_gib:.2f} s per GiB served")
EOF
}

echo "--- $SIZE_MIB MiB artifact, $RUNS downloads one at a time, then $PARALLEL ranged at once"
FS_URL=$(prepare 18191)
S3_URL=$(prepare 18192)
measure fs "$FS_PID" "$FS_URL"
measure s3 "$S3_PID" "$S3_URL"
