#!/usr/bin/env bash
# Installs decnet for operators: the binary (release build, Swift runtime linked in), its man pages and shell
# completions generated from the command tree by swift-argument-parser, the systemd units, a sample
# /etc/decnet/, and the licence and docs. Then, unless --destdir or --no-setup is given, it creates the
# `decnet` user, /var/lib/decnet, /var/log/decnet and a fresh API key (dist/setup.sh).
#
#   sudo scripts/install.sh                          # into /usr/local (units in /etc/systemd/system)
#   sudo scripts/install.sh --prefix /usr            # as the Debian package lays it out
#   scripts/install.sh --prefix /usr --destdir DIR   # stage into DIR (what scripts/build-deb.sh does)
#   sudo scripts/install.sh --uninstall [--prefix P] # remove what an install put there; keeps /etc/decnet,
#                                                    # /var/lib/decnet and /var/log/decnet (your data)
#
# Options: --binary PATH uses an already built decnet instead of building one (it must be a release build
# with --static-swift-stdlib to run on a machine without Swift); --no-strip keeps its symbols (the installed
# binary is stripped by default: a release build goes from about 200 to 95 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PREFIX=/usr/local
DESTDIR=
BINARY=
SETUP=1
STRIP=1
UNINSTALL=0
while [ "$#" -gt 0 ]; do
    case $1 in
    --prefix) PREFIX=$2; shift 2 ;;
    --destdir) DESTDIR=$2; SETUP=0; shift 2 ;;
    --binary) BINARY=$2; shift 2 ;;
    --no-setup) SETUP=0; shift ;;
    --no-strip) STRIP=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
PREFIX=${PREFIX%/}
if [ "$PREFIX" = /usr ]; then UNITDIR=/lib/systemd/system; else UNITDIR=/etc/systemd/system; fi
SYSCONF=/etc
ROOT=${DESTDIR%/}
MAN1=$PREFIX/share/man/man1
BASHCOMP=$PREFIX/share/bash-completion/completions/decnet
ZSHCOMP=$PREFIX/share/zsh/vendor-completions/_decnet
FISHCOMP=$PREFIX/share/fish/vendor_completions.d/decnet.fish
DOC=$PREFIX/share/doc/decnet
LIBDIR=$PREFIX/lib/decnet

if [ "$UNINSTALL" = 1 ]; then
    for unit in "$REPO"/dist/systemd/*; do rm -fv "$ROOT$UNITDIR/$(basename "$unit")"; done
    rm -fv "$ROOT$PREFIX/bin/decnet" "$ROOT$BASHCOMP" "$ROOT$ZSHCOMP" "$ROOT$FISHCOMP"
    rm -fv "$ROOT$MAN1"/decnet.1 "$ROOT$MAN1"/decnet-*.1
    rm -rfv "$ROOT$DOC" "$ROOT$LIBDIR"
    echo "kept: $SYSCONF/decnet, /var/lib/decnet, /var/log/decnet and the decnet user (your configuration and data)"
    exit 0
fi

# --- The binary: a release build with the Swift runtime linked in, so it runs where no Swift is installed.
source scripts/deps.sh
deps_find_swift # the man pages' generator is built with it too
if [ -z "$BINARY" ]; then
    deps_install build
    echo "install: building decnet (release, static Swift runtime) in .build-release/"
    swift build -c release --product decnet --static-swift-stdlib --scratch-path .build-release
    BINARY=$REPO/.build-release/release/decnet
fi
[ -x "$BINARY" ] || { echo "install.sh: no executable at $BINARY" >&2; exit 1; }

# --- Man pages: swift-argument-parser's generate-manual tool, built from the checkout SwiftPM already has.
WORK=$(mktemp -d /tmp/decnet-install.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
parser=""
for scratch in .build-release .build; do
    [ -d "$scratch/checkouts/swift-argument-parser" ] && { parser=$REPO/$scratch/checkouts/swift-argument-parser; break; }
done
if [ -z "$parser" ]; then
    swift package resolve --scratch-path .build-release >/dev/null
    parser=$REPO/.build-release/checkouts/swift-argument-parser
fi
echo "install: building swift-argument-parser's generate-manual (in .build-tools/)"
swift build --package-path "$parser" --scratch-path "$REPO/.build-tools" --product generate-manual >/dev/null
mkdir -p "$WORK/man"
"$REPO/.build-tools/debug/generate-manual" "$BINARY" --multi-page --output-directory "$WORK/man" \
    --authors "The DECNET-Swift authors" --section 1

echo "install: installing into ${ROOT:-}$PREFIX"
install -D -m 0755 "$BINARY" "$ROOT$PREFIX/bin/decnet"
[ "$STRIP" = 0 ] || strip --strip-unneeded "$ROOT$PREFIX/bin/decnet"
install -d "$ROOT$MAN1"
# generate-manual names a subcommand's page decnet.lab.exec.1; installed as decnet-lab-exec.1 (man decnet-lab-exec).
for page in "$WORK"/man/*.1; do
    name=$(basename "$page" .1)
    name=${name//./-}
    gzip -9n <"$page" >"$ROOT$MAN1/$name.1.gz"
    chmod 0644 "$ROOT$MAN1/$name.1.gz"
done
"$BINARY" --generate-completion-script bash | install -D -m 0644 /dev/stdin "$ROOT$BASHCOMP"
"$BINARY" --generate-completion-script zsh | install -D -m 0644 /dev/stdin "$ROOT$ZSHCOMP"
"$BINARY" --generate-completion-script fish | install -D -m 0644 /dev/stdin "$ROOT$FISHCOMP"

# --- systemd units, pointing at this prefix's binary.
install -d "$ROOT$UNITDIR"
for unit in dist/systemd/*; do
    sed "s|/usr/bin/decnet|$PREFIX/bin/decnet|g" "$unit" >"$ROOT$UNITDIR/$(basename "$unit")"
    chmod 0644 "$ROOT$UNITDIR/$(basename "$unit")"
done

# --- The sample configuration: never over an operator's own.
for file in decnet.ini decnet.env; do
    if [ -e "$ROOT$SYSCONF/decnet/$file" ]; then
        echo "install: kept your $SYSCONF/decnet/$file"
    else
        install -D -m 0640 "dist/etc/$file" "$ROOT$SYSCONF/decnet/$file"
    fi
done

# --- Licence, notices, docs, and the setup script.
install -d "$ROOT$DOC"
install -m 0644 LICENSE NOTICE THIRD_PARTY_NOTICES.md README.md docs/config.md docs/events.md "$ROOT$DOC/"
install -D -m 0755 dist/setup.sh "$ROOT$LIBDIR/setup"

if [ "$SETUP" = 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "install.sh: the setup step needs root (or pass --no-setup)" >&2; exit 1; }
    "$ROOT$LIBDIR/setup" "$SYSCONF"
    chgrp decnet "$SYSCONF/decnet/decnet.ini" "$SYSCONF/decnet/decnet.env"
    command -v systemctl >/dev/null && [ -d /run/systemd/system ] && systemctl daemon-reload || true
    echo "install: done. Edit $SYSCONF/decnet/decnet.ini, then: systemctl enable --now decnet.target"
fi
