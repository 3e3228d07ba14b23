# What the web UI benchmarks share (sourced by bench/ui_*.sh): a release server on PORT with a
# fresh data dir, a UI session, and `measure` printing the server time of a page as a table row.
# Set PORT and RUNS before sourcing; COOKIE_EXTRA adds cookies to every measured request.

BIN="${CARGO_TARGET_DIR:-target}/release/updraft-server"
TARGETS="${TARGETS:-100000}"
URL="http://127.0.0.1:$PORT"
DATA="$(mktemp -d)"
PASSWORD="bench-admin-password"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT

# Starts the server and waits until it answers; on PostgreSQL when DATABASE_URL is set.
start() {
  env ${DATABASE_URL:+UPDRAFT_DATABASE_URL="$DATABASE_URL"} \
    UPDRAFT_LISTEN="127.0.0.1:$PORT" UPDRAFT_DATA_DIR="$DATA" UPDRAFT_ADMIN_PASSWORD="$PASSWORD" \
    UPDRAFT_LOG=warn UPDRAFT_WORKERS=2 "$BIN" >"$DATA/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "$URL/ui/login" && return; sleep 0.1; done
  echo "the server did not start; see $DATA/server.log" >&2
  exit 1
}

# The Management API as the admin, with a JSON body.
api() {
  curl -sf -u "admin:$PASSWORD" -H 'Content-Type: application/json' "$@"
}

# Three distribution sets fw 1.0, 2.0 and 3.0, each with its own os module, made over the API
# (ids 1 to 3 in a fresh database).
three_sets() {
  local v sm
  for v in 1 2 3; do
    sm=$(api -d "[{\"name\":\"fw\",\"version\":\"$v.0\",\"type\":\"os\"}]" "$URL/rest/v1/softwaremodules" | jq '.[0].id')
    api -d "[{\"name\":\"fw\",\"version\":\"$v.0\",\"type\":\"os\",\"modules\":[{\"id\":$sm}]}]" \
      "$URL/rest/v1/distributionsets" >/dev/null
  done
}

# Stops the server (to seed its SQLite file directly).
stop() {
  kill "$PID"; wait "$PID" 2>/dev/null || true
}

# Logs in through the form, as a browser does, and sets COOKIE.
login() {
  COOKIE=$(curl -s -o /dev/null -D - -H "Origin: $URL" \
    --data-urlencode "username=admin" --data-urlencode "password=$PASSWORD" "$URL/ui/login" |
    sed -n 's/^set-cookie: \(updraft_session=[^;]*\).*/\1/ip')
  [ -n "$COOKIE" ] || { echo "login failed" >&2; exit 1; }
  COOKIE="$COOKIE${COOKIE_EXTRA:+; $COOKIE_EXTRA}"
}

# One warm-up request, then RUNS measured ones of PATH: a row with the time to first byte's median,
# p95 and max in ms, and how many answers were not 200.
measure() {
  local label=$1 path=$2
  curl -s -o /dev/null -b "$COOKIE" "$URL$path"
  for _ in $(seq "$RUNS"); do
    curl -s -o /dev/null -b "$COOKIE" -w '%{http_code} %{time_starttransfer}\n' "$URL$path"
  done | awk '{ print ($1 != 200), $2 * 1000 }' | sort -k2 -n | awk -v label="$label" '
    { bad += $1; t[NR] = $2 }
    END {
      printf "| %s | %d | %.1f ms | %.1f ms | %.1f ms | %d |\n", label, NR, t[int((NR + 1) / 2)], t[int(NR * 0.95)], t[NR], bad
    }'
}
