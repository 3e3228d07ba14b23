#!/usr/bin/env bash
# Reproducible Debian bookworm root filesystems for the delta measurements (issue 18), as in
# ../shared/reference/delta.md §3: the same inputs give the same bytes, so what a delta costs is
# what changed, not rebuild noise.
#
#   bash bench/delta_images.sh [OUT_DIR]        # default: ./delta-images
#
# Writes ext4 slot images of 640 MiB (as an A/B partition would be) and their SHA-256:
#   A0  the base set from `bookworm main` only (the point release)
#   A   the base set with bookworm-updates and bookworm-security (the security roll-up A0 -> A)
#   A2  A built again from the same inputs (the rebuild noise A -> A2)
#   B   A + curl, nano (A -> B: two packages added)
#   C   A + curl, nano, python3-numpy, git (A -> C: four packages, +110 MiB)
# Needs root, mmdebstrap and e2fsprogs, and Debian's mirror; about 3 minutes and 1 GiB of scratch
# per image on 2 cores. An image that exists is kept (delete it to build it again).
set -euo pipefail

OUT=${1:-delta-images}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
SLOT_SIZE=${SLOT_SIZE:-640M}
# Fixed time, filesystem UUID and directory hash seed: mkfs.ext4 otherwise draws them at random,
# and files written during the install have their mtimes clamped to the fixed time.
export SOURCE_DATE_EPOCH=1735689600
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
FS_UUID=5e1f0c2a-8d3b-4a6e-9f17-0c2d4b6a8e10
HASH_SEED=0b7e3c1d-2f4a-4c5b-8d6e-7f8091a2b3c4
BASE=systemd,systemd-sysv,openssh-server,iproute2,ca-certificates,python3

if [ "$(id -u)" != 0 ]; then
    echo "delta_images.sh: run it as root: mmdebstrap's root mode and mkfs.ext4 -d need it." >&2
    exit 1
fi
for tool in mmdebstrap mkfs.ext4 debugfs; do
    command -v "$tool" >/dev/null || {
        echo "delta_images.sh: $tool is missing; install it with: apt-get install mmdebstrap e2fsprogs" >&2
        exit 1
    }
done
mkdir -p "$OUT"

# image NAME PACKAGES SOURCES...
image() {
    local name=$1 packages=$2
    shift 2
    local img="$OUT/$name.img"
    if [ -s "$img" ]; then
        echo "$name: kept $img"
        return
    fi
    local tree
    tree=$(mktemp -d "$OUT/.tree-$name.XXXXXX")
    echo "$name: building ($packages)"
    # Host keys are made at install time and differ on every build; a real image makes them on
    # first boot. The apt lists and caches are download state, not part of a slot.
    mmdebstrap --quiet --mode=root --variant=minbase --include="$packages" \
        --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
        --customize-hook='find "$1" -xdev -newermt "@'$SOURCE_DATE_EPOCH'" \
            -not -path "$1/proc" -not -path "$1/sys" -print0 |
            xargs -0r touch --no-dereference --date="@'$SOURCE_DATE_EPOCH'"' \
        bookworm "$tree" "$@"
    rm -f "$img.part"
    mkfs.ext4 -q -b 4096 -U "$FS_UUID" -E "hash_seed=$HASH_SEED,lazy_itable_init=0,lazy_journal_init=0" \
        -d "$tree" "$img.part" "$SLOT_SIZE"
    rm -rf "$tree"
    # mkfs.ext4 -d copies each file's times: ctime and atime are those of this build and cannot be
    # set in the tree, and mmdebstrap's own cleanup after the hooks touches a few directories. Set
    # ctime and atime to the fixed time, and clamp mtime to it, in the image.
    local mnt
    mnt=$(mktemp -d)
    mount -o loop,ro "$img.part" "$mnt"
    (cd "$mnt" && find . -xdev -printf '%i %T@\n') | sort -un |
        awk -v t="$SOURCE_DATE_EPOCH" '{
            for (f = 0; f < 2; f++) {
                field = f ? "atime" : "ctime"
                print "sif <" $1 "> " field " @" t; print "sif <" $1 "> " field "_extra 0"
            }
            if ($2 > t) { print "sif <" $1 "> mtime @" t; print "sif <" $1 "> mtime_extra 0" }
        }' > "$OUT/.debugfs-$name"
    umount "$mnt"
    rmdir "$mnt"
    debugfs -w -f "$OUT/.debugfs-$name" "$img.part" > /dev/null 2>&1
    rm -f "$OUT/.debugfs-$name"
    sync "$img.part"
    mv "$img.part" "$img"
    (cd "$OUT" && sha256sum "$name.img" > "$name.img.sha256")
    echo "$name: $(du -h --apparent-size "$img" | cut -f1) $img"
}

POINT="deb $MIRROR bookworm main"
CURRENT=("deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY bookworm-security main")
image A0 "$BASE" "$POINT"
image A "$BASE" "${CURRENT[@]}"
image A2 "$BASE" "${CURRENT[@]}"
image B "$BASE,curl,nano" "${CURRENT[@]}"
image C "$BASE,curl,nano,python3-numpy,git" "${CURRENT[@]}"

if cmp -s <(cut -d' ' -f1 "$OUT/A.img.sha256") <(cut -d' ' -f1 "$OUT/A2.img.sha256"); then
    echo "A and A2 are identical: the build is byte-for-byte reproducible"
else
    echo "A and A2 differ in $(cmp -l "$OUT/A.img" "$OUT/A2.img" | wc -l) bytes (rebuild noise)"
fi
