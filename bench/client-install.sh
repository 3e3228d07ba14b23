#!/usr/bin/env bash
# Install throughput and peak RSS of the device client against `dd` and Debian's `swupdate`, for a
# 1 GiB image (issue 15, item 6). Every tool writes the same random image into the same slot file
# `b.img` on the disk that holds SLOTS, by default WORK (not a tmpfs: the writes and the final fsync
# go to the real disk, as a device's do). Rounds alternate the tools so that writeback and other load on the
# machine spread over all of them. The inputs are read once before timing so every tool starts from
# the page cache.
#
#   bash bench/client-install.sh [size, default 1G] [rounds, default 3]
#
# Modes: `dd bs=1M conv=fsync` from the raw image; `updraft install` from the bundle file and from
# an http:// URL (Debian's nginx on 127.0.0.1 with sendfile: a static server that costs the 2 cores
# little); `updraft agent --once` against a release `updraft-server` that assigned the bundle (a
# fresh device per round); `swupdate -i` (Debian's package) from the bundle file. UPDRAFT=path picks
# another client binary, SERVER=path another server (default: the release builds, made here).
# BEFORE=path adds the three updraft modes of a second client binary (an earlier commit) to every
# round, so a change is measured against what it replaces in one run. WORK (default
# /var/tmp/updraft-client-bench) is deleted at the end. SLOTS=dir puts the slot files there instead
# of in WORK: on a disk short of the ~4.5 GB the whole run needs, WORK can go on a tmpfs (the inputs
# are read from the page cache anyway) while SLOTS stays on the disk that is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1G}"
rounds="${2:-3}"
work="${WORK:-/var/tmp/updraft-client-bench}"
slots="${SLOTS:-$work}"
if [ -z "${UPDRAFT:-}" ]; then
    cargo build --quiet --release -p updraft-client
    UPDRAFT="${CARGO_TARGET_DIR:-target}/release/updraft"
fi
if [ -z "${SERVER:-}" ]; then
    cargo build --quiet --release -p updraft-server
    SERVER="${CARGO_TARGET_DIR:-target}/release/updraft-server"
fi
updraft=$(realpath "$UPDRAFT")
server=$(realpath "$SERVER")
before=${BEFORE:+$(realpath "$BEFORE")}
for tool in swupdate nginx jq; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install $tool)" >&2; exit 1; }
done

rm -rf "$work" && mkdir -p "$work" "$slots"
cd "$work"
nginx_pid= server_pid=
cleanup() {
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    wait 2>/dev/null
    cd / && rm -rf "$work" && rm -f "$slots/a.img" "$slots/b.img"
}
trap cleanup EXIT

head -c "$size" /dev/urandom > rootfs.img
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout signer.key -out signer.pem \
    -subj /CN=bench >/dev/null 2>&1
cat > bundle.toml <<TOML
version = "2.0.0"
hardware-compatibility = ["1.0"]
[[images]]
file = "rootfs.img"
type = "raw"
device = "$slots/b.img"
TOML
"$updraft" bundle create --manifest bundle.toml --cert signer.pem --key signer.key --output update.swu >/dev/null
echo "slot A" > "$slots/a.img"
cat > updraft.toml <<TOML
data_dir = "$work/data"
[bootloader]
backend = "sim"
state_dir = "$work/sim"
[slots.a]
device = "$slots/a.img"
[slots.b]
device = "$slots/b.img"
[bundle]
ca = "$work/signer.pem"
[device]
board = "bench"
hardware_revision = "1.0"
version = "1.0.0"
TOML
printf 'globals: {\n\tverbose = false;\n\tloglevel = 3;\n};\n' > swupdate.cfg
mkdir -p swtmp

port=$((20000 + RANDOM % 20000))
mkdir -p nginx
cat > nginx/nginx.conf <<CONF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $work/nginx;
    proxy_temp_path $work/nginx;
    fastcgi_temp_path $work/nginx;
    uwsgi_temp_path $work/nginx;
    scgi_temp_path $work/nginx;
    server {
        listen 127.0.0.1:$port;
        root $work;
    }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
for _ in $(seq 100); do curl -sfI "http://127.0.0.1:$port/update.swu" >/dev/null && break; sleep 0.1; done
curl -sfI "http://127.0.0.1:$port/update.swu" >/dev/null || { echo "nginx did not start" >&2; cat nginx/error.log >&2; exit 1; }

# The agent's server: the bundle uploaded once as a distribution set; each round registers a fresh
# device, assigns the set to it, and times one `updraft agent --once` (poll, download into the slot,
# feedback).
sport=$((port + 1))
admin=(-u "admin:bench-admin-password" -H "content-type: application/json")
UPDRAFT_LISTEN="127.0.0.1:$sport" UPDRAFT_DATA_DIR="$work/server" UPDRAFT_ADMIN_PASSWORD=bench-admin-password \
    UPDRAFT_LOG=warn UPDRAFT_WORKERS=2 UPDRAFT_MAX_ARTIFACT_SIZE=$((4 << 30)) "$server" > server.log 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -sf -o /dev/null "${admin[@]}" "http://127.0.0.1:$sport/rest/v1/targets" && break; sleep 0.1; done
mgmt() { # method path [json]
    curl -sf -X "$1" "${admin[@]}" ${3:+-d "$3"} "http://127.0.0.1:$sport$2" ||
        { echo "$1 $2 failed; see server.log" >&2; exit 1; }
}
sm=$(mgmt POST /rest/v1/softwaremodules '[{"name":"bench","version":"2.0.0","type":"os"}]' | jq '.[0].id')
curl -sS -f -u "admin:bench-admin-password" -F "file=@update.swu" \
    "http://127.0.0.1:$sport/rest/v1/softwaremodules/$sm/artifacts" >/dev/null || { echo "upload failed" >&2; exit 1; }
