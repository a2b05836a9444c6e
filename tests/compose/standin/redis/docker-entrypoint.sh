#!/bin/sh
# What the compose file relies on from the official redis image's entry point:
# `redis-server ...` started as root runs as the unprivileged user redis, which
# owns /data; files it creates are private to it.
set -eu
if [ "${1#-}" != "$1" ]; then
    set -- redis-server "$@"
fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "$(umask)" = 0022 ]; then
    umask 0077
fi
exec "$@"
