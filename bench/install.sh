#!/usr/bin/env bash
# Installs a 1 GiB image with `updraft install` from a signed bundle into a file-backed slot and
# compares it with `dd` writing the same image to the same kind of target. Reports wall time,
# throughput and peak RSS (GNU time). Usage: bash bench/install.sh [size, default 1G] [workdir]
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1G}"
work="${2:-/var/tmp/updraft-install-bench}"
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p updraft-client
updraft="$target_dir/release/updraft"
rm -rf "$work" && mkdir -p "$work/sim" "$work/data"
cd "$work"

head -c "$size" /dev/urandom > rootfs.img
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout signer.key -out signer.pem \
    -subj /CN=bench >/dev/null 2>&1
cat > bundle.toml <<TOML
version = "2.0.0"
hardware-compatibility = ["1.0"]
[[images]]
file = "rootfs.img"
type = "raw"
device = "$work/b.img"
TOML
"$updraft" bundle create --manifest bundle.toml --cert signer.pem --key signer.key --output update.swu >/dev/null
echo "slot A" > a.img && : > b.img && : > b-dd.img
cat > updraft.toml <<TOML
data_dir = "$work/data"
[bootloader]
backend = "sim"
state_dir = "$work/sim"
[slots.a]
device = "$work/a.img"
[slots.b]
device = "$work/b.img"
[bundle]
ca = "$work/signer.pem"
[device]
board = "bench"
hardware_revision = "1.0"
version = "1.0.0"
TOML
# The simulated firmware's first boot: slot A.
printf '{"slot":"A","trial":false}' > sim/sim-booted.json

bytes=$(stat -c %s rootfs.img)
sync
# Warm both inputs equally: the bundle and the raw image are read once before timing.
cat update.swu rootfs.img > /dev/null

measure() { # label, command...
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o time.txt "$@" > /dev/null
    read -r secs rss_kb < time.txt
    awk -v l="$label" -v s="$secs" -v r="$rss_kb" -v b="$bytes" \
        'BEGIN { printf "%-26s %8.2f s  %8.1f MB/s  peak RSS %7.1f MiB\n", l, s, b / s / 1e6, r / 1024 }'
}
measure "updraft install (verify)" "$updraft" install update.swu --config updraft.toml
cmp rootfs.img b.img
measure "dd bs=1M conv=fsync" dd if=rootfs.img of=b-dd.img bs=1M conv=fsync status=none
echo "image $bytes bytes; bundle $(stat -c %s update.swu) bytes; $(nproc) cores; $(uname -r)"
