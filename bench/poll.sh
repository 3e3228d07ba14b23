#!/usr/bin/env bash
# The DDI poll benchmark (issue: server foundation). Starts a release updraft-server pinned to CPU 0,
# registers DEVICES targets with their own TargetTokens, polls each once (registration + cache
# warm-up), then measures steady polling with wrk on CPU 1. For scale it serves a static file of the
# same size with one nginx worker on CPU 0 under the same wrk load. Loopback only; bounded runs.
#
#   bash bench/poll.sh            # DEVICES=100000 CONNECTIONS=64 DURATION=20s
#
# Needs: a release build (cargo build --release -p updraft-server), wrk, nginx, curl, taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-100000}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-20s}
PORT=${PORT:-18090}
NGINX_PORT=${NGINX_PORT:-18091}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=${BIN:-$TARGET_DIR/release/updraft-server}
WORK=$(mktemp -d /tmp/updraft-bench.XXXXXX)
export DEVICES
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

UPDRAFT_LISTEN=127.0.0.1:$PORT UPDRAFT_DATA_DIR=$WORK/data UPDRAFT_ADMIN_PASSWORD=bench-password \
  UPDRAFT_LOG=warn UPDRAFT_WORKERS=1 UPDRAFT_MIN_POLLING_TIME=00:00:01 \
  taskset -c 0 "$BIN" > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/rest/v1/targets" && break; sleep 0.1; done
rss_start=$(rss_kb "$SERVER")
echo "registering $DEVICES targets..."
start=$(date +%s.%N)
for ((b = 0; b < DEVICES; b += 1000)); do
  end=$((b + 1000 < DEVICES ? b + 1000 : DEVICES))
  body=$(python3 -c "import json,sys; print(json.dumps([{'controllerId': f'dev-{i}', 'securityToken': f'tok-{i}'} for i in range($b, $end)]))")
  curl -sf -o /dev/null -u admin:bench-password -H 'content-type: application/json' \
    -X POST "http://127.0.0.1:$PORT/rest/v1/targets" -d "$body"
done
echo "registered in $(echo "$(date +%s.%N) - $start" | bc) s"
rss_registered=$(rss_kb "$SERVER")
# First poll of every device: UNKNOWN -> REGISTERED (a write) and the cache fill.
start=$(date +%s.%N)
taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d120s -s bench/warmup.lua "http://127.0.0.1:$PORT" > "$WORK/warmup.txt"
echo "first polls (registration writes): $(grep -oE '[0-9]+ requests in' "$WORK/warmup.txt") $(echo "$(date +%s.%N) - $start" | bc) s"
sleep 11  # let the batched poll times flush
rss_polled=$(rss_kb "$SERVER")
echo "RSS: $((rss_start / 1024)) MiB at start, $((rss_registered / 1024)) MiB after registration, $((rss_polled / 1024)) MiB once every device polled;" \
  "$(((rss_polled - rss_registered) * 1024 / DEVICES)) bytes per cached device"
curl -s -H 'Authorization: TargetToken tok-1' -H 'Accept: application/json' "http://127.0.0.1:$PORT/DEFAULT/controller/v1/dev-1" > "$WORK/poll.json"
echo "poll body: $(cat "$WORK/poll.json") ($(wc -c < "$WORK/poll.json") bytes)"

measure() { # pid url label
  local pid=$1 url=$2 label=$3 c0 c1 out
  c0=$(cpu_ticks "$pid")
  out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/ddi_poll.lua "$url" | grep RESULT)
  c1=$(cpu_ticks "$pid")
  python3 - "$out" "$c0" "$c1" "$hz" "$(rss_kb "$pid")" "$label" <<'PY'
import sys
kv = dict(p.split("=") for p in sys.argv[1].split()[1:])
req, dur = int(kv["requests"]), int(kv["duration_us"]) / 1e6
cpu = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
print(f"{sys.argv[6]:<14} {req/dur:>10.0f} req/s  p50 {int(kv['p50_us'])/1000:.2f} ms  p99 {int(kv['p99_us'])/1000:.2f} ms  "
      f"CPU {cpu/dur*100:5.1f} %  {cpu/req*1e6:6.1f} us CPU/req  RSS {int(sys.argv[5])/1024:.0f} MiB  "
      f"errors {kv['errors']} non-2xx {kv['non2xx']}")
PY
}

echo "--- $DEVICES devices, $CONNECTIONS connections, $DURATION, server on CPU 0, wrk on CPU 1"
measure "$SERVER" "http://127.0.0.1:$PORT" "updraft-server"

chmod 755 "$WORK"
mkdir -p "$WORK/www/DEFAULT"
chmod -R a+rX "$WORK/www"
cp "$WORK/poll.json" "$WORK/www/poll.json"
chmod 644 "$WORK/www/poll.json"
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
worker_cpu_affinity 01;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/www;
    location / { default_type application/json; try_files /poll.json =404; }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" &
sleep 1
NGINX_WORKER=$(pgrep -P "$(cat "$WORK/nginx.pid")" | head -1)
measure "$NGINX_WORKER" "http://127.0.0.1:$NGINX_PORT" "nginx (static)"
