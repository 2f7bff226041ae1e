// swift-tools-version:6.1
import PackageDescription

/// Settings every target shares: Swift 6 mode plus the two upcoming features the Swift server projects use.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "decnet-swift",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "decnet", targets: ["decnet"]),
        // The fuzz driver (issue 25): libFuzzer's entry with `--sanitize fuzzer` (scripts/fuzz.sh), a replayer otherwise.
        .executable(name: "decnet-fuzz", targets: ["decnet-fuzz"]),
        .library(name: "DecnetCore", targets: ["DecnetCore"]),
        .library(name: "DecnetConfig", targets: ["DecnetConfig"]),
        .library(name: "DecnetDocker", targets: ["DecnetDocker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Typed configuration from the environment and `.env.local` (providers, scoped readers, secrets).
        .package(url: "https://github.com/apple/swift-configuration", from: "1.0.0", traits: []),
        // YAML emitter for docker-compose.yml: correct quoting of YAML-special scalars is not ours to re-derive.
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // SHA-256 of captured artifacts now; SSH, TLS fingerprints and host keys later.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        // TLS for https (and later imaps, pop3s, syslog over TLS, agents) and the per-decky certificates it presents.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.10.0"),
        // DER for SPNEGO (smb, rdp, ldap, mssql logins) and BER for LDAP: already resolved through swift-certificates.
        .package(url: "https://github.com/apple/swift-asn1", from: "1.3.0"),
        // The embedded event store (SQLite, WAL, migrations) over Debian's libsqlite3.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // The shared store for many hosts (DECNET_DB_BACKEND=postgres): PostgreSQL's wire protocol on SwiftNIO.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
        // The REST API and dashboard (issue 7): HTTP/1.1 server, router, request contexts on SwiftNIO.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0", traits: []),
        // bcrypt for the API users' password hashes (HummingbirdBcrypt has no Hummingbird dependency).
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.0.0"),
        // Signing and verifying the API's bearer tokens (HS256).
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.0.0"),
        // Hummingbird's header types (already in the graph through it), named for header names made once.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        // Webhook deliveries: the HTTP client of the swift-server stack (HTTP/1.1 and 2, TLS through NIOSSL, pooled
        // connections, timeouts), on the NIO the project already runs.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // The model: services, archetypes, distros, OS families, fleets and how a fleet is planned. Foundation only.
        // CDecnetLinux for getrandom(2): random numbers drawn from a pool (PooledRandom).
        .target(name: "DecnetCore", dependencies: ["CDecnetLinux"], swiftSettings: swiftSettings),
        // Reading the operator's INI file and the DECNET_* environment into the model.
        .target(
            name: "DecnetConfig",
            dependencies: [
                "DecnetCore",
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: swiftSettings
        ),
        // The service plugin model: HoneypotService, session-bound events, limits. Protocol code needs only NIOCore.
        .target(
            name: "DecnetServiceKit",
            dependencies: [
                "DecnetCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // Release builds export the kit's generic code (ConnectionBridge, Connection, the listeners' glue) for
            // specialization in the modules that use it: unspecialized, every connection paid generic metadata
            // lookups for it, about a tenth of an RDP connection's user CPU (perf; docs/benchmarks.md).
            swiftSettings: swiftSettings + [
                .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))
            ]
        ),
        // The protocol emulators, one folder per protocol: a pure state machine, codecs and the NIO glue.
        .target(
            name: "DecnetServices",
            dependencies: [
                "DecnetCore", "DecnetServiceKit", "CSodium", "CNettle", "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // The fuzz entry points (FuzzEntries) run decoders in an EmbeddedChannel.
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // libsodium from Debian: ChaCha20 (64-bit nonce) and Poly1305 for chacha20-poly1305@openssh.com.
        .systemLibrary(
            name: "CSodium",
            path: "Sources/CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // nettle and GMP from Debian: UMAC (umac-64/128@openssh.com) and modular exponentiation for the
        // finite-field Diffie-Hellman groups, neither of which swift-crypto exposes.
        .systemLibrary(
            name: "CNettle",
            path: "Sources/CNettle",
            pkgConfig: "nettle",
            providers: [.apt(["nettle-dev", "libgmp-dev"])]
        ),
        // zlib from Debian: zlib@openssh.com compression (`ssh -C`).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // setns(2) for entering a decky's network namespace, getrandom(2) … (Swift's Glibc module lacks them).
        .target(name: "CDecnetLinux"),
        // Listeners (NIOPosix), connection limits, event sinks: what runs services on sockets.
        .target(
            name: "DecnetRuntime",
            dependencies: [
                "DecnetCore", "DecnetServiceKit", "DecnetServices", "CDecnetLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // libpcap from Debian: a capture handle per decky namespace, its kernel BPF filter and bounded ring.
        .systemLibrary(name: "CPcap", path: "Sources/CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        // libnetfilter_queue from Debian: the NFQUEUE socket per decky namespace through which the OS
        // personality layer reshapes the decky's SYN-ACKs, RSTs and ICMP (nmap -O and p0f read them).
        .systemLibrary(
            name: "CNetfilterQueue",
            path: "Sources/CNetfilterQueue",
            pkgConfig: "libnetfilter_queue",
            providers: [.apt(["libnetfilter-queue-dev"])]
        ),
        // The packet layer: what reaches each decky below its sockets (libpcap in the decky's namespace),
        // decoded, classified and aggregated into scans and attacker fingerprints; and what leaves it, shaped
        // to its OS personality (NFQUEUE). Below the API, beside Runtime.
        .target(
            name: "DecnetPacket",
            dependencies: [
                "DecnetCore", "DecnetServiceKit", "DecnetRuntime", "CPcap", "CNetfilterQueue", "CDecnetLinux",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // libloc from Debian: the IPFire Location database (libloc-database, CC BY-SA 4.0) that the intelligence
        // stack reads for the country, network and autonomous system of attacker addresses, offline.
        .systemLibrary(
            name: "CLibloc",
            path: "Sources/CLibloc",
            pkgConfig: "libloc",
            providers: [.apt(["libloc-dev"])]
        ),
        // The intelligence stack: what DECNET makes of attackers (GeoIP/ASN now; profiler, identities, campaigns,
        // ATT&CK and exports next). Below the API, beside the store it reads.
        .target(
            name: "DecnetIntel",
            dependencies: [
                "DecnetCore", "DecnetConfig", "DecnetStore", "CLibloc",
                // CRC-32 for the canary DOCX's ZIP entries.
                "CZlib", "DecnetServiceKit",
                // SHA-1 for the version 5 UUIDs STIX ids are made of; HMAC-SHA256 for webhook signatures.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The event store: logs, bounty, attackers (SQLite now, PostgreSQL next) and the ingester that fills it.
        .target(
            name: "DecnetStore",
            dependencies: [
                "DecnetCore", .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for the ingester's statement binding (GRDB's own module of the system library).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
                // TLS to PostgreSQL (postgres-nio's own TLS library, already in the graph).
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // Moving events between processes and hosts: syslog over mutual TLS (forwarder, listener), the CA that
        // issues their certificates, and the service bus's broker.
        .target(
            name: "DecnetPipeline",
            dependencies: [
                "DecnetCore", "DecnetServiceKit", "DecnetRuntime",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The REST API under /api/v1, its OpenAPI document, the live event stream and the dashboard pages.
        .target(
            name: "DecnetAPI",
            dependencies: [
                "DecnetCore", "DecnetConfig", "DecnetStore", "DecnetRuntime", "DecnetPipeline", "DecnetIntel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Docker driver: the seed's docker-compose container model.
        .target(
            name: "DecnetDocker",
            dependencies: ["DecnetCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // The command tree. A library so tests drive the same commands the binary runs.
        .target(
            name: "DecnetCLI",
            dependencies: [
                "DecnetCore", "DecnetConfig", "DecnetDocker", "DecnetServiceKit", "DecnetServices", "DecnetRuntime",
                "DecnetStore", "DecnetPipeline", "DecnetAPI", "DecnetPacket", "DecnetIntel", "CDecnetLinux",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "decnet", dependencies: ["DecnetCLI"], swiftSettings: swiftSettings),
        // The fuzz targets by name (the services' own entry points are DecnetServices.FuzzEntries).
        .target(
            name: "DecnetFuzz",
            dependencies: [
                // DecnetServiceKit: the bus's wire format (Bus/BusWire.swift); DecnetAPI and its store: the API's
                // JSON bodies through its router (APIBodies.swift).
                "DecnetServices", "DecnetServiceKit", "DecnetCore", "DecnetConfig", "DecnetAPI", "DecnetStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "decnet-fuzz", dependencies: ["DecnetFuzz"], swiftSettings: swiftSettings),
        // Helpers for tests: real tools, fixtures, the built binary. Foundation only.
        .target(name: "DecnetTesting", dependencies: ["DecnetCore", "DecnetServiceKit"], swiftSettings: swiftSettings),

        .testTarget(
            name: "DecnetCoreTests",
            dependencies: ["DecnetCore", "DecnetTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DecnetStoreTests",
            // GRDB: to look into the SQLite file the store wrote, and to make one of an older schema;
            // DecnetPipeline: the project's CA, for PostgreSQL's certificates.
            dependencies: [
                "DecnetStore", "DecnetCore", "DecnetTesting", "DecnetPipeline",
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DecnetConfigTests",
            dependencies: ["DecnetConfig", "DecnetCore", "DecnetTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DecnetServicesTests",
            dependencies: [
                "DecnetServices", "DecnetServiceKit", "DecnetCore", "DecnetTesting", "DecnetFuzz",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            exclude: ["Replays"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DecnetIntelTests",
            dependencies: ["DecnetIntel", "DecnetCore", "DecnetStore", "DecnetTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DecnetPacketTests",
            dependencies: ["DecnetPacket", "DecnetCore", "DecnetRuntime", "DecnetTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DecnetRuntimeTests",
            dependencies: [
                "DecnetRuntime", "DecnetServices", "DecnetServiceKit", "DecnetCore", "DecnetTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Scripts"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DecnetDockerTests",
            dependencies: [
                "DecnetDocker", "DecnetConfig", "DecnetCore", "DecnetTesting", .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DecnetPipelineTests",
            dependencies: [
                "DecnetPipeline", "DecnetCore", "DecnetRuntime", "DecnetTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DecnetAPITests",
            dependencies: [
                "DecnetAPI", "DecnetStore", "DecnetCore", "DecnetConfig", "DecnetPipeline", "DecnetIntel",
                "DecnetTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DecnetCLITests",
            dependencies: ["DecnetCLI", "DecnetCore", "DecnetConfig", "DecnetStore", "DecnetIntel", "DecnetTesting"],
            exclude: ["Scripts"],
            swiftSettings: swiftSettings
        ),
    ]
)
