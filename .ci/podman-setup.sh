#!/usr/bin/env bash
# Installs podman (Docker-compatible API, no daemon) so the container-health checks of the suite can be
# tested on a machine without Docker. Idempotent: exits 0 at once when everything is already in place.
# It starts no service: the tests start their own `podman system service` on a private socket.
#
# Why these pieces (see shared/toolnotes.md, "Containers without Docker"):
#   runc            crun fails on this kind of machine ("cgroups in hybrid mode not supported")
#   busybox-static  the only binary of the tiny test image, built without any registry
#   catatonit       init for `init=True` containers (busybox sleep ignores SIGTERM)
#   containers.conf default_ulimits = [] (otherwise setrlimit fails in every container), runc, cgroupfs,
#                   file events (no systemd/journald here)
#
# Usage: bash .ci/podman-setup.sh        prints the CONTAINERS_CONF path as its last line
set -euo pipefail

CONF_DIR=/etc/permiso-acceptance
CONF="$CONF_DIR/containers.conf"
read -r -d '' CONF_TEXT <<'CONF' || true
# Written by permiso-acceptance .ci/podman-setup.sh; use with CONTAINERS_CONF=<this file>.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF

installed() {
    command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 \
        && command -v catatonit >/dev/null 2>&1 && [ -x /bin/busybox ] \
        && /bin/busybox --list 2>/dev/null | grep -qx wget
}

if ! installed; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "podman-setup: podman is missing and this is not root; install podman busybox-static runc catatonit" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Other jobs may hold the dpkg lock for a moment: wait for it rather than fail.
    apt_opts=(-y -q -o DPkg::Lock::Timeout=300)
    if ! apt-get install "${apt_opts[@]}" podman busybox-static runc catatonit >/tmp/podman-setup-apt.log 2>&1; then
        apt-get update -q -o DPkg::Lock::Timeout=300 >>/tmp/podman-setup-apt.log 2>&1
        apt-get install "${apt_opts[@]}" podman busybox-static runc catatonit >>/tmp/podman-setup-apt.log 2>&1 \
            || { tail -n 20 /tmp/podman-setup-apt.log >&2; echo "podman-setup: apt-get install failed" >&2; exit 1; }
    fi
    installed || { echo "podman-setup: install finished but podman/runc/catatonit/busybox are missing" >&2; exit 1; }
fi

if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$CONF_TEXT" ]; then
    mkdir -p "$CONF_DIR"
    printf '%s\n' "$CONF_TEXT" >"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
fi

echo "podman-setup: $(podman --version), runc $(runc --version | awk 'NR==1{print $3}'); CONTAINERS_CONF=$CONF"
