#!/usr/bin/env python3
"""Writes N RFC 5424 event lines in the engine's format (version 7 event ids, as the engine mints them) for the benchmarks: ssh logins with a password from A
attackers over 5 deckies, every tenth line a command; every line touches the logs, bounty and attackers tables.

usage: make_events.py N PATH [ATTACKERS] [recent]
  ATTACKERS  distinct source addresses (default 200)
  recent     time-stamp the events over the last minutes instead of a fixed day (for the API's "last hour")
"""
import datetime
import os
import sys
import uuid


def uuid7(when):
    """A version 7 UUID (RFC 9562), as the engine mints event ids: milliseconds since 1970, then random bits."""
    milliseconds = int(when.timestamp() * 1000)
    raw = bytearray(milliseconds.to_bytes(6, "big") + os.urandom(10))
    raw[6] = 0x70 | (raw[6] & 0x0F)
    raw[8] = 0x80 | (raw[8] & 0x3F)
    return uuid.UUID(bytes=bytes(raw))


n, path = int(sys.argv[1]), sys.argv[2]
attackers = int(sys.argv[3]) if len(sys.argv) > 3 else 200
if len(sys.argv) > 4 and sys.argv[4] == "recent":
    start, step = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=30), 5000
else:
    start, step = datetime.datetime(2026, 11, 21, 18, 0, 0, tzinfo=datetime.timezone.utc), 100
with open(path, "w") as out:
    for i in range(n):
        when = start + datetime.timedelta(microseconds=i * step)
        t = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        decky = f"decky-{i % 5}"
        a = i % attackers
        ip = f"198.51.100.{a}" if attackers <= 250 else f"198.51.{a // 250}.{a % 250}"
        # Exactly what the engine's formatter writes: PRI local0 + notice (logins) or info, the MSG summary.
        if i % 10 == 0:
            pri, kind, extra, summary = 134, "command.input", 'command="uname" args="-a"', " command=uname"
        else:
            pri, kind, summary = 133, "login.failed", " user=root"
            extra = f'username="root" password="pw-{i}" password_b64="x" method="password"'
        out.write(f'<{pri}>1 {t} {decky} ssh - {kind} [decnet@32473 uuid="{uuid7(when)}" decky="{decky}" '
                  f'service="ssh" session="s{i // 10}" src_ip="{ip}" src_port="{40000 + i % 1000}" '
                  f'dst_ip="10.77.0.10" dst_port="22" {extra}] {kind} from {ip}{summary}\n')
