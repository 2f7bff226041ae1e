#!/usr/bin/env bash
# The systemd units under a real systemd: boots a Debian 12 root file system (debootstrap minbase + systemd)
# with systemd-nspawn, on a private network (only its own loopback and a veth pair it makes inside), with the
# Debian package built from this tree installed, and runs bench/lib/systemd-check-inside.sh at boot: it puts a
# decky on a macvlan of that veth, starts decnet.target, and records each unit's state, the API, the dashboard,
# a request to the decky and its event, a reload, and that stopping the target removes the decky's namespace.
#
#   sudo bench/systemd-check.sh                  # with a release binary (builds one: about 10 minutes)
#   sudo bench/systemd-check.sh --binary PATH    # with this binary (a debug one: the toolchain is bound in)
#
# Needs root and systemd-container (installed if missing). Nothing is left behind unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
[ "$(id -u)" = 0 ] || { echo "systemd-check.sh needs root" >&2; exit 1; }
source scripts/deps.sh
deps_install docker package
command -v systemd-nspawn >/dev/null || { echo "deps: installing systemd-container"; apt-get install -y -qq systemd-container >/dev/null; }
WORK=$(mktemp -d /var/tmp/decnet-systemd.XXXXXX)
ROOT=$WORK/rootfs
cleanup() {
    grep -o " $ROOT[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
OUT=$WORK scripts/build-deb.sh "$@" >"$WORK/build-deb.log" 2>&1 || { tail -20 "$WORK/build-deb.log"; exit 1; }
DEB=$(ls "$WORK"/decnet_*.deb)
echo "== debootstrap bookworm minbase + systemd into $ROOT"
debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,iproute2,iptables,passwd,libsodium23,libnettle8,libgmp10,zlib1g,libsqlite3-0,libpcap0.8,libnetfilter-queue1,libnfnetlink0,libloc1,curl,ca-certificates \
    bookworm "$ROOT" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$WORK/debootstrap.log" 2>&1
echo "== dpkg -i $(basename "$DEB")"
cp "$DEB" "$ROOT/tmp/" && chroot "$ROOT" dpkg -i "/tmp/$(basename "$DEB")" | tail -1
install -m 0755 bench/lib/systemd-check-inside.sh "$ROOT/usr/local/sbin/decnet-check"
cat >"$ROOT/etc/systemd/system/decnet-check.service" <<'UNIT'
[Unit]
Description=decnet live check
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/decnet-check
[Install]
WantedBy=multi-user.target
UNIT
ln -s /etc/systemd/system/decnet-check.service "$ROOT/etc/systemd/system/multi-user.target.wants/"
# A binary linked against the toolchain's Swift runtime (a debug build) finds it at the same path; a release
# build with the runtime linked in runs on the bare system, as on a machine without Swift.
bind=()
if ldd "$ROOT/usr/bin/decnet" | grep -q 'libswiftCore.so => /'; then
    bind=(--bind-ro="$(deps_swift_root)")
    echo "== the binary links the toolchain's Swift runtime: ${bind[*]}"
else
    echo "== the binary carries its Swift runtime: no toolchain in the container"
fi
echo "== boot (systemd-nspawn, private network)"
timeout 300 systemd-nspawn -q -D "$ROOT" -b --private-network "${bind[@]}" --register=no --keep-unit \
    --console=pipe --machine="decnet-sd$$" >"$WORK/boot.log" 2>&1 || true
grep -E '^(UNIT|API|WEB|DECKY|DECKY-WIN|SHAPER-QUEUE|SHAPED|SHAPER-PRIORITY|EVENTS|AFTER-RELOAD|RELOAD-REBUILT|NETNS-AFTER-STOP|CHECK-DONE)' "$ROOT/root/check.log" || true
grep -q '^CHECK-DONE' "$ROOT/root/check.log" || { echo "the check did not finish; $ROOT/root/check.log"; exit 1; }
bad=$(grep -cE '^UNIT .* (failed|activating|inactive)$|^(API|WEB|DECKY|DECKY-WIN) 000$|^EVENTS 0$|^RELOAD-REBUILT yes|^NETNS-AFTER-STOP [1-9]|^SHAPER-QUEUE 0$|^SHAPED 0$' "$ROOT/root/check.log" || true)
[ "$bad" = 0 ] && echo "systemd check: all good" || { echo "systemd check: $bad problem(s); full log kept with KEEP=1"; exit 1; }
