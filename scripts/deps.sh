#!/usr/bin/env bash
# The one list of the system packages DECNET-Swift needs, by what needs them. Every script that needs packages
# (the demo, the tests and CI, the benchmarks, the Debian package, the Docker driver's test) installs its groups
# through this file, and prints what it installs; nothing is installed that is already there.
#
#   sudo scripts/deps.sh build demo        # install what is missing from these groups
#   scripts/deps.sh --list test            # print a group's packages, one a line (no root needed)
#   source scripts/deps.sh && deps_install build   # from another script
#
# Groups (Debian 12 package names):
#   toolchain  what the Swift toolchain itself needs to compile and link on Debian 12 (swift.org's list for
#              bookworm, less what only the REPL and lldb use); present on any machine where Swift already builds
#   build      the C libraries and headers our system-library targets link: libsodium, nettle + GMP, zlib, SQLite,
#              libpcap, libnetfilter_queue, libloc (the location database's reader)
#   demo       what scripts/lab-demo.sh runs: namespaces (iproute2), the OS personalities' queue rules (iptables),
#              the attacker's tools (nmap, redis-cli, ssh)
#   test       every real tool the tests drive (CI installs it all), on top of build and demo
#   bench      what bench/ adds: the load client's libraries, wrk, debootstrap for the fresh-machine check
#   docker     the Docker driver's end-to-end test: the engine and its compose, debootstrap for the base image
#   package    building and checking the Debian package: dpkg-dev, systemd-analyze
# PyPI clients (pinned) are listed as the `pip-test` group and installed with pip into .venv-test/ (a venv on
# /usr/bin/python3 that sees the system's packages), which `source scripts/deps.sh; deps_install pip-test` puts
# first on PATH.

deps_group() {
    case $1 in
    toolchain)
        echo binutils gcc git libc6-dev libcurl4 libedit2 libgcc-12-dev libncurses6 libpython3.11 libsqlite3-0 \
            libstdc++-12-dev libxml2 libz3-4 pkg-config tzdata ca-certificates
        ;;
    build)
        echo libsodium-dev nettle-dev libgmp-dev zlib1g-dev libsqlite3-dev libpcap-dev libnetfilter-queue-dev libloc-dev \
            pkg-config
        ;;
    demo)
        echo iproute2 iptables nmap redis-tools openssh-client sshpass procps libloc-database
        ;;
    test)
        # docker-compose validates the compose files we write; ieee-data is the OUI registry our MAC vendors are
        # checked against; curl drives smtp/pop3/imap/http/ftp; mariadb-client, postgresql-client and telnet
        # drive their honeypots (telnet through python3-pexpect); iputils-ping reads TTLs; openssl reads decky
        # certificates; util-linux's setpriv runs the loopback fleet as nobody; hydra brute-forces ssh;
        # python3-paramiko is a second SSH client; postgresql and rsyslog (+ both TLS drivers) are the store's and
        # syslog's real peers; chromium and its driver run the dashboard's browser test; man-db reads the
        # generated man pages; systemd gives systemd-analyze for the units' check; masscan, zmap, hping3 and
        # arp-scan are the scanners the packet layer must recognise, p0f the fingerprint it must agree with;
        # smbclient is Samba's SMB client, freetds-bin's tsql a SQL Server client, xfreerdp (under xvfb-run: it
        # opens a display even to authenticate only) an RDP client, ldap-utils' ldapsearch an LDAP client, dig
        # and nbtscan ask llmnr for names; mosquitto-clients' mosquitto_sub and mosquitto_pub are MQTT clients,
        # snmp (net-snmp's tools) and onesixtyone query and brute-force the SNMP agent, tftp-hpa's tftp the TFTP one;
        # hashcat (on the CPU through pocl) cracks the NTLM hashes the Windows services capture, proving them exact;
        # libloc-database and Debian's location tool are the GeoIP data and the reference its lookups are checked
        # against; sipsak is a SIP client; unbound is the LAN's resolver the canary zone is delegated to, LibreOffice
        # (writer, no GUI) opens the canary DOCX and fetches its linked picture, qpdf reads the canary PDF's
        # opening action; nats-server is the NATS server two of which, clustered, carry the bus between swarm hosts.
        echo docker-compose ieee-data curl mariadb-client postgresql-client telnet python3-pexpect iputils-ping \
            openssl util-linux bc hydra python3-paramiko postgresql rsyslog rsyslog-openssl rsyslog-gnutls \
            chromium chromium-driver python3-pip python3-venv man-db systemd dpkg-dev masscan zmap hping3 arp-scan p0f \
            tcpdump smbclient hashcat pocl-opencl-icd freetds-bin freerdp2-x11 xvfb xauth ldap-utils \
            bind9-dnsutils nbtscan mosquitto-clients snmp onesixtyone tftp-hpa libloc-database location sipsak \
            unbound libreoffice-writer-nogui qpdf nats-server
        ;;
    pip-test)
        # schemathesis checks the served OpenAPI document; Selenium drives Chromium; nats-py is a real NATS client;
        # impacket is the Windows attack toolkit (smbclient.py, mssqlclient.py …) the Windows services must serve;
        # pymongo and elasticsearch are the official drivers of the data services, sipvicious the SIP scanners,
        # pymodbus and python-snap7 the PLC clients the conpot service must serve; the OASIS stix2-validator (3.2.0:
        # 3.3.1 ships without its schemas), stix2 and pymisp check the STIX and MISP exports.
        echo "schemathesis==4.32.5" "selenium==4.51.0" "nats-py==2.16.0" "impacket==0.13.1" "pymongo==4.20.1" \
            "elasticsearch==8.19.3" "sipvicious==0.3.4" "pymodbus==3.16.1" "python-snap7==3.3.0" \
            "stix2-validator==3.2.0" "stix2==3.0.1" "pymisp==2.5.34"
        ;;
    bench)
        echo libssh-dev libssl-dev wrk debootstrap python3-venv
        ;;
    docker)
        echo docker.io docker-compose debootstrap
        ;;
    package)
        echo dpkg-dev systemd man-db
        ;;
    *)
        echo "deps: unknown group '$1' (toolchain build demo test pip-test bench docker package)" >&2
        return 2
        ;;
    esac
}

