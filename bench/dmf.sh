#!/usr/bin/env bash
# DMF against DDI in one run (issue 14), release build, server on CPU 0, simulator on CPU 1, on SQLite
# and then PostgreSQL (a fresh database each), each with a RabbitMQ vhost of its own:
#  1. DDI: a rollout of a SIZE_MIB artifact to DEVICES devices in ROLLOUT_GROUPS groups, driven by
#     `updraft-sim` polling DDI every second (as bench/rollout.sh), timed from the start call to
#     `finished`.
#  2. DMF: the same rollout over DEVICES DMF targets behind one gateway, `updraft-sim --api dmf`
#     (THING_CREATED for each, then RUNNING, the download with the message's target token, FINISHED),
#     timed the same way.
#  3. DMF status updates handled per second: a second set assigned to the DMF targets, then
#     PER_ACTION x DEVICES `UPDATE_ACTION_STATUS` RUNNING published to `dmf.exchange` as fast as a
#     client can, and a PING after them; timed from the first publish to the PING_RESPONSE (the
#     server handles `dmf_receiver` in order, so the answer comes after every status was committed).
#
#   bash bench/dmf.sh       # DEVICES=1000 SIZE_MIB=1 ROLLOUT_GROUPS=5 PER_ACTION=5 BACKENDS="sqlite postgres"
#
# Needs: cargo build --release -p updraft-server -p updraft-sim, RabbitMQ on 127.0.0.1:5672 (guest)
# with rabbitmqctl, PostgreSQL on 127.0.0.1:5432 (user postgres, psql), curl, python3 (the status
# publisher installs pika from PyPI into a temporary virtualenv), taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-1000}
SIZE_MIB=${SIZE_MIB:-1}
ROLLOUT_GROUPS=${ROLLOUT_GROUPS:-5}
PER_ACTION=${PER_ACTION:-5}
CONCURRENCY=${CONCURRENCY:-64}
BACKENDS=${BACKENDS:-sqlite postgres}
PORT=${PORT:-18094}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
SERVER_BIN=${SERVER_BIN:-$TARGET_DIR/release/updraft-server}
SIM=${SIM:-$TARGET_DIR/release/updraft-sim}
WORK=$(mktemp -d /tmp/updraft-dmf-bench.XXXXXX)
VHOST=updraft-bench-dmf-$$
PGDB=updraft_bench_dmf_$$
export RABBITMQ_NODENAME=${RABBITMQ_NODENAME:-rabbit@localhost}
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  rabbitmqctl delete_vhost "$VHOST" > /dev/null 2>&1 || true
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $PGDB" > /dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
URL=http://127.0.0.1:$PORT
AMQP=amqp://guest:guest@127.0.0.1:5672/$VHOST
GW=bench-gateway
ulimit -n 65536 2>/dev/null || true

