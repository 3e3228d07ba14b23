#!/usr/bin/env bash
# Installs what the SWUpdate compatibility tests (compat-tests/) need: the real Debian
# `swupdate` (suricatta hawkBit client, CMS signing), `cpio` and `openssl` to build signed
# .swu bundles, and `kill` (procps) to stop swupdate's process group.
# Idempotent and non-interactive; run it (bash .ci/compat-deps.sh) or source it from .ci/run.
# With CI=true the tests fail instead of skipping when one of these is missing.

install_compat_deps() {
    local packages=(swupdate cpio openssl procps)
    local missing=()
    local package
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    for package in "${packages[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
            missing+=("$package")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "compat-deps: ${packages[*]} already installed"
    else
        echo "compat-deps: installing ${missing[*]}"
        $sudo apt-get update -qq || return 1
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
            || return 1
    fi
    # The package enables a system swupdate daemon (and a socket in /tmp) on systemd hosts;
    # the tests start their own instances, so keep the system one out of the way.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        $sudo systemctl disable --now swupdate.socket swupdate.service swupdate-progress.service \
            >/dev/null 2>&1 || true
    fi
    command -v swupdate >/dev/null && command -v cpio >/dev/null && command -v openssl >/dev/null \
        && command -v kill >/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    install_compat_deps
else
    install_compat_deps || return 1
fi
