#!/usr/bin/env bash
# Does the README hold on a fresh machine? Makes a Debian 12 root file system with debootstrap (the standard
# variant, plus sudo, which the README's commands start with), puts this machine's Swift toolchain in it, and a
# clean clone of this repository's HEAD, then runs the README's two commands in it, as written, and prints each
# step:
#
#   sudo ./scripts/lab-demo.sh      (the main job: build, lab fleet, scan, logins, dashboard)
#   sudo ./scripts/test.sh          (the tests)
#
# Each installs what it needs itself; nothing is installed into the root file system beforehand.
#
#   sudo bench/fresh-machine.sh                 # both; about 45 minutes on 2 cores; the output in $WORK/*.log
#   sudo STEPS=demo bench/fresh-machine.sh      # only the main job
#   sudo KEEP=1 bench/fresh-machine.sh          # keep the root file system afterwards
#
# The chroot shares this machine's kernel and network stack (as a fresh machine has its own): the demo's API and
# dashboard bind 127.0.0.1:8000 and 8080 here while it runs. SwiftPM finds its packages the way it does on this
# machine (the package mirror, mounted read-only, and the same git settings); the toolchain is mounted
# read-only at the same path. Everything it starts is ended and everything it mounts is unmounted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
STEPS=${STEPS:-"demo test"}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" = 0 ] || { echo "fresh-machine.sh needs root (debootstrap, chroot, mounts)" >&2; exit 1; }
source scripts/deps.sh
deps_install bench
SWIFT_ROOT=$(deps_swift_root)
PACKAGES=/opt/swift-packages
WORK=${WORK:-$(mktemp -d /var/tmp/decnet-fresh.XXXXXX)}
ROOT=$WORK/rootfs
step() { printf '\n=== %s  %s\n' "$(date -u +%H:%M:%S)" "$*"; }

cleanup() {
    step "cleanup"
    # Every process whose root is this chroot, by PID.
    for proc in /proc/[0-9]*; do
        [ "$(readlink "$proc/root" 2>/dev/null)" = "$ROOT" ] && kill -9 "${proc#/proc/}" 2>/dev/null || true
    done
    sleep 1
    # Namespaces the chroot made live under its own /run/netns.
    for ns in "$ROOT"/run/netns/*; do [ -e "$ns" ] && umount -l "$ns" 2>/dev/null || true; done
    grep -o " $ROOT[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$ROOT"
    echo "logs: $WORK/*.log"
}
trap cleanup EXIT

step "debootstrap bookworm (standard variant + sudo) into $ROOT"
debootstrap --include=sudo bookworm "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1
echo "$(chroot "$ROOT" dpkg -l | grep -c '^ii') packages installed"

step "mounts: /proc /sys /dev /dev/pts, the toolchain $SWIFT_ROOT and $PACKAGES (read-only)"
# The root a mount point of its own, as on a machine (ip netns exec makes / a slave mount, which needs one).
mount --bind "$ROOT" "$ROOT"
mount -t proc proc "$ROOT/proc"
mount --rbind /sys "$ROOT/sys" && mount --make-rslave "$ROOT/sys"
mount --rbind /dev "$ROOT/dev" && mount --make-rslave "$ROOT/dev"
mkdir -p "$ROOT/run/netns" "$ROOT$SWIFT_ROOT" "$ROOT$PACKAGES"
mount -t tmpfs tmpfs "$ROOT/run/netns" && mount --make-shared "$ROOT/run/netns"
mount --bind "$SWIFT_ROOT" "$ROOT$SWIFT_ROOT" && mount -o remount,bind,ro "$ROOT$SWIFT_ROOT"
mount --bind "$PACKAGES" "$ROOT$PACKAGES" && mount -o remount,bind,ro "$ROOT$PACKAGES"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp /etc/hosts "$ROOT/etc/hosts"
# This workplace reaches Debian's archive and PyPI through a TLS proxy whose CA the machine trusts; a machine
# with its own network would not need it, so it is the environment, not something the scripts install.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$ROOT/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    chroot "$ROOT" sh -c 'command -v update-ca-certificates >/dev/null && update-ca-certificates >/dev/null' || true
fi
# How this workplace reaches GitHub addresses (git's url.insteadOf to the mirror).
git config --system --get-regexp '^url\.' | while read -r key value; do
    git config --file "$ROOT/etc/gitconfig" --add "$key" "$value"
done

step "a clean clone of HEAD ($(git rev-parse --short HEAD)) into /root/decnet-swift"
git clone -q "$REPO" "$ROOT/root/decnet-swift"
if [ -d "$REPO/../shared" ]; then cp -r "$REPO/../shared" "$ROOT/root/shared"; fi

in_root() { # a login shell as root in the chroot, PATH with the toolchain, like a user who installed Swift
    chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
        PATH="$SWIFT_ROOT/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        /bin/bash -c "cd /root/decnet-swift && $*"
}
status=0
for s in $STEPS; do
    case $s in
    demo)
        step "README main job: sudo ./scripts/lab-demo.sh"
        if in_root "sudo ./scripts/lab-demo.sh" 2>&1 | tee "$WORK/demo.log"; then echo "demo: exit 0"; else status=1; echo "demo: FAILED"; fi
        step "the demo's removal command, as it printed it"
        in_root 'export DECNET_STATE_DIR=$PWD/demo-state; BIN=$(swift build --show-bin-path)/decnet; for d in web api workers bus; do $BIN $d stop; done; $BIN teardown --all && $BIN lab down' 2>&1 | tee -a "$WORK/demo.log" || status=1
        ;;
    test)
        step "README tests: sudo ./scripts/test.sh"
        if in_root "sudo ./scripts/test.sh" 2>&1 | tee "$WORK/test.log" | grep -E '^(✔ Test run|✘ Test run|installing|deps:|formatting|Build complete|error:)'; then
            echo "tests: exit 0"
        else
            status=1
            echo "tests: FAILED"
            grep -E '✘' "$WORK/test.log" | head -40
        fi
        ;;
    esac
done
step "result: $([ $status = 0 ] && echo 'both README commands succeeded' || echo FAILED)"
exit $status
