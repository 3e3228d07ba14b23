#!/usr/bin/env bash
# A PostgreSQL 15 image from Debian's packages, for running docker/compose.yaml where no registry
# is reachable (docker/test/compose.podman.yaml, compat-tests/tests/compose.rs). It takes the
# official image's POSTGRES_* variables; not meant for production.
set -euo pipefail
cd "$(dirname "$0")"
image=localhost/updraft-postgres:15
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/../../.ci/podman/containers.conf}"
podman image exists "$image" && exit 0
mmdebstrap --variant=apt --quiet --include=postgresql-15 \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/usr/share/doc "$1"/usr/share/man' \
  --customize-hook='chroot "$1" sh -c "rm -rf /var/lib/postgresql/15 /etc/postgresql/15 && mkdir -p /var/lib/postgresql/data && chown -R postgres:postgres /var/lib/postgresql && chmod 0700 /var/lib/postgresql/data"' \
  --customize-hook='upload postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint' \
  --customize-hook='chmod 0755 "$1/usr/local/bin/postgres-entrypoint"' \
  bookworm - http://deb.debian.org/debian |
  podman import \
    --change 'USER postgres' \
    --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]' \
    --change 'VOLUME /var/lib/postgresql/data' \
    - "$image"
