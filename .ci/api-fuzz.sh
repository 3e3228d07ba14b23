#!/usr/bin/env bash
# Validates the committed OpenAPI document and fuzzes a running server against it with schemathesis:
# no 5xx, and every response must match the document. Then fuzzes a fresh server against hawkBit's own
# published Management API document, where every failure must be one that
# .ci/hawkbit-mgmt-allowlist.txt accepts (a place where hawkBit's document is wrong about hawkBit).
# Bounded so CI stays well under its budget.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
venv=/var/tmp/updraft-venv
if [[ ! -x "$venv/bin/schemathesis" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'schemathesis==4.32.5' 'openapi-spec-validator==0.9.0'
fi
"$venv/bin/openapi-spec-validator" openapi/mgmt.json
# CI lays shared/ beside the clone.
hawkbit_doc=../shared/reference/hawkbit-openapi/mgmt.json
allowlist=.ci/hawkbit-mgmt-allowlist.txt
[[ -f $hawkbit_doc ]] || { echo "hawkBit's Management API document $hawkbit_doc is missing"; exit 1; }

cargo build --quiet -p updraft-server
password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
server='' data=''
stop_server() {
    if [[ -n $server ]]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    if [[ -n $data ]]; then rm -rf "$data"; fi
    server='' data=''
}
trap stop_server EXIT
api() { curl -sS --fail-with-body -u "admin:$password" -H 'Content-Type: application/json' "$@" >/dev/null; }

# Starts a server with an empty data directory on port $1 and gives it one of everything, with the ids
# the documents' path examples name (1, device-01, hw.revision), so the example phase checks full
# responses of real entities, not only 404s.
start_seeded_server() {
    port=$1
    data=$(mktemp -d)
    UPDRAFT_LISTEN=127.0.0.1:$port UPDRAFT_DATA_DIR="$data" UPDRAFT_ADMIN_PASSWORD="$password" \
        UPDRAFT_LOG=warn "$target_dir/debug/updraft-server" > "$data/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/openapi/mgmt.json" && break
        sleep 0.1
    done
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
}
# The run must not have locked the admin out (which would have turned the rest into 401s).
admin_can_log_in() {
    curl -sf -o /dev/null -u "admin:$password" "$base/userinfo" || { echo "the admin can no longer log in"; exit 1; }
}

# One worker in both runs: with two, CPython 3.11 sometimes fails inside schemathesis ("AST constructor
# recursion depth mismatch") when both threads compile a schema at once, and that error fails the run.
start_seeded_server 18089
"$venv/bin/schemathesis" run openapi/mgmt.json \
    --url "http://127.0.0.1:$port" --auth "admin:$password" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --max-examples "${API_FUZZ_EXAMPLES:-30}" \
    --workers 1 --seed 1 --no-color || { echo "server log:"; tail -50 "$data/server.log"; exit 1; }
admin_can_log_in
stop_server

# hawkBit's own document, against a fresh server: clients are written against it, so every answer
# that contradicts it must be one where hawkBit contradicts it too. Schemathesis's verdict is not ours
# (it fails on every contradiction); its NDJSON report goes through the allow-list below instead.
echo
echo "== fuzzing against hawkBit's published Management API document ($hawkbit_doc)"
start_seeded_server 18090
rc=0
"$venv/bin/schemathesis" run "$hawkbit_doc" \
    --url "http://127.0.0.1:$port" --auth "admin:$password" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --max-examples "${API_FUZZ_HAWKBIT_EXAMPLES:-20}" \
    --workers 1 --seed 1 --no-color --report ndjson --report-ndjson-path "$data/hawkbit.ndjson" \
    > "$data/hawkbit-run.log" 2>&1 || rc=$?
# 0: no failures; 1: failures (judged below); anything else: schemathesis itself did not work.
if ((rc > 1)) || [[ ! -s $data/hawkbit.ndjson ]]; then
    echo "schemathesis exited with $rc:"; tail -40 "$data/hawkbit-run.log"; exit 1
fi
grep -E '^=+ .* in [0-9.]+s =+$' "$data/hawkbit-run.log" | sed 's/^/schemathesis: /' || true
python3 - "$data/hawkbit.ndjson" "$allowlist" <<'PY' || { echo "server log:"; tail -50 "$data/server.log"; exit 1; }
import base64, json, re, shlex, sys

report, allow_path = sys.argv[1:3]
CHECKS = {"status_code_conformance", "content_type_conformance", "response_schema_conformance",
          "response_headers_conformance"}

entries, malformed = [], []
with open(allow_path, encoding="utf-8") as f:
    for n, raw in enumerate(f, 1):
        line, _, why = raw.partition("#")
        fields = line.split()
        if not fields:
            continue
        if (4 <= len(fields) <= 5 and fields[0] in {"GET", "POST", "PUT", "DELETE", "PATCH"}
                and fields[1].startswith("/") and fields[2] in CHECKS
                and re.fullmatch(r"\*|[1-5]\d\d", fields[3])
                and (len(fields) == 4 or re.fullmatch(r"ST\d{3}", fields[4])) and why.strip()):
            entries.append({"at": f"{allow_path}:{n}", "key": fields, "hits": 0})
        else:
            malformed.append(f"{allow_path}:{n}: {raw.rstrip()}")
if malformed:
    print("malformed allow-list lines (METHOD PATH CHECK STATUS [CODE]  # why):", *malformed, sep="\n  ")
    sys.exit(1)


def allowed(method, path, check, status, code):
    for e in entries:
        m, p, c, s, *k = e["key"]
        if (m, p, c) == (method, path, check) and s in ("*", str(status)) and (not k or k[0] == code):
            e["hits"] += 1
            return True
    return False


def decode(body):
    return base64.b64decode(body["$base64"]) if body else b""


def curl(request):
    cmd = ["curl", "-si", "-u", "admin:PASSWORD", "-X", request["method"]]
    for name, values in (request.get("headers") or {}).items():
        if name.lower() in ("content-type", "accept"):
            cmd += ["-H", f"{name}: {values[0]}"]
    body = decode(request.get("body"))
    text = body.decode("utf-8", "replace")
    if body and len(body) <= 2000 and text.isprintable():
        cmd += ["--data-binary", text]
    elif body:
        cmd += ["--data-binary", f"@<{len(body)}-byte body, see the NDJSON report>"]
    return " ".join(shlex.quote(a) for a in cmd + [request["uri"]])


failures, problems, flaky, errored, finished = {}, [], set(), [], False
with open(report, encoding="utf-8") as f:
    for raw in f:
        (kind, event), = json.loads(raw).items()
        if kind == "EngineFinished":
            finished = True
        elif kind == "NonFatalError" and (event.get("value") or {}).get("type") == "FlakyFailure":
            # A failing case that answered differently when Hypothesis replayed it: a POST that created
            # something the replay then conflicts with. The first answer's checks are recorded and judged
            # below like any other; the replay's difference says nothing about the server.
            flaky.add(event.get("label"))
            print(f"note: {event.get('label')} answered differently when replayed (judged on its first answer)")
        elif kind in ("FatalError", "NonFatalError"):
            problems.append(f"{kind}: {json.dumps(event)[:600]}")
        elif kind in ("ScenarioFinished", "FuzzScenarioFinished"):
            recorder = event.get("recorder") or {}
            if event.get("status") == "error":
                errored.append(recorder.get("label"))
            for case, checks in (recorder.get("checks") or {}).items():
                interaction = (recorder.get("interactions") or {}).get(case) or {}
                response = interaction.get("response") or {}
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    failure = check["failure_info"]["failure"]
                    method, _, path = (failure.get("operation") or recorder.get("label", "")).partition(" ")
                    key = (method, path, check["name"], response.get("status_code"), failure.get("code"))
                    if key not in failures:
                        failures[key] = {"count": 0, "failure": failure, "interaction": interaction}
                    failures[key]["count"] += 1
problems += [f"error in {label}" for label in errored if label not in flaky]
if not finished:
    problems.append("the report has no EngineFinished event: the run did not complete")

rejected = [(k, v) for k, v in failures.items() if not allowed(*k)]
unused = sum(1 for e in entries if not e["hits"])
print(f"{len(failures)} distinct failures, {len(failures) - len(rejected)} accepted by {allow_path}, "
      f"{len(rejected)} not accepted ({unused} of its {len(entries)} entries were not needed this run)")
for (method, path, check, status, code), v in sorted(rejected, key=lambda kv: (kv[0][1], kv[0][0], kv[0][2])):
    failure, interaction = v["failure"], v["interaction"]
    print(f"\nNOT ACCEPTED: {method} {path}  {check}  status {status}  {code} {failure.get('title')} (x{v['count']})")
    for line in (failure.get("message") or "").splitlines()[:8]:
        print(f"    {line}")
    if interaction.get("request"):
        print(f"    request:  {curl(interaction['request'])}")
    response = interaction.get("response")
    if response:
        ctype = (response.get("headers") or {}).get("content-type", ["(none)"])[0]
        body = decode(response.get("content")).decode("utf-8", "replace")
        print(f"    response: {response.get('status_code')}, Content-Type {ctype}, body {body[:300]!r}")
for p in problems:
    print(f"\nPROBLEM: {p}")
if rejected:
    print(f"\nFAILED: {len(rejected)} failures not accepted. Fix the server; only where hawkBit itself contradicts "
          f"its document (check hawkBit's source) does an entry with that reason belong in {allow_path}.")
if rejected or problems:
    sys.exit(1)
print("passed: every failure is one where hawkBit's document is wrong about hawkBit")
PY
admin_can_log_in
