#!/usr/bin/env bash
# Builds the Debian package decnet_VERSION_ARCH.deb from this tree with dpkg-deb: scripts/install.sh stages
# everything under /usr, and this script adds the control files (dependencies read off the binary's shared
# libraries with dpkg -S, conffiles, maintainer scripts from dist/debian/).
#
#   scripts/build-deb.sh                    # builds the release binary too; the .deb lands in ./dist-out/
#   scripts/build-deb.sh --binary PATH      # package an already built release binary
#   OUT=/tmp scripts/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
source scripts/deps.sh
deps_install package
OUT=${OUT:-$REPO/dist-out}
STAGE=$(mktemp -d /tmp/decnet-deb.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT

scripts/install.sh --prefix /usr --destdir "$STAGE/root" "$@"
BINARY=$STAGE/root/usr/bin/decnet
VERSION=$("$BINARY" --version)
ARCH=$(dpkg --print-architecture)

# Depends: the Debian package of every shared library the binary links, plus iproute2 (the engine runs `ip`),
# iptables (it installs the OS personalities' queue rules in each decky namespace) and
# passwd (the postinst's useradd).
depends=()
while read -r library; do
    # With merged /usr, dpkg may know the file under /lib rather than /usr/lib.
    owner=$(dpkg -S "$library" 2>/dev/null || dpkg -S "${library#/usr}" 2>/dev/null) || true
    owner=$(echo "$owner" | head -1 | cut -d: -f1)
    [ -n "$owner" ] && depends+=("$owner")
done < <(ldd "$BINARY" | awk '$3 ~ /^\// { print $3 }' | xargs -r readlink -f)
depends+=(iproute2 iptables passwd)
DEPENDS=$(printf '%s\n' "${depends[@]}" | sort -u | paste -sd, - | sed 's/,/, /g')

mkdir -p "$STAGE/root/DEBIAN"
SIZE=$(du -sk --exclude=DEBIAN "$STAGE/root" | cut -f1)
cat >"$STAGE/root/DEBIAN/control" <<EOF
Package: decnet
Version: $VERSION
Architecture: $ARCH
Maintainer: The DECNET-Swift authors <decnet-swift@users.noreply.invalid>
Installed-Size: $SIZE
Depends: $DEPENDS
Recommends: nmap, libloc-database
Section: net
Priority: optional
Description: honeypot deception network of fake LAN hosts
 DECNET-Swift fills a LAN with fake hosts (deckies), each with its own IP, MAC,
 hostname, OS fingerprint and honeypot services, serves them all from one
 process, and turns every attacker interaction into stored events, a REST API
 and a live dashboard. Units: decnet.target (engine, bus, workers, api, web).
EOF
(cd "$STAGE/root" && find etc -type f | sed 's|^|/|') >"$STAGE/root/DEBIAN/conffiles"
install -m 0755 dist/debian/postinst dist/debian/prerm dist/debian/postrm "$STAGE/root/DEBIAN/"
mkdir -p "$OUT"
DEB=$OUT/decnet_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group --build "$STAGE/root" "$DEB" >/dev/null
echo "built $DEB"
dpkg-deb --info "$DEB" | sed -n '/Package:/,/Description:/p'
