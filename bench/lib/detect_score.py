"""Scores nmap's view of a fleet against what each decky's persona claims (bench/detect).

    python3 detect_score.py PLAN_JSON LIVE_JSON XML_DIR
    python3 detect_score.py --os PLAN_JSON LIVE_JSON XML_DIR...     # nmap -O per family over several runs
    python3 detect_score.py --p0f PLAN_JSON TARGETS P0F_LOG          # p0f's OS per family

PLAN_JSON is the fleet's `decnet-state.json` (every service's persona), LIVE_JSON is `decnet status --json` (which
ports the engine serves); XML_DIR holds one `nmap -sV -O -oX` file per decky, named DECKY.xml. Prints Markdown:
a score per service, a score per OS family, and every port in detail. A service the engine does not serve (no
emulator yet) is listed, not scored.
"""

import json
import re
import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter, defaultdict

# The names nmap gives each service (with "ssl/" when it found TLS first).
SERVICE_NAMES = {
    "ssh": {"ssh"}, "http": {"http"}, "ftp": {"ftp"}, "tftp": {"tftp"},
    "smb": {"microsoft-ds", "netbios-ssn"}, "rdp": {"ms-wbt-server"}, "telnet": {"telnet"}, "vnc": {"vnc"},
    "smtp": {"smtp", "submission"}, "imap": {"imap"}, "pop3": {"pop3"}, "ldap": {"ldap"},
    "llmnr": {"llmnr", "mdns", "zeroconf", "netbios-ns"}, "mysql": {"mysql"}, "postgres": {"postgresql"},
    "mssql": {"ms-sql-s", "ms-sql-m"}, "mongodb": {"mongodb", "mongod"}, "redis": {"redis"},
    "elasticsearch": {"http", "elasticsearch"}, "mqtt": {"mqtt"}, "snmp": {"snmp"}, "sip": {"sip", "sip-proxy", "sip-tls"},
    "k8s": {"http", "kubernetes"}, "docker_api": {"docker", "http"},
}
CONPOT_NAMES = {502: {"modbus", "mbap"}, 161: {"snmp"}, 80: {"http"}, 102: {"iso-tsap"}}
TLS_PORTS = {443, 993, 995, 636, 2376, 6443}


def legacy_mongo(persona):
    """Whether the persona's mongod still serves OP_QUERY commands (before 5.1), so nmap reads its version."""
    parts = [int(p) for p in re.findall(r"\d+", persona.get("mongo_version", "6.0.14"))[:2]] + [0, 0]
    return parts[0] < 5 or (parts[0] == 5 and parts[1] == 0)


