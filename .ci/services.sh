#!/usr/bin/env bash
# Installs (from Debian's packages) and starts the services the tests talk to, then waits until they
# answer: PostgreSQL on 127.0.0.1:5432 with a `postgres` superuser and a `test` database (the
# default `UPDRAFT_TEST_POSTGRES`), and RabbitMQ on 127.0.0.1:5672. Nothing here assumes a service
# manager: CI machines and containers have no systemd. Idempotent: run it again and it only checks.
# Usage: bash .ci/services.sh   (as root, or with sudo available)
set -euo pipefail

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

missing=()
for pkg in postgresql rabbitmq-server; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "services: installing ${missing[*]}"
    $sudo apt-get update -qq
    # The packages' own start attempts fail harmlessly without a service manager; we start them below.
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

wait_for() { # what, seconds, command...
    local what=$1 secs=$2
    shift 2
    for _ in $(seq "$((secs * 4))"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    echo "services: $what did not come up within ${secs}s" >&2
    return 1
}

# PostgreSQL: Debian's cluster `main`, created when the package could not create one.
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if [ ! -d "/etc/postgresql/$version/main" ]; then
    $sudo pg_createcluster "$version" main --port 5432 >/dev/null
fi
hba="/etc/postgresql/$version/main/pg_hba.conf"
# The tests connect over loopback as the `postgres` superuser without a password; this cluster is
# the test machine's own, never a production one.
hba_changed=false
if ! $sudo grep -q '^host all postgres 127.0.0.1/32 trust' "$hba"; then
    $sudo sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    hba_changed=true
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for PostgreSQL 60 pg_isready -q -h 127.0.0.1 -p 5432
elif $hba_changed; then
    # Started by the package (or by hand) before the line was there.
    $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main reload
fi
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
    echo "services: PostgreSQL answers on 127.0.0.1:5432 but the postgres superuser cannot log in" \
        "without a password; set UPDRAFT_TEST_POSTGRES to a URL that can" >&2
    [ -n "${UPDRAFT_TEST_POSTGRES:-}" ] || exit 1
else
    psql -h 127.0.0.1 -U postgres -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'test'" \
        | grep -q 1 || psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE test'
fi
echo "services: PostgreSQL ready on 127.0.0.1:5432"

# RabbitMQ: the broker's default `guest` user may log in from loopback only.
if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
    $sudo mkdir -p /var/log/rabbitmq
    # Detached broker; it and Erlang's port mapper listen on every interface by default, so keep
    # AMQP, epmd and the distribution port on loopback.
    $sudo env RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODENAME=rabbit@localhost \
        ERL_EPMD_ADDRESS=127.0.0.1 \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}' \
        rabbitmq-server -detached >/dev/null 2>&1 || true
    wait_for RabbitMQ 90 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672'
fi
echo "services: RabbitMQ ready on 127.0.0.1:5672"
