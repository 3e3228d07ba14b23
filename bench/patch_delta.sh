#!/usr/bin/env bash
# Per-source patches (issue 18 item 2) on the Debian bookworm pairs of bench/delta_images.sh:
# patch size (`updraft bundle delta`), encode time and RSS, and the client applying it
# (`updraft install` of the patch bundle: source check, window-by-window rebuild into a slot
# file, image sha256), CPU time and peak RSS from GNU time.
#
#   bash bench/patch_delta.sh                  # PAIRS="A0:A A:B A:C A:A2" LEVEL=19 DICT_MIB=12 WINDOW_MIB=2
#
# Needs the images in $IMAGES (default /var/tmp/updraft-delta/images) and a release build of
# updraft-client ($UPDRAFT, default target/release/updraft).
set -euo pipefail
cd "$(dirname "$0")/.."
images="${IMAGES:-/var/tmp/updraft-delta/images}"
pairs="${PAIRS:-A0:A A:B A:C A:A2}"
level="${LEVEL:-19}"
dict="${DICT_MIB:-12}"
window="${WINDOW_MIB:-2}"
updraft=$(realpath "${UPDRAFT:-${CARGO_TARGET_DIR:-target}/release/updraft}")
work="${WORK:-/var/tmp/updraft-patch-bench}"
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
printf '| pair | patch bundle bytes | encode s (RSS MB) | apply CPU s (wall s, peak RSS MB) | slot B == target |\n'
printf '|---|---|---|---|---|\n'
for pair in $pairs; do
    from="${pair%%:*}" to="${pair##*:}"
    out="$work/$to-from-$from.patch.swu"
    /usr/bin/time -f '%e %M' -o "$work/enc.time" "$updraft" bundle delta \
        --from "$images/$from.img" --to "$images/$to.img" --unsigned --version 2.0.0 \
        --hardware-compatibility 1.0 --level "$level" --dict-mib "$dict" --window-mib "$window" \
        -o "$out" >/dev/null
    read -r enc_s enc_kb < "$work/enc.time"
    : > "$work/b.img"
    cat > "$work/updraft.toml" <<TOML
data_dir = "$work/data"
[bootloader]
backend = "sim"
state_dir = "$work/sim"
[slots.a]
device = "$images/$from.img"
[slots.b]
device = "$work/b.img"
[device]
board = "bench"
hardware_revision = "1.0"
version = "1.0.0"
TOML
    rm -rf "$work/data" "$work/sim"
    "$updraft" sim boot --config "$work/updraft.toml" >/dev/null
    /usr/bin/time -f '%U %S %e %M' -o "$work/apply.time" "$updraft" install --config "$work/updraft.toml" "$out" \
        >/dev/null 2>"$work/install.err" || { cat "$work/install.err" >&2; exit 1; }
    read -r u s e kb < "$work/apply.time"
    same=no
    cmp -s "$work/b.img" "$images/$to.img" && same=yes
    printf '| %s→%s | %s | %s (%d) | %.2f (%s, %d) | %s |\n' "$from" "$to" "$(stat -c %s "$out")" \
        "$enc_s" $((enc_kb / 1024)) "$(echo "$u + $s" | bc)" "$e" $((kb / 1024)) "$same"
    rm -f "$out" "$work/b.img"
done
