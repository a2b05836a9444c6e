#!/usr/bin/env bash
# Stand-in base images for the compose test, built on this machine (no image
# registry is reachable here): a minimal Debian bookworm from mmdebstrap,
# imported into the engine at DOCKER_HOST, then python, redis, postgres and
# prometheus images on top of it (this folder's Dockerfiles).
#
# Each image carries a hash of its recipe as a label and is rebuilt only when
# it is missing or its recipe changed. Progress goes to stderr; the last four
# lines on stdout name the images for the compose file:
#   PYTHON_IMAGE=...  REDIS_IMAGE=...  POSTGRES_IMAGE=...  PROMETHEUS_IMAGE=...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=quotestream-standin
label=quotestream.recipe
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { echo "standin: $*" >&2; }
built_from() { docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true; }
digest() { sha256sum | cut -c1-16; }

# The base: Debian's minbase variant from the machine's own apt sources.
base=$prefix/debian:bookworm
mmdebstrap_args=(--variant=minbase --aptopt='Acquire::Check-Valid-Until "false"'
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/locale/*' bookworm)
base_hash=$(printf '%s\n' "${mmdebstrap_args[@]}" | digest)
if [ "$(built_from "$base")" != "$base_hash" ]; then
    say "building $base with mmdebstrap (about a minute)"
    mmdebstrap --quiet "${mmdebstrap_args[@]}" "$work/rootfs.tar" >&2
    docker import --change "LABEL $label=$base_hash" --change 'CMD ["bash"]' \
        "$work/rootfs.tar" "$base" > /dev/null
    rm -f "$work/rootfs.tar"
else
    say "$base is up to date"
fi

# python: its build context also holds the machine's extra CA certificates
# (those update-ca-certificates installed from /usr/local/share/ca-certificates).
mkdir -p "$work/python/extra-ca"
cp "$here/python/Dockerfile" "$work/python/"
if [ -d /usr/local/share/ca-certificates ]; then
    find /usr/local/share/ca-certificates -name '*.crt' -exec cp '{}' "$work/python/extra-ca/" ';'
fi

build() {  # build NAME CONTEXT
    local image=$prefix/$1:local context=$2 hash
    hash=$( (echo "$base_hash"; find "$context" -type f | LC_ALL=C sort | xargs cat) | digest)
    if [ "$(built_from "$image")" != "$hash" ]; then
        say "building $image"
        docker build --quiet --build-arg "BASE=$base" --label "$label=$hash" \
            -t "$image" "$context" > "$work/build.log" 2>&1 \
            || { cat "$work/build.log" >&2; exit 1; }
    else
        say "$image is up to date"
    fi
}
build python "$work/python"
build redis "$here/redis"
build postgres "$here/postgres"
build prometheus "$here/prometheus"

echo "PYTHON_IMAGE=$prefix/python:local"
echo "REDIS_IMAGE=$prefix/redis:local"
echo "POSTGRES_IMAGE=$prefix/postgres:local"
echo "PROMETHEUS_IMAGE=$prefix/prometheus:local"