def claimed_product(kind, persona, os_family, port=None):
    """(product, version) that the persona's banner implies, as nmap names them; None where it names none."""
    if kind == "conpot":
        # s7-info (a version script) names the CPU on 102; the web page's server line names it on 80.
        return {102: ("Siemens S7 PLC", None), 80: ("Siemens Simatic S7", None)}.get(port)
    if kind == "ssh":
        match = re.match(r"OpenSSH_(\S+)", persona.get("ssh_version", ""))
        return ("OpenSSH", match.group(1)) if match else None
    if kind == "http":
        header = persona.get("server_header", "")
        for prefix, product in (("nginx/", "nginx"), ("Apache/", "Apache httpd"), ("Microsoft-IIS/", "Microsoft IIS httpd")):
            if header.startswith(prefix):
                return (product, re.split(r"[ /]", header[len(prefix):])[0])
        return None
    if kind == "ftp":
        banner = persona.get("ftp_banner", "(vsFTPd 3.0.3)")  # the emulator's default (FTPService)
        for pattern, product in ((r"vsFTPd ([\d.]+)", "vsftpd"), (r"ProFTPD ([\d.]+)", "ProFTPD")):
            match = re.search(pattern, banner, re.IGNORECASE)
            if match:
                return (product, match.group(1))
        if "Microsoft FTP" in banner:
            return ("Microsoft ftpd", None)
        return None
    if kind == "smtp":
        text = (persona.get("smtp_mta", "") + " " + persona.get("smtp_banner", "")).lower()
        for word, product in (("exim", "Exim smtpd"), ("sendmail", "Sendmail"), ("exchange", "Microsoft Exchange smtpd"), ("postfix", "Postfix smtpd")):
            if word in text:
                return (product, None)
        return ("Postfix smtpd", None)
    if kind == "sip":
        server = persona.get("sip_server", "Asterisk PBX 18.20.0")  # the emulator's default (SIPPersona)
        match = re.match(r"Asterisk PBX (\S+)", server)
        return ("Asterisk PBX", match.group(1)) if match else None
    simple = {
        "redis": ("Redis key-value store", persona.get("redis_version")),
        "mysql": ("MySQL", persona.get("mysql_version")),
        "postgres": ("PostgreSQL DB", None),
        # mongod 5.1+ refuses nmap's OP_QUERY probe: nmap names it from its HTTP answer, without a version.
        "mongodb": ("MongoDB", persona.get("mongo_version") if legacy_mongo(persona) else None),
        "elasticsearch": ("Elasticsearch REST API", persona.get("es_version")),
        "imap": ("Dovecot imapd", None),
        "pop3": ("Dovecot pop3d", None),
        "rdp": ("Microsoft Terminal Services", None),
        "mssql": ("Microsoft SQL Server", None),
        "docker_api": ("Docker", persona.get("docker_version")),
        "vnc": ("VNC", None),
        "smb": ("Microsoft Windows", None) if os_family == "windows" else ("Samba smbd", None),
        "ldap": ("Microsoft Windows Active Directory LDAP", None) if os_family == "windows" else ("OpenLDAP", None),
    }
    return simple.get(kind)


def os_right(os_family, osclasses):
    """Whether nmap's best match's classes name the decky's family."""
    families = {c.get("osfamily", "") for c in osclasses}
    types = {c.get("type", "") for c in osclasses}
    vendors = {c.get("vendor", "") for c in osclasses}
    if os_family == "linux":
        return "Linux" in families and "general purpose" in types
    if os_family == "windows":
        return "Windows" in families
    if os_family == "bsd":
        return bool(families & {"FreeBSD", "OpenBSD", "NetBSD", "BSD", "Mac OS X", "macOS"})
    if os_family == "embedded":
        return bool(types) and "general purpose" not in types
    if os_family == "cisco":
        return "Cisco" in vendors
    return False


def best_match(path):
    """nmap's best OS match in one XML file: (name, accuracy, classes), or None."""
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        return None
    host = root.find("host")
    os_element = host.find("os") if host is not None else None
    matches = os_element.findall("osmatch") if os_element is not None else []
    if not matches:
        return None
    return matches[0].get("name"), int(matches[0].get("accuracy", "0")), matches[0].findall("osclass")


def served_tcp(plan, live):
    """Names of the deckies with at least one served TCP port (nmap -O needs an open one)."""
    served = {(d["name"], s["service"], s["port"]) for d in live["deckies"] for s in d["services"] if s["listening"]}
    return {
        decky["name"]
        for decky in plan["fleet"]["deckies"]
        for service in decky["services"]
        for port in service["ports"]
        if port["transport"] == "tcp" and (decky["name"], service["kind"], port["number"]) in served
    }