# Installs whatever is missing from the named groups with apt (and pip for pip-test), saying what it installs.
deps_install() {
    local group package missing=() pip=()
    for group in "$@"; do
        if [ "$group" = pip-test ]; then
            read -r -a pip <<<"$(deps_group pip-test)"
            continue
        fi
        for package in $(deps_group "$group"); do
            dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
        done
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        # One package may be in two groups.
        mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
        echo "deps: installing with apt-get (groups: $*): ${missing[*]}"
        if [ "$(id -u)" -ne 0 ]; then
            echo "deps: installing packages needs root; run: sudo $0 $*" >&2
            return 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    if [ "${#pip[@]}" -gt 0 ]; then
        # The PyPI clients go into a virtual environment of their own, never into the system's python: pip would
        # replace Debian's own packages there (urllib3 2.x breaks Debian's docker-compose). The system's packages
        # stay visible in it (python3-pexpect, python3-paramiko). Sourcing this file puts it first on PATH.
        local venv=${DECNET_TEST_VENV:-$PWD/.venv-test} base=/usr/bin/python3
        [ -x "$base" ] || base=$(command -v python3)
        if [ ! -x "$venv/bin/python3" ]; then
            echo "deps: making $venv (a python venv on $base, the system's packages visible) for the PyPI clients"
            "$base" -m venv --system-site-packages "$venv"
        fi
        if ! "$venv/bin/python3" -m pip show -q "${pip[@]%%==*}" >/dev/null 2>&1; then
            echo "deps: pip install into $venv (group pip-test): ${pip[*]}"
            "$venv/bin/python3" -m pip install -q --disable-pip-version-check "${pip[@]}"
        fi
        export PATH="$venv/bin:$PATH"
    fi
}

# Puts the Swift toolchain on PATH when it is not there: `sudo` resets PATH to its secure_path, which does not
# hold a toolchain installed under /opt or by swiftly. Fails with a clear message when none is found.
deps_find_swift() {
    command -v swift >/dev/null && return 0
    local candidate home
    home=$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)
    for candidate in "${SWIFT_BIN:-}" /opt/swift/usr/bin /usr/share/swift/usr/bin "$home/.local/share/swiftly/bin" \
        "$home/.swiftly/bin" /usr/local/swift/usr/bin; do
        if [ -n "$candidate" ] && [ -x "$candidate/swift" ]; then
            echo "deps: using the Swift toolchain in $candidate (it was not on PATH)"
            export PATH="$candidate:$PATH"
            return 0
        fi
    done
    echo "deps: swift is not on PATH; install Swift 6.1 or newer, or name its bin directory: sudo SWIFT_BIN=/path/to/usr/bin $0" >&2
    return 1
}

# The toolchain's root (the folder holding usr/bin/swift), for scripts that mount it or copy its runtime.
deps_swift_root() {
    deps_find_swift >/dev/null
    dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    if [ "${1:-}" = "--list" ]; then
        shift
        for group in "$@"; do deps_group "$group" | tr ' ' '\n'; done
        exit 0
    fi
    [ "$#" -gt 0 ] || { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
    deps_install "$@"
fi
