#!/usr/bin/env bash
# Builds the Updraft container images with podman (or Docker):
#   localhost/updraft-server:latest   the server (target `server`, the Dockerfile's last stage)
#   localhost/updraft-sim:latest      the fleet simulator (target `sim`)
#
#   bash docker/build.sh                 # with docker.io/library/rust:1.95-slim-bookworm as builder
#   bash docker/build.sh --local-base    # no registry: builds the builder base from Debian packages
#                                        # and this machine's Rust toolchain first (what CI does)
#
# Options: --local-base, --base-only (only the local base), --no-sim, --tag TAG (default latest). Environment: ENGINE (podman|docker,
# default podman if installed), RUST_TOOLCHAIN (the toolchain directory copied into the local base).
# Cargo's registry and target dir are cache mounts of the Dockerfile, kept by podman (under
# /var/tmp/buildah-cache-*) and Docker BuildKit between builds: a rebuild compiles only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

local_base=false base_only=false sim=true tag=latest
while (($#)); do
  case "$1" in
    --local-base) local_base=true ;;
    --base-only) local_base=true base_only=true ;;
    --no-sim) sim=false ;;
    --tag) tag="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "docker/build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

engine="${ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}"
if [[ "$engine" == podman ]]; then
  # Our settings (runc, cgroupfs, file events, host network, lowered ulimits) without touching the
  # user's configuration.
  export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/.ci/podman/containers.conf}"
fi

rust_image=docker.io/library/rust:1.95-slim-bookworm
if $local_base; then
  rust_image=localhost/updraft-rust:1.95-bookworm
  if ! "$engine" image exists "$rust_image" 2>/dev/null; then
    toolchain="${RUST_TOOLCHAIN:-$HOME/.rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu}"
    toolchain="$(readlink -f "$toolchain")"
    [[ -x "$toolchain/bin/cargo" ]] || { echo "docker/build.sh: no Rust toolchain at $toolchain (set RUST_TOOLCHAIN)" >&2; exit 1; }
    command -v mmdebstrap >/dev/null || { echo "docker/build.sh: --local-base needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 1; }
    echo "building $rust_image from Debian bookworm and $toolchain"
    # The same layout as the official rust image: toolchain under /usr/local, cargo home
    # /usr/local/cargo; documentation left out. This machine's extra certificate authorities (a
    # TLS-inspecting proxy's, say) are trusted inside too, so cargo reaches crates.io as it does here.
    mmdebstrap --variant=apt --quiet \
      --include=ca-certificates,build-essential,pkg-config,libssl-dev \
      --customize-hook="mkdir -p \"\$1/usr/local/rust\" \"\$1/usr/local/cargo/bin\" && tar -C '$toolchain' --exclude=./share/doc -cf - . | tar -C \"\$1/usr/local/rust\" -xf -" \
      --customize-hook='if [ -d /usr/local/share/ca-certificates ]; then cp -a /usr/local/share/ca-certificates/. "$1/usr/local/share/ca-certificates/" && chroot "$1" update-ca-certificates >/dev/null; fi' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
      bookworm - http://deb.debian.org/debian |
      "$engine" import \
        --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV CARGO_HOME=/usr/local/cargo' \
        --change 'CMD ["/bin/bash"]' \
        - "$rust_image"
  fi
fi

$base_only && exit 0

build() { # target image
  local args=(build -f docker/Dockerfile --target "$1" -t "$2" --build-arg "RUST_IMAGE=$rust_image"
    --build-arg "VERSION=$version"
    --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)")
  # crates.io is reached through the host's network (podman's default would be a bridge);
  # Docker's image format: OCI images cannot carry a HEALTHCHECK.
  [[ "$engine" == podman ]] && args+=(--network host --format docker)
  "$engine" "${args[@]}" .
}

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
build server "localhost/updraft-server:$tag"
$sim && build sim "localhost/updraft-sim:$tag"
# Also under the version, which the Helm chart's appVersion names.
if [[ "$tag" == latest ]]; then
  "$engine" tag "localhost/updraft-server:latest" "localhost/updraft-server:$version"
  $sim && "$engine" tag "localhost/updraft-sim:latest" "localhost/updraft-sim:$version"
fi
# Replaced images and build leftovers: the disk is shared.
"$engine" image prune -f >/dev/null
"$engine" images --filter reference='localhost/updraft-*' --format '{{.Repository}}:{{.Tag}} {{.Size}}'