def os_runs(plan, live, directories):
    """Per family: how many deckies nmap -O's best guess puts in the family, per run and in all."""
    open_tcp = served_tcp(plan, live)
    deckies = [d for d in plan["fleet"]["deckies"] if d["name"] in open_tcp]
    skipped = [d["name"] for d in plan["fleet"]["deckies"] if d["name"] not in open_tcp]
    families = sorted({d["osFamily"] for d in deckies})
    header = "| OS family (`nmap_os`) | deckies | " + " | ".join(f"run {i + 1}" for i in range(len(directories)))
    print(header + " | all runs | mean accuracy of the best guess | nmap's best guesses |")
    print("|---|---|" + "---|" * len(directories) + "---|---|---|")
    for family in families:
        members = [d for d in deckies if d["osFamily"] == family]
        cells, right_all, total, accuracies, guesses = [], 0, 0, [], Counter()
        for directory in directories:
            right = 0
            for decky in members:
                match = best_match(f"{directory}/{decky['name']}.xml")
                total += 1
                if match is None:
                    guesses["no match"] += 1
                    continue
                name, accuracy, classes = match
                accuracies.append(accuracy)
                guesses[f"{name} ({accuracy}%)"] += 1
                right += os_right(family, classes)
            right_all += right
            cells.append(f"{right}/{len(members)}")
        mean = f"{sum(accuracies) / len(accuracies):.1f} %" if accuracies else "—"
        seen = "; ".join(f"{g} ×{n}" if n > 1 else g for g, n in guesses.most_common(4))
        print(f"| {family} | {len(members)} | " + " | ".join(cells) +
              f" | {right_all}/{total} ({100 * right_all / total:.0f} %) | {mean} | {seen} |")
    if skipped:
        print()
        print("Not scored (no served TCP port, so nmap -O cannot run its tests): " + ", ".join(skipped) + ".")


P0F_NAMES = {"windows": "Windows", "linux": "Linux", "bsd": "BSD"}


def p0f_families(plan, targets_path, log_path):
    """Per family: what p0f (reading SYN+ACKs) says of each decky."""
    by_ip = {d["ip"]: d for d in plan["fleet"]["deckies"]}
    said = {}
    for line in open(log_path, errors="replace"):
        if "|subj=srv|" not in line:
            continue
        fields = dict(f.split("=", 1) for f in line.strip().split("|") if "=" in f)
        ip = fields.get("srv", "").split("/")[0]
        said.setdefault(ip, fields.get("os", "?"))
    targets = [line.split() for line in open(targets_path) if line.strip()]
    rows = defaultdict(list)
    for name, ip, _port in targets:
        rows[by_ip[ip]["osFamily"]].append(said.get(ip, "(no SYN+ACK seen)"))
    print("| OS family (`nmap_os`) | deckies | p0f names the family | p0f says |")
    print("|---|---|---|---|")
    for family in sorted(rows):
        labels = rows[family]
        expected = P0F_NAMES.get(family)
        right = f"{sum(expected in l for l in labels)}/{len(labels)}" if expected else "— (p0f has no signature)"
        seen = "; ".join(f"{l} ×{n}" if n > 1 else l for l, n in Counter(labels).most_common())
        print(f"| {family} | {len(labels)} | {right} | {seen} |")


