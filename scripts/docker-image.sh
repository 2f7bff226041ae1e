#!/usr/bin/env bash
# Images for the Docker driver on a machine that reaches no image registry (only Debian's package archive):
#
#   scripts/docker-image.sh base [TAG]       # debian:bookworm-slim made here: debootstrap (minbase, with the
#                                            # libraries decnet links) imported with `docker import`
#   scripts/docker-image.sh project [BINARY] # decnet-swift:latest from the repository's Dockerfile, with a
#                                            # decnet built on this host (default: a release build with the
#                                            # Swift runtime linked in) instead of compiling inside swift:6.1
#
# Both skip work already done: the base image when the engine has TAG, the rootfs when its tarball is cached
# in ${DECNET_CACHE:-/var/cache/decnet}. DOCKER_HOST selects the engine; BuildKit is used (DOCKER_BUILDKIT=1)
# with the Debian docker client when it is installed (/usr/bin/docker). Needs root (debootstrap).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DOCKER=${DOCKER:-$([ -x /usr/bin/docker ] && echo /usr/bin/docker || command -v docker)}
CACHE=${DECNET_CACHE:-/var/cache/decnet}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What `decnet` links, as the Dockerfile's runtime stage installs it.
RUNTIME_LIBRARIES=ca-certificates,libsqlite3-0,libsodium23,libnettle8,libgmp10,zlib1g,libpcap0.8,libnetfilter-queue1,libnfnetlink0,libloc1

base() {
    local tag=${1:-debian:bookworm-slim} tarball=$CACHE/debian-bookworm-minbase.tar
    if "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then
        echo "docker-image: $tag is already there"
        return
    fi
    if [ ! -s "$tarball" ]; then
        source scripts/deps.sh
        deps_install docker
        local rootfs
        rootfs=$(mktemp -d /tmp/decnet-rootfs.XXXXXX)
        echo "docker-image: debootstrap bookworm (minbase + $RUNTIME_LIBRARIES) into $rootfs"
        debootstrap --variant=minbase --include="$RUNTIME_LIBRARIES" bookworm "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 ||
            { tail -20 "$rootfs.log" >&2; rm -rf "$rootfs" "$rootfs.log"; return 1; }
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        mkdir -p "$CACHE"
        tar -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
        rm -rf "$rootfs" "$rootfs.log"
    fi
    echo "docker-image: importing $tarball as $tag"
    "$DOCKER" import --change 'CMD ["bash"]' "$tarball" "$tag" >/dev/null
}

project() {
    local binary=${1:-} tag=${TAG:-decnet-swift:latest} context
    source scripts/deps.sh
    deps_find_swift
    if [ -z "$binary" ]; then
        deps_install build
        swift build -c release --product decnet --static-swift-stdlib --scratch-path .build-release
        binary=$REPO/.build-release/release/decnet
    fi
    base debian:bookworm-slim
    context=$(mktemp -d /tmp/decnet-image.XXXXXX)
    trap 'rm -rf "$context"' RETURN
    mkdir -p "$context/prebuilt/lib"
    cp Dockerfile "$context/"
    cp "$binary" "$context/prebuilt/decnet"
    # A debug or non-static build links the toolchain's Swift runtime: it travels with the binary.
    local swiftlib
    swiftlib=$(deps_swift_root)/usr/lib/swift/linux
    ldd "$binary" | awk '$3 ~ /^\// { print $3 }' | while read -r library; do
        case $(readlink -f "$library") in "$(readlink -f "$swiftlib")"/*) cp "$library" "$context/prebuilt/lib/" ;; esac
    done
    echo "docker-image: building $tag from Dockerfile with $binary ($(ls "$context/prebuilt/lib" | wc -l) runtime libraries)"
    # The runtime stage runs apt-get (Debian's archive), so the build uses the host's network.
    DOCKER_BUILDKIT=1 "$DOCKER" build --network host --build-arg DECNET_BINARY_FROM=prebuilt -t "$tag" "$context"
}

case ${1:-} in
base) shift; base "$@" ;;
project) shift; project "$@" ;;
*) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
