#!/bin/sh
# Runs autoheal as the unprivileged user `autoheal`, with the Docker socket's group, when the
# container starts as root: the socket's group grants all autoheal needs. A socket that belongs
# to group root (some rootless and desktop setups) leaves no such group, so autoheal then stays
# root and says so. AUTOHEAL_RUN_AS_ROOT=true keeps root; `user:` in compose skips all of this.
set -eu

if [ "$(id -u)" != 0 ] || [ "${AUTOHEAL_RUN_AS_ROOT:-false}" = true ]; then
    exec "$@"
fi

socket="${DOCKER_SOCK:-/var/run/docker.sock}"
case "${DOCKER_HOST:-}" in
    unix://*) socket="${DOCKER_HOST#unix://}" ;;
    ?*) socket="" ;;  # tcp:// to a socket proxy: no socket to join
esac

groups="--clear-groups"
if [ -n "$socket" ] && [ -S "$socket" ]; then
    gid="$(stat -c %g "$socket")"
    if [ "$gid" = 0 ]; then
        echo "autoheal-entrypoint: $socket belongs to group root, so autoheal runs as root (see docs/security.md)" >&2
        exec "$@"
    fi
    groups="--groups=$gid"
fi

# The data directory must be autoheal's: a bind mount created by the engine belongs to root.
data="${AUTOHEAL_DATA_DIR:-/data}"
if [ -d "$data" ] && [ "$(stat -c %u "$data")" != "$(id -u autoheal)" ]; then
    chown -R autoheal:autoheal "$data"
fi

exec setpriv --reuid=autoheal --regid=autoheal "$groups" --inh-caps=-all -- "$@"
