#!/usr/bin/env bash
# An S3-compatible object store image for running docker/compose.yaml where no registry is
# reachable (docker/test/compose.podman.yaml, compat-tests/tests/compose.rs): s3s-fs 0.14.1, the
# server the S3 artifact-store tests use, which checks SigV4 signatures and keeps each bucket as a
# directory of its root. Not meant for production.
#
# The binary is the one .ci/run installs with `cargo install` (S3S_FS to use another); it links
# glibc, so it gets Debian bookworm's libc6 and libgcc-s1 beside it, and busybox for a shell (the
# bucket step, the health check, the test's look into the store). The packages are only extracted
# (mmdebstrap's `extract` variant): no dpkg, no apt, 16 MB, a few seconds to make. Needs root
# (the tree is made in a temporary directory with its owners).
set -euo pipefail
cd "$(dirname "$0")"
image=localhost/updraft-s3s-fs:0.14.1
s3s_fs="${S3S_FS:-/var/tmp/updraft-s3s/bin/s3s-fs}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/../../.ci/podman/containers.conf}"
podman image exists "$image" && exit 0
[[ -x "$s3s_fs" ]] || {
  echo "docker/test/s3s-image.sh: no s3s-fs at $s3s_fs (.ci/run installs it; or set S3S_FS)" >&2
  exit 1
}
"$s3s_fs" --version | grep -q ' 0\.14\.1$' || {
  echo "docker/test/s3s-image.sh: $s3s_fs is not s3s-fs 0.14.1 ($("$s3s_fs" --version))" >&2
  exit 1
}
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
# The extract variant runs no hooks, so the tree is finished here before it is imported.
mmdebstrap --variant=extract --quiet --include=libc6,libgcc-s1,busybox-static \
  bookworm "$root" http://deb.debian.org/debian
rm -rf "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/locale "$root"/usr/share/lintian \
  "$root"/usr/lib/x86_64-linux-gnu/gconv "$root"/var/lib/apt "$root"/var/cache/apt "$root"/etc/apt
for tool in sh mkdir ls find sha256sum wget grep cat; do ln -s busybox "$root/bin/$tool"; done
install -D -m 0755 "$s3s_fs" "$root/usr/local/bin/s3s-fs"
mkdir -p "$root/data" "$root/tmp"
chown 10001:10001 "$root/data"
chmod 1777 "$root/tmp"
echo 's3s:x:10001:10001:s3s:/data:/bin/sh' > "$root/etc/passwd"
echo 's3s:x:10001:' > "$root/etc/group"
tar -C "$root" -cf - . |
  podman import \
    --change 'USER 10001:10001' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'ENTRYPOINT ["/usr/local/bin/s3s-fs"]' \
    --change 'CMD ["--help"]' \
    --change 'VOLUME /data' \
    - "$image"