ds=$(mgmt POST /rest/v1/distributionsets "[{\"name\":\"bench\",\"version\":\"2.0.0\",\"type\":\"os\",\"modules\":[{\"id\":$sm}]}]" |
    jq '.[0].id')
[ -n "$sm" ] && [ -n "$ds" ] || { echo "could not create the distribution set" >&2; exit 1; }
device=0
new_device() { # writes agent.toml for a fresh device with the set assigned
    device=$((device + 1))
    cid="bench-$device"
    token=$(mgmt POST /rest/v1/targets "[{\"controllerId\":\"$cid\",\"name\":\"$cid\"}]" | jq -r '.[0].securityToken')
    mgmt POST "/rest/v1/targets/$cid/assignedDS" "{\"id\":$ds,\"type\":\"forced\"}" >/dev/null
    { cat updraft.toml
      printf '[server]\nurl = "http://127.0.0.1:%s"\ncontroller_id = "%s"\ntarget_token = "%s"\n' "$sport" "$cid" "$token"
      printf '[agent]\nreboot_command = ""\nboot_id_file = "%s/boot_id"\n' "$work"
    } > agent.toml
}
echo 1 > boot_id

# A fresh slot B and a device booted from slot A with no update in flight.
reset_slot() {
    rm -rf data sim && mkdir -p data sim && : > "$slots/b.img"
    printf '{"slot":"A","trial":false}' > sim/sim-booted.json
    sync
}

bytes=$(stat -c %s rootfs.img)
cat update.swu rootfs.img > /dev/null

results=results.txt
: > "$results"
measure() { # label, command...
    local label=$1; shift
    reset_slot
    if ! /usr/bin/time -f "%e %M" -o time.txt "$@" > out.txt 2>&1; then
        echo "$label failed:" >&2; cat out.txt >&2; exit 1
    fi
    cmp -s rootfs.img "$slots/b.img" || { echo "$label: slot B differs from the image" >&2; exit 1; }
    read -r secs rss_kb < time.txt
    echo "$label	$secs	$rss_kb" >> "$results"
    awk -v l="$label" -v s="$secs" -v r="$rss_kb" -v b="$bytes" \
        'BEGIN { printf "%-24s %7.2f s  %7.1f MB/s  peak RSS %6.1f MiB (%.1f MB)\n", l, s, b / s / 1e6, r / 1024, r * 1024 / 1e6 }'
}

fetch() { # label, command... (timed like measure, without the slot)
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o time.txt "$@" > out.txt 2>&1 || { echo "$label failed:" >&2; cat out.txt >&2; exit 1; }
    read -r secs rss_kb < time.txt
    echo "$label	$secs	$rss_kb" >> "$results"
    awk -v l="$label" -v s="$secs" -v b="$(stat -c %s update.swu)" \
        'BEGIN { printf "%-24s %7.2f s  %7.1f MB/s (bundle bytes)\n", l, s, b / s / 1e6 }'
}

for round in $(seq "$rounds"); do
    echo "round $round"
    measure "dd bs=1M conv=fsync" dd if=rootfs.img of="$slots/b.img" bs=1M conv=fsync status=none
    measure "updraft install FILE" "$updraft" install update.swu --config updraft.toml
    measure "updraft install URL" "$updraft" install "http://127.0.0.1:$port/update.swu" --config updraft.toml
    new_device
    measure "updraft agent --once" "$updraft" agent --once --config agent.toml
    if [ -n "$before" ]; then
        measure "before: install FILE" "$before" install update.swu --config updraft.toml
        measure "before: install URL" "$before" install "http://127.0.0.1:$port/update.swu" --config updraft.toml
        new_device
        measure "before: agent --once" "$before" agent --once --config agent.toml
    fi
    # What the servers alone take to send the bundle over loopback (no install; the slot is not
    # compared): the floor under the URL and agent modes.
    fetch "curl < nginx" curl -sf -o /dev/null "http://127.0.0.1:$port/update.swu"
    fetch "curl < updraft-server" curl -sf -o /dev/null -H "authorization: TargetToken $token" \
        "http://127.0.0.1:$sport/DEFAULT/controller/v1/$cid/softwaremodules/$sm/artifacts/update.swu"
    measure "swupdate -i FILE" env TMPDIR="$work/swtmp" swupdate -i update.swu -k signer.pem \
        -H bench:1.0 -f swupdate.cfg
done

echo
echo "median of $rounds rounds (image $bytes bytes, bundle $(stat -c %s update.swu) bytes, $(nproc) cores, $(uname -r)):"
awk -F'\t' -v b="$bytes" '
    { s[$1] = s[$1] " " $2; r[$1] = ($3 > r[$1] ? $3 : r[$1]); if (!($1 in seen)) { order[n++] = $1; seen[$1] = 1 } }
    function median(list,   a, k, i, j, t) {
        k = split(list, a, " ")
        for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return a[int((k + 1) / 2)]
    }
    END {
        dd = median(s["dd bs=1M conv=fsync"])
        for (i = 0; i < n; i++) {
            m = median(s[order[i]])
            printf "| %-22s | %6.2f s | %7.1f MB/s | %.2f x dd | %6.1f MiB (%.1f MB) |\n", order[i], m, b / m / 1e6, dd / m, r[order[i]] / 1024, r[order[i]] * 1024 / 1e6
        }
    }' "$results"
