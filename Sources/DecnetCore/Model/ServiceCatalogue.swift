/// The 25 built-in honeypot services of the seed's Services table, in its order.
public enum ServiceCatalogue {
    public static let all: [ServiceDefinition] = [
        ServiceDefinition(
            "ssh",
            ports: [PortSpec(22)],
            role: "SSH (Cowrie honeypot)",
            personaKeys: [
                PersonaKey(
                    "ssh_version",
                    "identification string after `SSH-2.0-`, e.g. OpenSSH_8.9p1 Ubuntu-3ubuntu0.6"
                ),
                PersonaKey("kernel_version", "kernel release shown by uname, e.g. 5.15.0-91-generic"),
                PersonaKey("users", .credentials, "accounts that log in successfully"),
                PersonaKey(
                    "keyboard_interactive",
                    .oneOf(["yes", "no"]),
                    origin: .decnetSwift,
                    "whether keyboard-interactive login is offered; default no, as Debian's sshd_config"
                ),
                PersonaKey(
                    "password_delay_ms",
                    .integer(0...10000),
                    origin: .decnetSwift,
                    "delay before a failed password is answered; default PAM's 2000 ± 25 %"
                ),
                PersonaKey(
                    "login_grace_time",
                    .integer(1...3600),
                    origin: .decnetSwift,
                    "seconds a connection may take to log in before it is closed; default sshd's 120"
                ),
            ]
        ),
        ServiceDefinition(
            "http",
            ports: [PortSpec(80), PortSpec(443)],
            role: "HTTP/HTTPS web server",
            personaKeys: [
                PersonaKey("server_header", "Server response header, e.g. nginx/1.18.0"),
                PersonaKey("response_code", .integer(100...599), "status code of the default page"),
                PersonaKey("fake_app", "application the site pretends to run, e.g. wordpress"),
                PersonaKey("users", .credentials, origin: .decnetSwift, "logins the fake app accepts; unset: none"),
            ]
        ),
        ServiceDefinition(
            "ftp",
            ports: [PortSpec(21)],
            role: "FTP file transfer",
            personaKeys: [
                PersonaKey("ftp_banner", origin: .decnetSwift, "text after 220, e.g. (vsFTPd 3.0.3)"),
                PersonaKey("users", .credentials, origin: .decnetSwift, "accounts that log in; unset: none"),
                PersonaKey("anonymous", .oneOf(["yes", "no"]), origin: .decnetSwift, "whether anonymous login works"),
                PersonaKey(
                    "password_delay_ms",
                    .integer(0...10000),
                    origin: .decnetSwift,
                    "delay before a failed login is answered; default about 3000 (vsftpd through PAM, measured)"
                ),
            ]
        ),
        ServiceDefinition(
            "tftp",
            ports: [PortSpec(69, .udp)],
            role: "TFTP (trivial file transfer)",
            personaKeys: [
                PersonaKey(
                    "tftp_files",
                    origin: .decnetSwift,
                    "extra files served, name=content;name=content; default a router's, a phone's and a PXE server's"
                ),
                PersonaKey(
                    "tftp_default_files",
                    .oneOf(["yes", "no"]),
                    origin: .decnetSwift,
                    "serve the default lure files (yes); no: an empty tree, as a fresh tftpd-hpa"
                ),
                PersonaKey(
                    "tftp_uploads",
                    .oneOf(["yes", "no"]),
                    origin: .decnetSwift,
                    "accept and keep uploads (yes); no: refused, as tftpd-hpa --secure without -c refuses them"
                ),
            ]
        ),
        ServiceDefinition(
            "smb",
            ports: [PortSpec(445), PortSpec(139)],
            role: "SMB/CIFS file shares",
            personaKeys: [
                PersonaKey("workgroup", "NetBIOS workgroup or domain, e.g. CORP"),
                PersonaKey("server_name", "NetBIOS server name, e.g. WINSRV-DC01"),
                PersonaKey("os_version", "OS string in the session setup reply, e.g. Windows Server 2016"),
                PersonaKey(
                    "build",
                    .integer(0...65_535),
                    origin: .decnetSwift,
                    "Windows build in the NTLM version, e.g. 17763; default: from os_version"
                ),
                PersonaKey(
                    "domain",
                    origin: .decnetSwift,
                    "DNS domain of a domain member, e.g. corp.local; default: the workgroup + .local, none for WORKGROUP"
                ),
                PersonaKey(
                    "smb_signing",
                    .oneOf(["enabled", "required"]),
                    origin: .decnetSwift,
                    "SMB signing the server asks for; default required on domain controllers, else enabled"
                ),
                PersonaKey(
                    "users",
                    .credentials,
                    origin: .decnetSwift,
                    "accounts that log in (NetNTLMv2 checked against the password; user:* logs in as guest); unset: none"
                ),
                PersonaKey(
                    "smb_guest",
                    .oneOf(["true", "false"]),
                    origin: .decnetSwift,
                    "unknown users and null sessions get a guest session (Samba's map to guest = bad user); default false"
                ),
                PersonaKey(
                    "smb_shares",
                    origin: .decnetSwift,
                    "the persona's own shares, comma-separated, each holding the bait tree; default Shared"
                ),
            ]
        ),
        ServiceDefinition(
            "rdp",
            ports: [PortSpec(3389)],
            role: "Remote Desktop Protocol",
            personaKeys: [
                PersonaKey("os_version", "Windows version the server claims"),
                PersonaKey("build", .integer(0...99_999), "Windows build number, e.g. 17763"),
                PersonaKey(
                    "rdp_nla",
                    .oneOf(["required", "optional"]),
                    origin: .decnetSwift,
                    "required: NLA only (as Windows installs it); optional: TLS security too, the password in the Client Info PDU"
                ),
            ],
            impliedOSFamily: .windows
        ),
        ServiceDefinition(
            "telnet",
            ports: [PortSpec(23)],
            role: "Telnet remote access",
            personaKeys: [PersonaKey("users", .credentials, origin: .decnetSwift, "logins accepted; unset: none")]
        ),
        ServiceDefinition(
            "vnc",
            ports: [PortSpec(5900)],
            role: "VNC remote desktop",
            personaKeys: [
                PersonaKey("vnc_version", "RFB protocol version, e.g. 003.008"),
                PersonaKey(
                    "vnc_password",
                    origin: .decnetSwift,
                    "the password that opens the fake desktop; unset: none"
                ),
                PersonaKey("vnc_desktop", origin: .decnetSwift, "desktop name in ServerInit; default the hostname"),
            ]
        ),
        ServiceDefinition(
            "smtp",
            ports: [PortSpec(25), PortSpec(587)],
            role: "SMTP mail relay",
            personaKeys: [
                PersonaKey("smtp_banner", "220 greeting text"),
                PersonaKey("smtp_mta", .oneOf(["postfix", "exim", "sendmail"]), "mail transfer agent to imitate"),
                PersonaKey(
                    "smtp_auth",
                    .oneOf(["yes", "no"]),
                    origin: .decnetSwift,
                    "offer SMTP AUTH (default yes, to capture password sprays; no: a stock Debian Postfix, no SASL)"
                ),
                PersonaKey("users", .credentials, origin: .decnetSwift, "logins AUTH accepts; unset: none"),
            ]
        ),
        ServiceDefinition(
            "imap",
            ports: [PortSpec(143), PortSpec(993)],
            role: "IMAP mail access",
            personaKeys: [
                PersonaKey("users", .credentials, origin: .decnetSwift, "logins accepted; unset: none"),
                PersonaKey(
                    "password_delay_ms",
                    .integer(0...10000),
                    origin: .decnetSwift,
                    "delay before a failed login is answered; default Dovecot's auth_failure_delay, 2000"
                ),
            ]
        ),
        ServiceDefinition(
            "pop3",
            ports: [PortSpec(110), PortSpec(995)],
            role: "POP3 mail access",
            personaKeys: [
                PersonaKey("users", .credentials, origin: .decnetSwift, "logins accepted; unset: none"),
                PersonaKey(
                    "password_delay_ms",
                    .integer(0...10000),
                    origin: .decnetSwift,
                    "delay before a failed login is answered; default Dovecot's auth_failure_delay, 2000"
                ),
            ]
        ),
        ServiceDefinition(
            "ldap",
            ports: [PortSpec(389), PortSpec(636)],
            role: "LDAP / Active Directory",
            personaKeys: [
                PersonaKey("base_dn", "directory base, e.g. DC=corp,DC=local"),
                PersonaKey("domain", "DNS domain, e.g. corp.local"),
                PersonaKey(
                    "users",
                    .credentials,
                    origin: .decnetSwift,
                    "simple binds that succeed (user, DOMAIN\\user, user@domain or the user's DN); unset: none"
                ),
                PersonaKey(
                    "ldap_anonymous",
                    .oneOf(["true", "false"]),
                    origin: .decnetSwift,
                    "anonymous searches read the directory (false: only the rootDSE, as a default AD); default true"
                ),
                PersonaKey(
                    "ldap_users",
                    origin: .decnetSwift,
                    "the staff accounts in the directory, comma-separated first.last names; default eight of them"
                ),
            ]
        ),
        ServiceDefinition(
            "llmnr",
            ports: [PortSpec(5355, .udp), PortSpec(5353, .udp)],
            role: "LLMNR / mDNS (Windows name resolution)",
            personaKeys: [
                PersonaKey(
                    "llmnr_bait_names",
                    origin: .decnetSwift,
                    "names no host owns that the decky asks for; whoever answers is poisoning, e.g. FS03,PRINT-02"
                ),
                PersonaKey(
                    "llmnr_bait_interval",
                    .integer(0...86_400),
                    origin: .decnetSwift,
                    "seconds between bait queries (± 10 %); 0 turns them off; default 60"
                ),
            ],
            extraPorts: [PortSpec(137, .udp)]
        ),
        ServiceDefinition(
            "mysql",
            ports: [PortSpec(3306)],
            role: "MySQL database",
            personaKeys: [
                PersonaKey("mysql_version", "server version in the handshake, e.g. 8.0.36"),
                PersonaKey("mysql_banner", "full server version string, e.g. 8.0.36-0ubuntu0.22.04.1"),
                PersonaKey("users", .credentials, origin: .decnetSwift, "logins accepted; unset: none"),
            ]
        ),
        ServiceDefinition(
            "postgres",
            ports: [PortSpec(5432)],
            role: "PostgreSQL database",
            personaKeys: [
                PersonaKey("pg_version", "server_version reported, e.g. 15.6"),
                PersonaKey("users", .credentials, origin: .decnetSwift, "logins accepted; unset: none"),
            ]
        ),
        ServiceDefinition(
            "mssql",
            ports: [PortSpec(1433)],
            role: "Microsoft SQL Server",
            personaKeys: [PersonaKey("mssql_version", "product version, e.g. 15.0.2000.5")],
            // The SQL Server Browser, which clients and scanners ask for the instances first.
            extraPorts: [PortSpec(1434, .udp)],
            impliedOSFamily: .windows
        ),
        ServiceDefinition(
            "mongodb",
            ports: [PortSpec(27017)],
            role: "MongoDB document store",
            personaKeys: [
                PersonaKey("mongo_version", "server version, e.g. 6.0.14; before 5.1 OP_QUERY commands are served"),
                PersonaKey("users", .credentials, origin: .decnetSwift, "SCRAM logins that succeed; unset: none"),
                PersonaKey(
                    "mongo_auth",
                    .oneOf(["true", "false"]),
                    origin: .decnetSwift,
                    "every command but the handshake needs a login; default false, an open server"
                ),
            ]
        ),
        ServiceDefinition(
            "redis",
            ports: [PortSpec(6379)],
            role: "Redis key-value store",
            personaKeys: [
                PersonaKey("redis_version", "redis_version in INFO, e.g. 7.0.15"),
                PersonaKey(
                    "redis_password",
                    origin: .decnetSwift,
                    "password AUTH must give; unset means an open instance"
                ),
                PersonaKey(
                    "redis_seed_keys",
                    .oneOf(["yes", "no"]),
                    origin: .decnetSwift,
                    "start with two lure keys (yes); no: an empty database, as a fresh server"
                ),
            ]
        ),
        ServiceDefinition(
            "elasticsearch",
            ports: [PortSpec(9200)],
            role: "Elasticsearch REST API",
            personaKeys: [
                PersonaKey("es_version", "version number, e.g. 8.12.2"),
                PersonaKey("cluster_name", "cluster_name in the root document"),
                PersonaKey(
                    "es_security",
                    .oneOf(["true", "false"]),
                    origin: .decnetSwift,
                    "every request needs a login (as Elasticsearch 8 installs itself); default false, an open cluster"
                ),
                PersonaKey("users", .credentials, origin: .decnetSwift, "Basic logins that succeed; unset: none"),
            ]
        ),
        ServiceDefinition(
            "mqtt",
            ports: [PortSpec(1883)],
            role: "MQTT IoT broker",
            personaKeys: [
                PersonaKey("mqtt_version", "broker version, e.g. mosquitto 2.0.18"),
                PersonaKey("users", .credentials, origin: .decnetSwift, "logins that connect; unset: none"),
                PersonaKey(
                    "mqtt_anonymous",
                    .oneOf(["true", "false"]),
                    origin: .decnetSwift,
                    "clients without credentials connect (an open broker); default true"
                ),
                PersonaKey(
                    "mqtt_password_file",
                    .oneOf(["yes", "no"]),
                    origin: .decnetSwift,
                    "check credentials against users (yes); no: like mosquitto without a password_file, any accepted"
                ),
                PersonaKey(
                    "mqtt_topics",
                    origin: .decnetSwift,
                    "retained topics, topic=value;topic=value; default a small building's sensors"
                ),
            ]
        ),
        ServiceDefinition(
            "snmp",
            ports: [PortSpec(161, .udp)],
            role: "SNMP network management",
            personaKeys: [
                PersonaKey("snmp_community", "read community that answers, e.g. public"),
                PersonaKey("sys_descr", "sysDescr.0 value"),
                PersonaKey("snmp_archetype", "device type the MIB imitates, e.g. printer"),
                PersonaKey(
                    "snmp_location",
                    origin: .decnetSwift,
                    "sysLocation.0; default a server room"
                ),
                PersonaKey("snmp_contact", origin: .decnetSwift, "sysContact.0; default it-ops at the decky's domain"),
            ]
        ),
        ServiceDefinition(
            "sip",
            ports: [PortSpec(5060, .udp), PortSpec(5060, .tcp)],
            role: "SIP VoIP protocol",
            personaKeys: [
                PersonaKey("sip_server", "User-Agent/Server header, e.g. Asterisk PBX 18.20.0"),
                PersonaKey("sip_domain", "SIP domain, e.g. voip.corp.local"),
                PersonaKey(
                    "users",
                    .credentials,
                    origin: .decnetSwift,
                    "accounts whose digest succeeds, e.g. 100:secret; unset: none"
                ),
                PersonaKey(
                    "sip_extensions",
                    origin: .decnetSwift,
                    "extensions that exist, e.g. 100-119,200; default 100-119 plus the users' accounts"
                ),
            ]
        ),
        ServiceDefinition(
            "k8s",
            ports: [PortSpec(6443), PortSpec(8080)],
            role: "Kubernetes API server",
            personaKeys: [
                PersonaKey("k8s_version", "gitVersion, e.g. v1.29.2"),
                PersonaKey(
                    "k8s_anonymous",
                    .oneOf(["true", "false"]),
                    origin: .decnetSwift,
                    "anonymous requests may do anything (cluster-admin); default false, kubeadm's RBAC"
                ),
                PersonaKey(
                    "k8s_tokens",
                    origin: .decnetSwift,
                    "bearer tokens accepted, token or token=user, comma-separated, * for any; default none"
                ),
                PersonaKey(
                    "k8s_insecure_port",
                    .integer(0...65535),
                    origin: .decnetSwift,
                    "the plain port served without authentication; default 8080, 0 for none"
                ),
            ]
        ),
        ServiceDefinition(
            "docker_api",
            ports: [PortSpec(2375), PortSpec(2376)],
            role: "Docker Remote API",
            personaKeys: [
                PersonaKey("docker_version", "engine version, e.g. 24.0.7 (Debian's docker.io: 20.10.24+dfsg1)"),
                PersonaKey(
                    "docker_seed_containers",
                    .oneOf(["yes", "no"]),
                    origin: .decnetSwift,
                    "three long-running containers and their images (yes); no: a freshly installed engine"
                ),
            ]
        ),
        ServiceDefinition(
            "conpot",
            ports: [PortSpec(502), PortSpec(161, .udp), PortSpec(80)],
            role: "ICS/SCADA (Modbus, S7, DNP3)",
            personaKeys: [
                PersonaKey(
                    "plc_model",
                    .oneOf(["s7-300", "s7-400", "s7-1200"]),
                    origin: .decnetSwift,
                    "the Siemens CPU; default s7-300 (6ES7 315-2EH14-0AB0)"
                ),
                PersonaKey("plc_firmware", origin: .decnetSwift, "firmware, e.g. V3.2.8; default one of the model's"),
                PersonaKey(
                    "plc_system_name",
                    origin: .decnetSwift,
                    "station name (S7, Modbus, web); default from the hostname"
                ),
                PersonaKey(
                    "plc_plant",
                    origin: .decnetSwift,
                    "plant designation and sysLocation; default from the hostname"
                ),
                PersonaKey("plc_serial", origin: .decnetSwift, "module serial number; default S C-… from the hostname"),
                PersonaKey(
                    "plc_password",
                    origin: .decnetSwift,
                    "the S7 session password that unlocks STOP and start; default none works"
                ),
                PersonaKey(
                    "plc_protection",
                    .oneOf(["write", "none"]),
                    origin: .decnetSwift,
                    "protection level; default write (STOP needs the password)"
                ),
                PersonaKey(
                    "users",
                    .credentials,
                    origin: .decnetSwift,
                    "logins the CPU's web page accepts; unset: none"
                ),
            ],
            sharedPorts: [PortSpec(161, .udp), PortSpec(80)],
            // S7comm on ISO-TSAP, which the seed's description names and its port list leaves out.
            extraPorts: [PortSpec(102)]
        ),
    ]

