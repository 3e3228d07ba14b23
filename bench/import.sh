#!/usr/bin/env bash
# The import benchmark (issue 14): a release updraft-server stands in for hawkBit, seeded with
# TARGETS targets (a thousand per request) and one software module with an ARTIFACT_MB artifact; then
# `updraft-server import` copies it into a fresh data dir (SQLite) and the rates come from its
# progress lines. Both processes share the machine. Loopback only; bounded runs.
#
#   bash bench/import.sh          # TARGETS=10000 ARTIFACT_MB=200 PARALLEL=8
#
# Needs: a release build (cargo build --release -p updraft-server), curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=${TARGETS:-10000}
ARTIFACT_MB=${ARTIFACT_MB:-200}
PARALLEL=${PARALLEL:-8}
PORT=${PORT:-18095}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=${BIN:-$TARGET_DIR/release/updraft-server}
WORK=$(mktemp -d /tmp/updraft-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

URL=http://127.0.0.1:$PORT
UPDRAFT_LISTEN=127.0.0.1:$PORT UPDRAFT_DATA_DIR=$WORK/source UPDRAFT_ADMIN_PASSWORD=bench-password \
  UPDRAFT_LOG=warn "$BIN" > "$WORK/server.log" 2>&1 &
for _ in $(seq 100); do curl -sf -o /dev/null -u admin:bench-password "$URL/rest/v1/targets?limit=1" && break; sleep 0.1; done

api() { curl -sf -u admin:bench-password -H 'content-type: application/json' "$@"; }
sm=$(api -X POST "$URL/rest/v1/softwaremodules" -d '[{"name":"fw","version":"1.0","type":"os"}]' | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
head -c $((ARTIFACT_MB * 1024 * 1024)) /dev/urandom > "$WORK/firmware.img"
curl -sf -o /dev/null -u admin:bench-password -F "file=@$WORK/firmware.img" "$URL/rest/v1/softwaremodules/$sm/artifacts"
rm "$WORK/firmware.img"
api -o /dev/null -X POST "$URL/rest/v1/distributionsets" -d "[{\"name\":\"fw\",\"version\":\"1.0\",\"type\":\"os\",\"modules\":[{\"id\":$sm}]}]"
for start in $(seq 0 1000 $((TARGETS - 1))); do
  python3 -c "import json; print(json.dumps([{'controllerId': 'dev-%06d' % i} for i in range($start, min($start + 1000, $TARGETS))]))" \
    | api -o /dev/null -X POST "$URL/rest/v1/targets" --data-binary @-
done

echo bench-password | UPDRAFT_DATA_DIR=$WORK/dest UPDRAFT_ADMIN_PASSWORD=bench-password UPDRAFT_LOG=warn \
  /usr/bin/time -f "import: %e s wall, %U s user, %S s system, %M KiB max RSS" \
  "$BIN" import --from "$URL" --user admin --password-stdin --parallel "$PARALLEL" > "$WORK/report.txt" 2> "$WORK/progress.txt"
cat "$WORK/report.txt"
grep -E '^(software modules|targets|import:)' "$WORK/progress.txt"
python3 - "$WORK/progress.txt" "$ARTIFACT_MB" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
def secs(label):
    found = [l for l in lines if l.startswith(label + " ")]
    return float(re.search(r"\(([\d.]+) s\)", found[-1]).group(1)), found[-1]
t, line = secs("targets")
n = int(re.search(r"(\d+)/\d+", line).group(1))
print(f"targets: {n} in {t:.1f} s = {n / t:.0f} targets/s")
m, _ = secs("software modules")
mb = int(sys.argv[2]) * 1.048576
print(f"artifacts: {mb:.0f} MB in {m:.1f} s = {mb / m:.0f} MB/s")
PY
# A second run finds everything in place: it reads the source again and writes nothing.
echo bench-password | UPDRAFT_DATA_DIR=$WORK/dest UPDRAFT_LOG=warn \
  /usr/bin/time -f "second run: %e s wall, %U s user" \
  "$BIN" import --from "$URL" --user admin --password-stdin --parallel "$PARALLEL" 2>&1 >/dev/null | grep '^second run'
