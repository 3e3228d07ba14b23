#!/usr/bin/env bash
# Delta updates on real Debian root file systems, end to end (issue 18's "Measure"): for each
# image pair, `updraft agent --once` on a device whose slot A holds the source image installs the
# target through a release `updraft-server`, once from the full bundle and once from the chunk
# delta. Between agent and server sits a relay that counts every byte the server sends (HTTP
# heads and multipart framing included) and holds each connection to RATE bytes/s, a simulated
# link (default 12.5 MB/s, 100 Mbit/s; RATE=0 for plain loopback).
#
#   bash bench/delta.sh [IMAGES_DIR]     # default /var/tmp/updraft-delta/images
#
# IMAGES_DIR holds A0, A, A2, B, C .img from bench/delta_images.sh. Pairs: A -> A2 (rebuild),
# A0 -> A (security roll-up), A -> B (+2 packages), A -> C (+4 packages). Per pair and mode: bytes
# on the wire, share of the full bundle and of `zstd -19` of the target image (computed once and
# kept beside the images as `<image>.zst19.size`), wall time, the agent's CPU time and peak RSS.
# Slot B is compared with the target image after every install. UPDRAFT=path and SERVER=path
# pick other binaries (default: the release builds, made here). WORK (default
# /var/tmp/updraft-delta/work) is deleted at the end; it needs about 4 GB.
set -euo pipefail
cd "$(dirname "$0")/.."
images=$(realpath "${1:-/var/tmp/updraft-delta/images}")
work="${WORK:-/var/tmp/updraft-delta/work}"
rate="${RATE:-12500000}"
pairs="${PAIRS:-A:A2 A0:A A:B A:C}"
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
for tool in jq zstd python3 curl; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install $tool)" >&2; exit 1; }
done
for pair in $pairs; do
    for img in ${pair%:*} ${pair#*:}; do
        [ -f "$images/$img.img" ] || { echo "$images/$img.img is missing: build it with bash bench/delta_images.sh $images" >&2; exit 1; }
    done
done

rm -rf "$work" && mkdir -p "$work"
cd "$work"
server_pid= relay_pid=
cleanup() {
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    wait 2>/dev/null
    cd / && rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout signer.key -out signer.pem \
    -subj /CN=bench >/dev/null 2>&1

# The reference size: zstd -19 of each target image, as the reference pilot compares against.
zst19() { # image name -> bytes
    local f="$images/$1.img.zst19.size"
    if [ ! -s "$f" ] || [ "$f" -ot "$images/$1.img" ]; then
        zstd -19 -T0 -q -c "$images/$1.img" | wc -c > "$f.tmp" && mv "$f.tmp" "$f"
    fi
    cat "$f"
}

# Bundles of each target: full (zstd, as devices download today) and chunk delta (`delta = true`).
bundle() { # target kind(full|delta)
    local dir="$work/bundles/$1-$2"
    mkdir -p "$dir"
    ln -sf "$images/$1.img" "$dir/rootfs.img"
    local how='compress = "zstd"'
    [ "$2" = delta ] && how='delta = true'
    # Every target is "2.0.0" and every device runs "1.0.0": the agent installs only newer versions.
    printf 'version = "2.0.0"\nhardware-compatibility = ["1.0"]\n[[images]]\nfile = "rootfs.img"\ntype = "raw"\n%s\n' \
        "$how" > "$dir/bundle.toml"
    /usr/bin/time -f "%e s, %M KiB peak RSS" -o "$dir/time.txt" \
        "$updraft" bundle create --manifest "$dir/bundle.toml" --cert signer.pem --key signer.key \
        --output "$dir/$1.swu" > "$dir/create.log"
    echo "bundle $1 $2: $(stat -c %s "$dir/$1.swu") bytes$( [ "$2" = delta ] && echo ", .zck $(stat -c %s "$dir/rootfs.img.zck") bytes"), made in $(cat "$dir/time.txt")"
}

port=$((20000 + RANDOM % 20000))
sport=$((port + 1))
admin=(-u "admin:bench-admin-password" -H "content-type: application/json")
UPDRAFT_LISTEN="127.0.0.1:$sport" UPDRAFT_DATA_DIR="$work/server" UPDRAFT_ADMIN_PASSWORD=bench-admin-password \
    UPDRAFT_LOG=warn UPDRAFT_MAX_ARTIFACT_SIZE=$((4 << 30)) "$server" > server.log 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -sf -o /dev/null "${admin[@]}" "http://127.0.0.1:$sport/rest/v1/targets" && break; sleep 0.1; done
mgmt() { # method path [json]
    curl -sf -X "$1" "${admin[@]}" ${3:+-d "$3"} "http://127.0.0.1:$sport$2" ||
        { echo "$1 $2 failed; see server.log" >&2; exit 1; }
}
upload() { # module-id file
    curl -sS -f -u "admin:bench-admin-password" -F "file=@$2" \
        "http://127.0.0.1:$sport/rest/v1/softwaremodules/$1/artifacts" >/dev/null ||
        { echo "uploading $2 failed" >&2; exit 1; }
}
declare -A ds_of
distribution_set() { # target kind
    local dir="$work/bundles/$1-$2" sm
    sm=$(mgmt POST /rest/v1/softwaremodules "[{\"name\":\"$1-$2\",\"version\":\"$1\",\"type\":\"os\"}]" | jq '.[0].id')
    upload "$sm" "$dir/$1.swu"
    [ "$2" = delta ] && upload "$sm" "$dir/rootfs.img.zck"
    ds_of[$1-$2]=$(mgmt POST /rest/v1/distributionsets \
        "[{\"name\":\"$1-$2\",\"version\":\"$1\",\"type\":\"os\",\"modules\":[{\"id\":$sm}]}]" | jq '.[0].id')
}

# The link: a relay that sends the server's bytes on at `rate` per connection and appends, when a
# connection ends, how many it carried to relay.log.
cat > relay.py <<'PY'
import asyncio, sys
listen, upstream, rate, log = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
async def pipe(reader, writer, limit):
    loop = asyncio.get_running_loop()
    start, total = loop.time(), 0
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
            total += len(data)
            if limit:
                ahead = start + total / limit - loop.time()
                if ahead > 0:
                    await asyncio.sleep(ahead)
    except ConnectionError:
        pass
    finally:
        writer.close()
    return total
async def handle(client_r, client_w):
    server_r, server_w = await asyncio.open_connection("127.0.0.1", upstream)
    up = asyncio.create_task(pipe(client_r, server_w, 0))
    down = await pipe(server_r, client_w, rate)
    await up
    with open(log, "a") as f:
        f.write(f"{down}\n")
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY
python3 relay.py "$port" "$sport" "$rate" "$work/relay.log" &
relay_pid=$!

targets=$(for pair in $pairs; do echo "${pair#*:}"; done | sort -u)
for t in $targets; do
    bundle "$t" full
    bundle "$t" delta
    distribution_set "$t" full
    distribution_set "$t" delta
done

device=0
results=results.txt
: > "$results"
run() { # source target kind
    local src=$1 dst=$2 kind=$3 cid token
    device=$((device + 1))
    cid="bench-$device"
    rm -rf dev && mkdir -p dev/data dev/sim
    cp "$images/$src.img" dev/a.img
    : > dev/b.img
    printf '{"slot":"A","trial":false}' > dev/sim/sim-booted.json
    echo 1 > dev/boot_id
    token=$(mgmt POST /rest/v1/targets "[{\"controllerId\":\"$cid\",\"name\":\"$cid\"}]" | jq -r '.[0].securityToken')
    mgmt POST "/rest/v1/targets/$cid/assignedDS" "{\"id\":${ds_of[$dst-$kind]},\"type\":\"forced\"}" >/dev/null
    cat > dev/agent.toml <<TOML
data_dir = "$work/dev/data"
[bootloader]
backend = "sim"
state_dir = "$work/dev/sim"
[slots.a]
device = "$work/dev/a.img"
[slots.b]
device = "$work/dev/b.img"
[bundle]
ca = "$work/signer.pem"
[device]
board = "bench"
hardware_revision = "1.0"
version = "1.0.0"
[server]
url = "http://127.0.0.1:$port"
controller_id = "$cid"
target_token = "$token"
[agent]
reboot_command = ""
boot_id_file = "$work/dev/boot_id"
TOML
    sync
    : > relay.log
    /usr/bin/time -f "%e %U %S %M" -o time.txt "$updraft" agent --once --config dev/agent.toml > agent.log 2>&1 ||
        { echo "$src -> $dst $kind: the agent failed:" >&2; cat agent.log >&2; exit 1; }
    grep -q "installed and armed" agent.log || { echo "$src -> $dst $kind: not installed:" >&2; cat agent.log >&2; exit 1; }
    cmp -s "$images/$dst.img" dev/b.img || { echo "$src -> $dst $kind: slot B differs from $dst.img" >&2; exit 1; }
    # The relay writes a connection's count when it closes (the agent has exited, so they all do).
    sleep 1
    local bytes
    bytes=$(awk '{ s += $1 } END { print s + 0 }' relay.log)
    read -r secs user sys rss_kb < time.txt
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$src -> $dst" "$kind" "$bytes" "$secs" "$user" "$sys" "$rss_kb" >> "$results"
    printf '%-10s %-6s %11s bytes  %6.2f s  CPU %6.2f s  peak RSS %5.1f MiB\n' "$src -> $dst" "$kind" "$bytes" "$secs" \
        "$(echo "$user + $sys" | bc)" "$(echo "scale=1; $rss_kb / 1024" | bc)"
}

for pair in $pairs; do
    run "${pair%:*}" "${pair#*:}" full
    run "${pair%:*}" "${pair#*:}" delta
done

echo
echo "link: $( [ "$rate" = 0 ] && echo "loopback, no limit" || echo "$rate bytes/s per connection" ); $(nproc) cores, $(uname -r)"
echo "| pair | target zstd -19 | full bundle on the wire | chunk delta on the wire | delta / full | delta / zstd -19 | time full / delta | agent CPU full / delta | peak RSS full / delta |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for pair in $pairs; do
    p="${pair%:*} -> ${pair#*:}"
    z=$(zst19 "${pair#*:}")
    awk -F'\t' -v p="$p" -v z="$z" '
        $1 == p { b[$2] = $3; t[$2] = $4; c[$2] = $5 + $6; r[$2] = $7 }
        END {
            printf "| %s | %.1f MB | %.1f MB | %.2f MB | %.1f %% | %.1f %% | %.1f / %.1f s | %.1f / %.1f s | %.1f / %.1f MiB |\n",
                p, z / 1e6, b["full"] / 1e6, b["delta"] / 1e6, 100 * b["delta"] / b["full"], 100 * b["delta"] / z,
                t["full"], t["delta"], c["full"], c["delta"], r["full"] / 1024, r["delta"] / 1024
        }' "$results"
done
