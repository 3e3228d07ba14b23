#!/usr/bin/env bash
# Validates the committed OpenAPI document and fuzzes a running server against it with schemathesis:
# no 5xx, and every response must match the document. Bounded so CI stays well under its budget.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
venv=/var/tmp/updraft-venv
if [[ ! -x "$venv/bin/schemathesis" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'schemathesis==4.32.5' 'openapi-spec-validator==0.9.0'
fi
"$venv/bin/openapi-spec-validator" openapi/mgmt.json

cargo build --quiet -p updraft-server
data=$(mktemp -d)
password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
port=18089
UPDRAFT_LISTEN=127.0.0.1:$port UPDRAFT_DATA_DIR="$data" UPDRAFT_ADMIN_PASSWORD="$password" \
    UPDRAFT_LOG=warn "$target_dir/debug/updraft-server" > "$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/openapi/mgmt.json" && break
    sleep 0.1
done
# One of everything, with the ids the document's path examples name (1, device-01, hw.revision), so
# the example phase checks full responses of real entities, not only 404s.
api() { curl -sS --fail-with-body -u "admin:$password" -H 'Content-Type: application/json' "$@" >/dev/null; }
base="http://127.0.0.1:$port/rest/v1"
api -X POST "$base/targets" -d '[{"controllerId":"device-01","name":"Device 01"}]'
api -X POST "$base/softwaremodules" -d '[{"name":"rootfs","version":"1.0","type":"os"}]'
echo "fuzz artifact" > "$data/rootfs.img"
curl -sS --fail-with-body -u "admin:$password" "$base/softwaremodules/1/artifacts" -F file=@"$data/rootfs.img" >/dev/null
api -X POST "$base/distributionsets" -d '[{"name":"gateway","version":"1.0","type":"os","modules":[{"id":1}]}]'
api -X POST "$base/targets/device-01/assignedDS" -d '{"id":1,"type":"soft"}'
for owner in targets/device-01 distributionsets/1; do
    api -X POST "$base/$owner/metadata" -d '[{"key":"hw.revision","value":"2"}]'
done
api -X POST "$base/softwaremodules/1/metadata" -d '[{"key":"hw.revision","value":"2","targetVisible":true}]'
api -X POST "$base/targettags" -d '[{"name":"lab"}]'
api -X POST "$base/distributionsettags" -d '[{"name":"stable"}]'
api -X POST "$base/targettypes" -d '[{"name":"pi4","key":"pi4"}]'
api -X POST "$base/targetfilters" -d '{"name":"lab devices","query":"name==Device*"}'
api -X POST "$base/rollouts" -d '{"name":"campaign","distributionSetId":1,"targetFilterQuery":"id==device-01"}'

"$venv/bin/schemathesis" run openapi/mgmt.json \
    --url "http://127.0.0.1:$port" --auth "admin:$password" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --max-examples "${API_FUZZ_EXAMPLES:-30}" \
    --workers 2 --seed 1 --no-color || { echo "server log:"; tail -50 "$data/server.log"; exit 1; }
# The run must not have locked the admin out (which would have turned the rest into 401s).
curl -sf -o /dev/null -u "admin:$password" "$base/userinfo" || { echo "the admin can no longer log in"; exit 1; }
