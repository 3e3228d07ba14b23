#!/usr/bin/env bash
# The container image's size and start-to-ready time (BENCHMARKS.md, container image). Needs the
# image (bash docker/build.sh) and podman. Each round creates a fresh volume: a first start (SQLite
# created, migrations applied, the admin password hashed), then a restart on the same volume. Times
# run to the first 200 from /readyz (polled every 5 ms with curl), from just before `podman start`
# (podman's own set-up included) and from when it returned (the container's process is running).
# The image's HEALTHCHECK is off here: podman schedules it with systemd timers, absent on CI.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/.ci/podman/containers.conf}"
IMAGE=${IMAGE:-localhost/updraft-server:latest}
ROUNDS=${ROUNDS:-5}
PORT=${PORT:-18095}
name=updraft-bench-start

now_ms() { date +%s%3N; }
ready_after() { # start time in ms, time `podman start` returned
  local deadline=$(($1 + 30000))
  until curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz"; do
    (($(now_ms) < deadline)) || { echo "not ready after 30 s" >&2; podman logs "$name" >&2; exit 1; }
    sleep 0.005
  done
  local t=$(now_ms)
  echo "$((t - $1)) ms ($((t - $2)) ms after podman start returned)"
}
cleanup() { podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; podman volume rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image $IMAGE: $bytes bytes ($(awk -v b="$bytes" 'BEGIN { printf "%.1f MB, %.1f MiB", b / 1e6, b / 1048576 }'))"
podman image save "$IMAGE" | gzip -6 | wc -c | awk '{ printf "compressed (docker save | gzip): %.1f MB\n", $1 / 1e6 }'
for round in $(seq "$ROUNDS"); do
  cleanup
  podman volume create "$name" >/dev/null
  podman create --name "$name" --network host --read-only --no-healthcheck -e "UPDRAFT_LISTEN=127.0.0.1:$PORT" \
    -e UPDRAFT_ADMIN_PASSWORD=bench-password-123 -v "$name:/var/lib/updraft" "$IMAGE" >/dev/null
  t=$(now_ms); podman start "$name" >/dev/null; first=$(ready_after "$t" "$(now_ms)")
  podman stop -t 10 "$name" >/dev/null
  t=$(now_ms); podman start "$name" >/dev/null; again=$(ready_after "$t" "$(now_ms)")
  echo "round $round: first start ready after $first; restart ready after $again"
done
