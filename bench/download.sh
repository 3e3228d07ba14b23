#!/usr/bin/env bash
# Artifact download throughput through the DDI endpoint against nginx serving the very same file
# (the blob in the server's artifact store, `sendfile on`) in the same run. Each server (release
# build, SQLite, filesystem store, one HTTP worker) and nginx (one worker) runs on CPU 0, curl on
# CPU 1. Per round: a whole download and a large range (`bytes=1048576-`) from each, one at a time,
# each round starting with the next endpoint; RUNS rounds. Prints medians (MiB/s), each server's
# ratio to nginx in the same run, its CPU seconds per GiB served, and its RSS idle after start-up
# and idle after the downloads.
#
#   bash bench/download.sh                           # SIZE_MIB=200 RUNS=7
#   BASE_BIN=path/to/old/updraft-server bash bench/download.sh   # also an older build, same run
#
# Needs: the release build (cargo build --release -p updraft-server), nginx, curl, python3, taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-200}
RUNS=${RUNS:-7}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
SERVER_BIN=${SERVER_BIN:-$TARGET_DIR/release/updraft-server}
BASE_BIN=${BASE_BIN:-}
WORK=$(mktemp -d /tmp/updraft-dl-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
GW=bench-gateway
RANGE=bytes=1048576-
hz=$(getconf CLK_TCK)
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
. bench/artifact_lib.sh

head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$WORK/image.bin"

start() { # name port bin
  env UPDRAFT_LISTEN=127.0.0.1:$2 UPDRAFT_DATA_DIR=$WORK/$1 UPDRAFT_ADMIN_PASSWORD=bench-password \
    UPDRAFT_LOG=warn UPDRAFT_WORKERS=1 taskset -c 0 "$3" > "$WORK/$1.log" 2>&1 &
}

names=(after)
bins=("$SERVER_BIN")
if [ -n "$BASE_BIN" ]; then
  names=(before after)
  bins=("$BASE_BIN" "$SERVER_BIN")
fi
declare -A PID URL IDLE0
port=18290
for i in "${!names[@]}"; do
  start "${names[$i]}" $port "${bins[$i]}"
  PID[${names[$i]}]=$!
  wait_port $port
  URL[${names[$i]}]=$(prepare $port)
  sleep 2
  IDLE0[${names[$i]}]=$(rss_kb "${PID[${names[$i]}]}")
  port=$((port + 1))
done

# nginx serves the blob the first server stored: the same file, the same page cache.
BLOB=$(find "$WORK/${names[0]}/artifacts" -type f -size +1M | head -1)
cat > "$WORK/nginx.conf" <<NGINX
$([ "$(id -u)" = 0 ] && echo 'user root root;')
worker_processes 1;
worker_cpu_affinity 01;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  server {
    listen 127.0.0.1:18289;
    location = /image.bin { alias $BLOB; default_type application/octet-stream; }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" &
wait_port 18289
URL[nginx]=http://127.0.0.1:18289/image.bin
# The blob into the page cache, and each endpoint checked to serve the same bytes.
want=$(sha256sum < "$WORK/image.bin")
for n in nginx "${names[@]}"; do
  got=$(curl -sSf -H "authorization: GatewayToken $GW" "${URL[$n]}" | sha256sum)
  [ "$got" = "$want" ] || { echo "$n served other bytes" >&2; exit 1; }
done

busy() { awk '/^cpu[01] / {printf "%d %d ", $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }
speed() { # url [range] -> MiB/s, and each CPU's busy share during the download to $WORK/busy.<endpoint>
  local b0 b1
  b0=$(busy)
  taskset -c 1 curl -sSf -o /dev/null -H "authorization: GatewayToken $GW" ${2:+-H "range: $2"} \
    -w '%{speed_download}\n' "$1"
  b1=$(busy)
  echo "$b0 $b1" >> "$WORK/busy.$n"
}
declare -A T0
for n in "${names[@]}"; do T0[$n]=$(cpu_ticks "${PID[$n]}"); done
# Each round starts with the next endpoint, so that none always goes first (or last).
order=(nginx "${names[@]}")
for r in $(seq "$RUNS"); do
  for k in "${!order[@]}"; do
    n=${order[$(((k + r) % ${#order[@]}))]}
    speed "${URL[$n]}" >> "$WORK/$n.full"
    speed "${URL[$n]}" "$RANGE" >> "$WORK/$n.range"
  done
done
sleep 2
echo "--- $SIZE_MIB MiB artifact, $RUNS rounds (whole, then $RANGE), servers and nginx on CPU 0, curl on CPU 1"
for n in nginx "${names[@]}"; do
  cpu=0 idle0=0 idle1=0
  if [ "$n" != nginx ]; then
    cpu=$(($(cpu_ticks "${PID[$n]}") - T0[$n]))
    idle0=${IDLE0[$n]}
    idle1=$(rss_kb "${PID[$n]}")
  fi
  python3 - "$n" "$WORK" "$SIZE_MIB" "$RUNS" "$cpu" "$hz" "$idle0" "$idle1" <<'EOF'
import statistics, sys
n, work, size, runs, cpu, hz, idle0, idle1 = sys.argv[1:9]
def med(kind):
    xs = [float(l) / 1048576 for l in open(f"{work}/{kind}") if l.strip()]
    return statistics.median(xs), min(xs), max(xs)
full, rng = med(f"{n}.full"), med(f"{n}.range")
nfull, nrng = med("nginx.full"), med("nginx.range")
line = (f"{n:<7} whole {full[0]:5.0f} MiB/s ({full[1]:.0f}-{full[2]:.0f}, {full[0] / nfull[0]:.2f}x nginx)  "
        f"range {rng[0]:5.0f} MiB/s ({rng[1]:.0f}-{rng[2]:.0f}, {rng[0] / nrng[0]:.2f}x nginx)")
busy = [list(map(int, l.split())) for l in open(f"{work}/busy.{n}")]
def share(i):  # busy ticks / all ticks of CPU i over the downloads
    return sum(b[4 + 2 * i] - b[2 * i] for b in busy) / max(1, sum(b[5 + 2 * i] - b[1 + 2 * i] for b in busy))
line += f"  busy CPU 0 {100 * share(0):.0f} %, CPU 1 (curl) {100 * share(1):.0f} %"
if n != "nginx":
    gib = int(runs) * (2 * int(size) - 1) / 1024
    line += (f"  CPU {int(cpu) / int(hz) / gib:.2f} s/GiB  RSS idle {int(idle0) / 1024:.1f} MiB, "
             f"after {int(idle1) / 1024:.1f} MiB")
print(line)
EOF
done