def main():
    if sys.argv[1] == "--os":
        return os_runs(json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), sys.argv[4:])
    if sys.argv[1] == "--p0f":
        return p0f_families(json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4])
    plan = json.load(open(sys.argv[1]))
    live = json.load(open(sys.argv[2]))
    directory = sys.argv[3]
    served = {(d["name"], s["service"], s["port"]) for d in live["deckies"] for s in d["services"] if s["listening"]}
    unserved = Counter()
    by_service = defaultdict(Counter)
    by_os = defaultdict(Counter)
    guesses = defaultdict(Counter)
    rows = []
    for decky in plan["fleet"]["deckies"]:
        root = ElementTree.parse(f"{directory}/{decky['name']}.xml").getroot()
        host = root.find("host")
        ports = {}
        if host is not None:
            for port in host.iter("port"):
                ports[(port.get("protocol"), int(port.get("portid")))] = port
        for service in decky["services"]:
            kind = service["kind"]
            for declared in service["ports"]:
                number, transport = declared["number"], declared["transport"]
                claim = claimed_product(kind, service.get("persona", {}), decky["osFamily"], number)
                if (decky["name"], kind, number) not in served:
                    unserved[kind] += 1
                    continue
                score = by_service[kind]
                score["ports"] += 1
                port = ports.get((transport, number))
                state_name = port.find("state").get("state") if port is not None else "missing"
                found = port.find("service") if port is not None else None
                name = found.get("name", "") if found is not None else ""
                tunnel = found.get("tunnel", "") if found is not None else ""
                product = found.get("product", "") if found is not None else ""
                version = found.get("version", "") if found is not None else ""
                if state_name.startswith("open"):
                    score["open"] += 1
                names = CONPOT_NAMES.get(number, set()) if kind == "conpot" else SERVICE_NAMES.get(kind, set())
                tls = number in TLS_PORTS
                # mqtt-subscribe (a version script) renames an MQTT port after the broker's $SYS version.
                named = (name in names or kind == "mqtt" and name.startswith("mosquitto version")) and (
                    (tunnel == "ssl") == tls or not tls and tunnel == ""
                )
                if tls and name in {"https", "imaps", "pop3s", "ldapssl", "ssl"} | {n + "s" for n in names}:
                    named = True
                score["named"] += named
                product_right = version_right = None
                if claim is not None:
                    score["product_claimed"] += 1
                    product_right = product.lower().startswith(claim[0].lower())
                    score["product"] += product_right
                    if claim[1]:
                        score["version_claimed"] += 1
                        version_right = claim[1] in version
                        score["version"] += version_right
                said = ("ssl/" if tunnel == "ssl" else "") + (name or "?")
                said += f" · {product}" if product else ""
                said += f" {version}" if version else ""
                claimed = f"{claim[0]} {claim[1] or ''}".strip() if claim else "—"
                rows.append((decky["name"], f"{number}/{transport}", kind, state_name, claimed, said,
                             "yes" if named else "no",
                             "—" if product_right is None else ("yes" if product_right else "no"),
                             "—" if version_right is None else ("yes" if version_right else "no")))
        matches = host.find("os").findall("osmatch") if host is not None and host.find("os") is not None else []
        family = decky["osFamily"]
        by_os[family]["deckies"] += 1
        if matches:
            best = matches[0]
            classes = best.findall("osclass")
            guesses[family][f"{best.get('name')} ({best.get('accuracy')}%)"] += 1
            by_os[family]["right"] += os_right(family, classes)
        else:
            guesses[family]["no match"] += 1

    def ratio(right, total):
        return f"{right}/{total} ({100 * right / total:.0f} %)" if total else "—"

    print("| service | ports | open | nmap names the service | product as claimed | version as claimed |")
    print("|---|---|---|---|---|---|")
    totals = Counter()
    for kind in sorted(by_service):
        s = by_service[kind]
        totals.update(s)
        print(f"| {kind} | {s['ports']} | {s['open']} | {ratio(s['named'], s['ports'])} | "
              f"{ratio(s['product'], s['product_claimed'])} | {ratio(s['version'], s['version_claimed'])} |")
    print(f"| **all** | {totals['ports']} | {totals['open']} | {ratio(totals['named'], totals['ports'])} | "
          f"{ratio(totals['product'], totals['product_claimed'])} | {ratio(totals['version'], totals['version_claimed'])} |")
    if unserved:
        print()
        print("Not scored, as the engine does not serve them yet (no emulator): " +
              ", ".join(f"{kind} ({n} port{'s' if n > 1 else ''})" for kind, n in sorted(unserved.items())) + ".")
    print()
    print("| OS family (`nmap_os`) | deckies | nmap -O names the family | nmap's best guesses |")
    print("|---|---|---|---|")
    for family in sorted(by_os):
        o = by_os[family]
        seen = "; ".join(f"{g} ×{n}" if n > 1 else g for g, n in guesses[family].most_common())
        print(f"| {family} | {o['deckies']} | {ratio(o['right'], o['deckies'])} | {seen} |")
    print()
    print("| decky | port | service | state | persona claims | nmap -sV says | service | product | version |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
