"""Prints bench/compare.sh's results as Markdown tables (every figure from the one run).

    python3 compare_tables.py RESULTS

Each line of RESULTS is `load|flood WORKLOAD PEER C key=value …` (authload's line, then captured= and
mem=RSS,PSS), `load|flood WORKLOAD PEER C did-not-start`, or `memory - PEER SERVICES mem=RSS,PSS`.
"""

import sys

NAMES = {
    "decnet": "DECNET-Swift",
    "opencanary": "OpenCanary 0.9.10",
    "qeeqbox": "qeeqbox honeypots 0.66",
    "cowrie": "Cowrie 3.1.4",
}
WORKLOADS = {
    "redis": "redis AUTH",
    "ssh": "ssh password login (libssh, curve25519)",
    "http": "http POST login form",
    "ftp": "ftp USER/PASS",
    "mysql": "mysql login (mysql_native_password)",
    "vnc": "vnc login (RFB 3.8, VNC Authentication)",
    "rdp": "rdp X.224 Connection Request (mstshash cookie, up to the Connection Confirm)",
    "mssql": "mssql login (TDS PRELOGIN, LOGIN7 with SQL authentication)",
    "smb": "smb login (SMB2 NEGOTIATE, SESSION_SETUP with NTLMSSP, NTLMv2 response)",
}
# UDP: each request one datagram from a fresh port, sent as fast as the client can (a flood).
UDP_WORKLOADS = {
    "snmp": "snmp GetRequest (community bench-<i>), UDP",
    "sip": "sip REGISTER (from bench-<i>), UDP",
    "tftp": "tftp read request (file bench-<i>), UDP",
}


def parse(line):
    words = line.split()
    fields = dict(word.split("=", 1) for word in words[4:] if "=" in word)
    return words[0], words[1], words[2], words[3], fields, "did-not-start" in words


def name(peer):
    if peer.startswith("decnet-"):
        count = peer.split("-", 1)[1]
        return f"DECNET-Swift, {count} " + ("decky" if count == "1" else "deckies")
    return NAMES.get(peer, peer)


def memory(fields, key="mem"):
    rss, pss = fields.get(key, "?,?").split(",")
    return rss, pss


def per_connection(fields, attempts):
    """The server's CPU per connection attempted, in milliseconds."""
    if "server_cpu_s" not in fields or not attempts:
        return "?"
    return f"{float(fields['server_cpu_s']) * 1000 / attempts:.3f}"


def per_held(fields):
    """PSS added per connection held open by the flood, in KiB (PSS under the flood minus PSS idle)."""
    try:
        held = int(fields["held_open"])
        added = float(memory(fields)[1]) - float(memory(fields, "idle_mem")[1])
    except (KeyError, ValueError):
        return "?"
    return f"{added * 1024 / held:.1f}" if held else "?"


def main():
    rows = [parse(line) for line in open(sys.argv[1]) if line.strip()]
    loads = [r for r in rows if r[0] == "load"]
    floods = [r for r in rows if r[0] == "flood"]
    memories = [r for r in rows if r[0] == "memory"]

    for workload in [w for w in WORKLOADS if any(r[1] == w for r in loads)]:  # TCP
        print(f"\n### {WORKLOADS[workload]}\n")
        print("| peer | C | conn/s | p50 ms | p99 ms | max ms | failures | captured / attempts | client CPU s | "
              "server CPU s | server CPU ms / conn | PSS MiB | DECNET-Swift ÷ peer (conn/s) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        base = {}
        for kind, w, peer, c, fields, failed in loads:
            if w != workload:
                continue
            if failed:
                print(f"| {name(peer)} | {c} | did not start | | | | all | 0 | | | |")
                continue
            rate = float(fields["conn_per_s"])
            if peer == "decnet":
                base[c] = rate
            attempts = int(fields["ok"]) + int(fields["failed"])
            ratio = "1" if peer == "decnet" else (f"{base[c] / rate:.1f}×" if rate and c in base else "—")
            print(f"| {name(peer)} | {c} | {fields['conn_per_s']} | {fields['p50_ms']} | {fields['p99_ms']} | "
                  f"{fields['max_ms']} | {fields['failed']} | {fields['captured']} / {attempts} | "
                  f"{fields['client_cpu_s']} | {fields.get('server_cpu_s', '?')} | {per_connection(fields, attempts)} | "
                  f"{memory(fields)[1]} | {ratio} |")

    for workload in [w for w in UDP_WORKLOADS if any(r[1] == w for r in loads)]:
        print(f"\n### {UDP_WORKLOADS[workload]}\n")
        # The same flood for every peer: what each kept of it is its throughput. (Captured per second alone would
        # favour a peer that lets the kernel drop most of the flood and serves the rest quickly.)
        print("| peer | C | sent / s | captured / sent | s to the last capture | captured / s | server CPU s | "
              "server CPU ms / captured | PSS MiB | DECNET-Swift ÷ peer (captured) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        base = {}
        for kind, w, peer, c, fields, failed in loads:
            if w != workload:
                continue
            if failed:
                print(f"| {name(peer)} | {c} | did not start | | | | | | | |")
                continue
            sent = int(fields["ok"])
            captured = int(fields["captured"])
            settle = float(fields.get("settle_s", "0"))
            rate = captured / settle if settle > 0 else 0.0
            if peer == "decnet":
                base[c] = captured
            ratio = "1" if peer == "decnet" else (f"{base[c] / captured:.1f}×" if captured and c in base else "—")
            cpu = (f"{float(fields['server_cpu_s']) * 1000 / captured:.3f}"
                   if captured and "server_cpu_s" in fields else "?")
            print(f"| {name(peer)} | {c} | {fields['conn_per_s']} | {captured} / {sent} | {settle:.2f} | "
                  f"{rate:.0f} | {fields.get('server_cpu_s', '?')} | {cpu} | {memory(fields)[1]} | {ratio} |")

    if memories:
        print("\n### Memory: each peer serving all its services (after 5 logins to each)\n")
        print("| peer | services | RSS MiB | PSS MiB |")
        print("|---|---|---|---|")
        for kind, _, peer, services, fields, _ in memories:
            rss, pss = memory(fields)
            print(f"| {name(peer)} | {services.replace(',', ', ')} | {rss} | {pss} |")

    if floods:
        print("\n### Flood: new logins while slow-loris connections are held open\n")
        print("| workload | peer | flood connections opened / still open after | logins ok / attempted | p50 ms | "
              "p99 ms | max ms | captured | client CPU s | PSS MiB idle | PSS MiB under the flood | "
              "KiB per held connection |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for kind, workload, peer, c, fields, failed in floods:
            if failed:
                print(f"| {workload} | {name(peer)} | did not start | | | | | | | |")
                continue
            attempts = int(fields["ok"]) + int(fields["failed"])
            print(f"| {workload} | {name(peer)} | {fields.get('held', '?')} / {fields.get('held_open', '?')} | "
                  f"{fields['ok']} / {attempts} | {fields['p50_ms']} | {fields['p99_ms']} | {fields['max_ms']} | "
                  f"{fields['captured']} | {fields['client_cpu_s']} | {memory(fields, 'idle_mem')[1]} | "
                  f"{memory(fields)[1]} | {per_held(fields)} |")


if __name__ == "__main__":
    main()