    /// Services DECNET-Swift adds to the seed's table: `canary`, where planted canary tokens call home.
    public static let additions: [ServiceDefinition] = [
        ServiceDefinition(
            "canary",
            ports: [PortSpec(80), PortSpec(53, .udp)],
            role: "Canary token endpoint (web server and the canary zone's name server)",
            personaKeys: [
                PersonaKey(
                    "canary_zone",
                    .domainName,
                    origin: .decnetSwift,
                    "the DNS zone delegated to this decky, whose names are the DNS tokens, e.g. c.corp.example"
                ),
                PersonaKey(
                    "canary_address",
                    .ipv4,
                    origin: .decnetSwift,
                    "the address the zone's names resolve to; default the decky's own"
                ),
                PersonaKey("server_header", origin: .decnetSwift, "Server response header; default nginx/1.22.1"),
            ]
        )
    ]

    private static let bySlug: [ServiceKind: ServiceDefinition] = Dictionary(
        uniqueKeysWithValues: (all + additions).map { ($0.kind, $0) }
    )

    /// The service with that slug, compared exactly (slugs are lower case).
    public static func definition(for kind: ServiceKind) -> ServiceDefinition? { bySlug[kind] }

    /// All slugs, in the seed's order.
    public static var kinds: [ServiceKind] { all.map(\.kind) }
}