api() { curl -sSf -u admin:bench-password -H 'content-type: application/json' "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
now_ms() { date +%s%3N; }
secs() { python3 -c "print(round(($2 - $1) / 1000, 2))"; }

python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q pika
cat > "$WORK/statuses.py" <<'EOF'
"""Publishes RUNNING for each action PER_ACTION times, then a PING; the time to its answer."""
import json, sys, time, uuid
import pika

url, actions, per_action = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
conn = pika.BlockingConnection(pika.URLParameters(url))
ch = conn.channel()
ch.exchange_declare("bench.reply", "fanout", auto_delete=True)
queue = ch.queue_declare("", exclusive=True).method.queue
ch.queue_bind(queue, "bench.reply")
event = pika.BasicProperties(
    headers={"type": "EVENT", "topic": "UPDATE_ACTION_STATUS", "tenant": "DEFAULT"},
    content_type="application/json", delivery_mode=2)
bodies = [json.dumps({"actionId": a, "actionStatus": "RUNNING", "message": [f"step {i}"]}).encode()
          for i in range(per_action) for a in actions]
t0 = time.monotonic()
for b in bodies:
    ch.basic_publish("dmf.exchange", "", b, event)
t1 = time.monotonic()
cid = uuid.uuid4().hex
ping = pika.BasicProperties(headers={"type": "PING", "tenant": "DEFAULT"}, content_type="text/plain",
                            reply_to="bench.reply", correlation_id=cid)
ch.basic_publish("dmf.exchange", "", b"", ping)
for method, props, _ in ch.consume(queue, auto_ack=True, inactivity_timeout=600):
    if method is None:
        sys.exit("no PING_RESPONSE within 10 minutes")
    if props.correlation_id == cid:
        break
t2 = time.monotonic()
print(f"{len(bodies)} UPDATE_ACTION_STATUS: published in {t1 - t0:.2f} s, all handled after "
      f"{t2 - t0:.2f} s: {len(bodies) / (t2 - t0):.0f} status updates/s")
EOF

run() { # backend database-url
  echo "=== $1"
  rabbitmqctl add_vhost "$VHOST" > /dev/null
  rabbitmqctl set_permissions -p "$VHOST" guest '.*' '.*' '.*' > /dev/null
  rm -rf "$WORK/data"
  env ${2:+UPDRAFT_DATABASE_URL=$2} UPDRAFT_DMF_ENABLED=true UPDRAFT_DMF_URL="$AMQP" \
    UPDRAFT_LISTEN=127.0.0.1:$PORT UPDRAFT_DATA_DIR=$WORK/data UPDRAFT_ADMIN_PASSWORD=bench-password \
    UPDRAFT_LOG=warn UPDRAFT_WORKERS=1 UPDRAFT_MIN_POLLING_TIME=00:00:01 \
    taskset -c 0 "$SERVER_BIN" > "$WORK/server-$1.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do curl -s -o /dev/null "$URL/rest/v1/targets" && break; sleep 0.1; done
  api -X PUT "$URL/rest/v1/system/configs/authentication.gatewaytoken.enabled" -d '{"value":true}' > /dev/null
  api -X PUT "$URL/rest/v1/system/configs/authentication.gatewaytoken.key" -d "{\"value\":\"$GW\"}" > /dev/null
  api -X PUT "$URL/rest/v1/system/configs/authentication.targettoken.enabled" -d '{"value":true}' > /dev/null

  head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$WORK/image.bin"
  SM=$(api -X POST "$URL/rest/v1/softwaremodules" -d '[{"name":"bench","version":"1","type":"os"}]' | json '[0]["id"]')
  curl -sSf -u admin:bench-password "$URL/rest/v1/softwaremodules/$SM/artifacts" -F "file=@$WORK/image.bin" > /dev/null
  DS=$(api -X POST "$URL/rest/v1/distributionsets" \
    -d "[{\"name\":\"bench\",\"version\":\"1\",\"type\":\"os\",\"modules\":[{\"id\":$SM}]}]" | json '[0]["id"]')

  rollout() { # name prefix: creates and starts it; prints its id
    local id
    id=$(api -X POST "$URL/rest/v1/rollouts" -d "{\"name\":\"$1\",\"distributionSetId\":$DS,\
\"targetFilterQuery\":\"controllerId==$2*\",\"amountGroups\":$ROLLOUT_GROUPS}" | json '["id"]')
    api -X POST "$URL/rest/v1/rollouts/$id/start" > /dev/null
    echo "$id"
  }
  finished() { # rollout id t0: waits for `finished`, prints the time and the totals
    local status
    for _ in $(seq 600); do
      status=$(api "$URL/rest/v1/rollouts/$1" | json '["status"]')
      [ "$status" = finished ] && break
      sleep 0.1
    done
    echo "rollout $status after $(secs "$2" "$(now_ms)") s;" \
      "totals: $(api "$URL/rest/v1/rollouts/$1" | json '["totalTargetsPerStatus"]')"
  }

  echo "--- 1. DDI: a rollout of $SIZE_MIB MiB to $DEVICES devices in $ROLLOUT_GROUPS groups"
  python3 -c "import json; print(json.dumps([{'controllerId': 'ddi-%05d' % i} for i in range($DEVICES)]))" \
    | api -X POST "$URL/rest/v1/targets" -d @- > /dev/null
  t0=$(now_ms)
  RID=$(rollout ddi ddi-)
  taskset -c 1 "$SIM" --server "$URL" --gateway-token "$GW" --concurrency "$CONCURRENCY" --devices "$DEVICES" \
    --id-prefix ddi- --poll-interval 1s --until-done 1 --duration 5m | sed 's/^/sim: /'
  finished "$RID" "$t0"

  echo "--- 2. DMF: the same rollout over $DEVICES DMF targets"
  t0=$(now_ms)
  taskset -c 1 "$SIM" --api dmf --amqp-url "$AMQP" --server "$URL" --concurrency "$CONCURRENCY" \
    --devices "$DEVICES" --id-prefix dmf- --until-done 1 --duration 5m > "$WORK/sim-dmf.txt" &
  SIMPID=$!
  for _ in $(seq 1200); do
    [ "$(api "$URL/rest/v1/targets?q=controllerId==dmf-*&limit=1" | json '["total"]')" = "$DEVICES" ] && break
    sleep 0.1
  done
  echo "$DEVICES things registered (THING_CREATED) in $(secs "$t0" "$(now_ms)") s"
  t0=$(now_ms)
  RID=$(rollout dmf dmf-)
  wait "$SIMPID" || echo "(simulator exit status $?)"
  sed 's/^/sim: /' "$WORK/sim-dmf.txt"
  finished "$RID" "$t0"

  echo "--- 3. DMF: $((PER_ACTION * DEVICES)) status updates"
  python3 -c "import json; print(json.dumps([{'id': 'dmf-%05d' % i, 'type': 'forced'} for i in range($DEVICES)]))" \
    > "$WORK/assign.json"
  DS2=$(api -X POST "$URL/rest/v1/distributionsets" \
    -d "[{\"name\":\"bench\",\"version\":\"2\",\"type\":\"os\",\"modules\":[{\"id\":$SM}]}]" | json '[0]["id"]')
  api -X POST "$URL/rest/v1/distributionsets/$DS2/assignedTargets" -d @"$WORK/assign.json" \
    | python3 -c "import json,sys; print(json.dumps([a['id'] for a in json.load(sys.stdin)['assignedActions']]))" \
    > "$WORK/actions.json"
  # The assignment's DOWNLOAD_AND_INSTALL go out (to the gateway's queue; it has stopped) before the timed run.
  for _ in $(seq 600); do
    n=$(rabbitmqctl list_queues -p "$VHOST" name messages 2>/dev/null | awk '$1 == "dmf-receiver" {print $2}')
    [ "${n:-0}" -ge "$DEVICES" ] && break
    sleep 0.1
  done
  taskset -c 1 "$WORK/venv/bin/python" "$WORK/statuses.py" "$AMQP" "$WORK/actions.json" "$PER_ACTION"
  rabbitmqctl list_queues -p "$VHOST" name messages 2>/dev/null | grep -E 'dmf_receiver|deadletter' | sed 's/^/queue: /'
  echo "server peak RSS: $(awk '/VmHWM/ {print $2 / 1024 " MiB"}' "/proc/$SERVER/status")"
  kill "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  rabbitmqctl delete_vhost "$VHOST" > /dev/null
}

for backend in $BACKENDS; do
  case $backend in
    sqlite) run SQLite "" ;;
    postgres)
      psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $PGDB" > /dev/null
      run PostgreSQL "postgres://postgres@127.0.0.1:5432/$PGDB"
      ;;
    *) echo "unknown backend $backend (sqlite or postgres)" >&2; exit 2 ;;
  esac
done
