#!/bin/sh
# Prepares a host for the decnet units: the `decnet` system user the bus, workers, API and dashboard run as,
# the state and log directories, and a fresh API signing key. Safe to run again: it changes nothing that is
# already there. Run by the Debian package's postinst and by `scripts/install.sh` (as /usr/lib/decnet/setup).
#
#   setup.sh [SYSCONFDIR]      # default /etc
set -eu
etc=${1:-/etc}/decnet

if ! getent group decnet >/dev/null; then
    groupadd --system decnet
fi
if ! getent passwd decnet >/dev/null; then
    useradd --system --gid decnet --home-dir /var/lib/decnet --no-create-home --shell /usr/sbin/nologin \
        --comment "DECNET-Swift daemons" decnet
fi
# The engine runs as root and writes here too; the group's setgid bit keeps every file in the decnet group.
for dir in /var/lib/decnet /var/log/decnet; do
    install -d -o root -g decnet -m 2770 "$dir"
done
install -d -o root -g decnet -m 0750 "$etc"
# The fleet's seed: every random choice of `decnet deploy` (MACs, hostnames, distros …) comes from it, so the
# engine unit plans the same deckies on every start and reload instead of new identities (a tell).
if [ ! -s "$etc/fleet.env" ]; then
    seed=$(od -An -tu8 -N8 /dev/urandom | tr -d ' ')
    printf '# Made by decnet setup on %s: the seed the engine unit plans /etc/decnet/decnet.ini with.\nDECNET_FLEET_SEED=%s\n' \
        "$(date -u +%Y-%m-%d)" "$seed" >"$etc/fleet.env"
    chmod 0644 "$etc/fleet.env"
fi
# The API's JWT signing key: 32 random bytes in hex, made once; the units read it as an EnvironmentFile.
if [ ! -s "$etc/secret.env" ]; then
    umask 027
    secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
    printf '# Made by decnet setup on %s; the API refuses to start without a secret of its own.\nDECNET_JWT_SECRET=%s\n' \
        "$(date -u +%Y-%m-%d)" "$secret" >"$etc/secret.env"
    chown root:decnet "$etc/secret.env"
    chmod 0640 "$etc/secret.env"
fi
