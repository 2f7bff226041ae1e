#!/usr/bin/env python3
"""Held memory per connection of one `decnet service run` (issue 25), for services bench/compare.sh cannot flood.

    bench/lib/hold_connections.py PORT N PID [--silent]

Measures the PSS of PID's process tree (bench/compare.sh --tree-memory), opens N connections to 127.0.0.1:PORT,
each from its own source address (127.0.1.1 onwards, so no per-source cap refuses them), reads each one's greeting
(unless --silent: for a service whose client speaks first), measures again and prints both and the KiB per held
connection. Run from the repository's root, as root (the per-source addresses are loopback ones); raise `ulimit -n`
above N first.
"""
import socket
import subprocess
import sys
import time


def pss_mib(pid):
    out = subprocess.run(["bash", "bench/compare.sh", "--tree-memory", pid], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[0])


def main():
    port, count, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    silent = "--silent" in sys.argv[4:]
    idle = pss_mib(pid)
    held = []
    for index in range(count):
        connection = socket.socket()
        connection.bind((f"127.0.{1 + index // 250}.{1 + index % 250}", 0))
        connection.connect(("127.0.0.1", port))
        held.append(connection)
    if not silent:
        for connection in held:
            connection.settimeout(5)
            if not connection.recv(4096):
                sys.exit("a connection was closed before its greeting")
    time.sleep(1)
    loaded = pss_mib(pid)
    print(f"PSS idle {idle:.1f} MiB, with {count} held {loaded:.1f} MiB: "
          f"{(loaded - idle) * 1024 / count:.1f} KiB per held connection")


if __name__ == "__main__":
    main()
