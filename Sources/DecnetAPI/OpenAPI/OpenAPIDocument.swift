import Foundation

/// The OpenAPI 3.1 document served at `/api/v1/openapi.json`. Written by hand beside the routes; `OpenAPITests`
/// checks that every route is in it and that real answers match its schemas, and schemathesis (in `.ci/run`) checks
/// it against the running server.
enum OpenAPIDocument {
    /// Every operation: method, path (OpenAPI form), and what it is.
    struct Operation {
        var method: String
        var path: String
        var id: String
        var summary: String
        var tag: String
        var parameters: [[String: Any]] = []
        var body: String?
        var success: (status: Int, schema: [String: Any], contentType: String)
        /// Other content types the success answer may have (the CSV export).
        var alternatives: [String: [String: Any]] = [:]
        var errors: [Int] = []
        var secured = true
    }

    static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
    static func array(_ items: [String: Any]) -> [String: Any] { ["type": "array", "items": items] }
    static var string: [String: Any] { ["type": "string"] }
    static var integer: [String: Any] { ["type": "integer"] }
    static var boolean: [String: Any] { ["type": "boolean"] }
    static var number: [String: Any] { ["type": "number"] }
    static var dateTime: [String: Any] { ["type": "string", "format": "date-time"] }
    static func nullable(_ schema: [String: Any]) -> [String: Any] {
        ["anyOf": [schema, ["type": "null"]]]
    }

    static func object(_ properties: [String: [String: Any]], required: [String]? = nil) -> [String: Any] {
        [
            "type": "object", "properties": properties, "required": required ?? properties.keys.sorted(),
            "additionalProperties": false,
        ]
    }

    static func query(_ name: String, _ schema: [String: Any], _ description: String) -> [String: Any] {
        ["name": name, "in": "query", "required": false, "schema": schema, "description": description]
    }

    static func path(_ name: String, _ schema: [String: Any] = string) -> [String: Any] {
        ["name": name, "in": "path", "required": true, "schema": schema]
    }

    /// An identity's or campaign's uuid as the path holds it.
    static var uuidPattern: [String: Any] { ["type": "string", "pattern": "^[0-9A-Fa-f-]{1,64}$"] }

    static var exportFormat: [String: Any] { ["type": "string", "enum": ["stix", "misp"]] }

    static var stateFilter: [String: Any] {
        query(
            "state",
            ["type": "string", "enum": ["active", "merged", "dissolved", "all"]],
            "active (default), merged, dissolved or all"
        )
    }

    /// An IPv4 or IPv6 address as the path holds it.
    static var address: [String: Any] { ["type": "string", "pattern": "^[0-9A-Fa-f.:]{1,64}$"] }

    static var paging: [[String: Any]] {
        [
            query("limit", ["type": "integer", "minimum": 1, "maximum": 1000], "page size"),
            query("offset", ["type": "integer", "minimum": 0, "maximum": 10_000_000], "rows to skip"),
        ]
    }

    static var attackerFilters: [[String: Any]] {
        [
            query("search", ["type": "string", "maxLength": 64], "part of the address"),
            query("service", ["type": "string", "maxLength": 64], "touched this service"),
            query("decky", ["type": "string", "maxLength": 64], "touched this decky"),
            query("traversal", boolean, "only attackers that moved between deckies"),
            query("sort", ["type": "string", "enum": ["last_seen", "first_seen", "events", "logins"]], "order"),
        ]
    }

    static var logFilters: [[String: Any]] {
        [
            query("event_type", ["type": "string", "maxLength": 64], "e.g. login.failed"),
            query("attacker_ip", ["type": "string", "maxLength": 64], "source address"),
            query("decky", ["type": "string", "maxLength": 64], "decky name"),
            query("service", ["type": "string", "maxLength": 64], "service slug"),
            query("since", ["type": "string", "format": "date-time"], "at or after (RFC 3339 UTC)"),
            query("until", ["type": "string", "format": "date-time"], "before (RFC 3339 UTC)"),
            [
                "name": "field", "in": "query", "required": false, "style": "form", "explode": true,
                "schema": [
                    "type": "array", "maxItems": 8,
                    "items": ["type": "string", "pattern": "^[^:]+:", "maxLength": 512],
                ],
                "description": "an event field's exact value, name:value (the seed's JSON_EXTRACT filter); repeatable",
            ],
        ]
    }

    static var operations: [Operation] {
        [
            Operation(
                method: "post",
                path: "/api/v1/auth/login",
                id: "login",
                summary: "Log in; returns a bearer token",
                tag: "auth",
                body: "LoginRequest",
                success: (200, ref("LoginResponse"), "application/json"),
                errors: [400, 401, 429],
                secured: false
            ),
            Operation(
                method: "get",
                path: "/api/v1/auth/me",
                id: "me",
                summary: "The current user",
                tag: "auth",
                success: (200, ref("User"), "application/json")
            ),
            Operation(
                method: "post",
                path: "/api/v1/auth/change-password",
                id: "changePassword",
                summary: "Change the current user's password (required at first login)",
                tag: "auth",
                body: "ChangePasswordRequest",
                success: (200, ref("Message"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "post",
                path: "/api/v1/auth/logout",
                id: "logout",
                summary: "Clear the dashboard's session cookie",
                tag: "auth",
                success: (200, ref("Message"), "application/json")
            ),
            Operation(
                method: "get",
                path: "/api/v1/auth/users",
                id: "listUsers",
                summary: "Users (admin)",
                tag: "auth",
                success: (200, array(ref("User")), "application/json")
            ),
            Operation(
                method: "post",
                path: "/api/v1/auth/users",
                id: "createUser",
                summary: "Add a user (admin); they change the password at first login",
                tag: "auth",
                body: "NewUserRequest",
                success: (201, ref("User"), "application/json"),
                errors: [400, 409]
            ),
            Operation(
                method: "delete",
                path: "/api/v1/auth/users/{username}",
                id: "deleteUser",
                summary: "Remove a user (admin)",
                tag: "auth",
                parameters: [path("username", ["type": "string", "pattern": "^[A-Za-z0-9._@-]{1,64}$"])],
                success: (204, [:], ""),
                errors: [400, 404]
            ),
            Operation(
                method: "get",
                path: "/api/v1/attackers",
                id: "listAttackers",
                summary: "Attackers, filtered and paged",
                tag: "attackers",
                parameters: attackerFilters + paging,
                success: (200, ref("AttackerPage"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "get",
                path: "/api/v1/attackers/export",
                id: "exportAttackers",
                summary: "Every attacker matching the filters, as JSON or CSV",
                tag: "attackers",
                parameters: attackerFilters + [
                    query("format", ["type": "string", "enum": ["json", "csv"]], "file format")
                ],
                success: (200, array(ref("Attacker")), "application/json"),
                alternatives: ["text/csv; charset=utf-8": string],
                errors: [400]
            ),
            Operation(
                method: "get",
                path: "/api/v1/attackers/{ip}",
                id: "getAttacker",
                summary: "One attacker with its bounty and traversal hops",
                tag: "attackers",
                parameters: [path("ip", address)],
                success: (200, ref("AttackerDetail"), "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "get",
                path: "/api/v1/attackers/{ip}/events",
                id: "attackerEvents",
                summary: "An attacker's events, newest first",
                tag: "attackers",
                parameters: [path("ip", address)] + logFilters + paging,
                success: (200, ref("EventPage"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "get",
                path: "/api/v1/attackers/{ip}/transcripts",
                id: "attackerTranscripts",
                summary: "An attacker's shell sessions, command by command",
                tag: "attackers",
                parameters: [path("ip", address)],
                success: (200, ref("TranscriptList"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "get",
                path: "/api/v1/identities",
                id: "listIdentities",
                summary: "Identities: attacker addresses the profiler holds to be one actor, largest first",
                tag: "identities",
                parameters: [stateFilter] + paging,
                success: (200, ref("IdentityPage"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "get",
                path: "/api/v1/identities/{uuid}",
                id: "getIdentity",
                summary: "One identity with the links that hold it together and its attackers",
                tag: "identities",
                parameters: [path("uuid", uuidPattern)],
                success: (200, ref("IdentityDetail"), "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "post",
                path: "/api/v1/identities/{uuid}/merge",
                id: "mergeIdentity",
                summary: "Merge another identity into this one, and keep them together (admin)",
                tag: "identities",
                parameters: [path("uuid", uuidPattern)],
                body: "MergeRequest",
                success: (202, ref("Decision"), "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "post",
                path: "/api/v1/identities/{uuid}/unmerge",
                id: "unmergeIdentity",
                summary: "Give a merged identity its members back, or split attackers off an identity (admin)",
                tag: "identities",
                parameters: [path("uuid", uuidPattern)],
                body: "UnmergeRequest",
                success: (202, ref("Decision"), "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "get",
                path: "/api/v1/campaigns",
                id: "listCampaigns",
                summary: "Campaigns: related activity of identities and lone attackers, latest first",
                tag: "campaigns",
                parameters: [stateFilter] + paging,
                success: (200, ref("CampaignPage"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "get",
                path: "/api/v1/campaigns/{uuid}",
                id: "getCampaign",
                summary: "One campaign with its links, identities and attackers",
                tag: "campaigns",
                parameters: [path("uuid", uuidPattern)],
                success: (200, ref("CampaignDetail"), "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "get",
                path: "/api/v1/attackers/{ip}/export/{format}",
                id: "exportAttacker",
                summary: "An attacker as a STIX 2.1 bundle or a MISP event",
                tag: "attackers",
                parameters: [path("ip", address), path("format", exportFormat)],
                success: (200, ["type": "object"], "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "get",
                path: "/api/v1/identities/{uuid}/export/{format}",
                id: "exportIdentity",
                summary: "An identity (an intrusion set with its addresses) as a STIX 2.1 bundle or a MISP event",
                tag: "identities",
                parameters: [path("uuid", uuidPattern), path("format", exportFormat)],
                success: (200, ["type": "object"], "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "get",
                path: "/api/v1/campaigns/{uuid}/export/{format}",
                id: "exportCampaign",
                summary: "A campaign with its identities and addresses as a STIX 2.1 bundle or a MISP event",
                tag: "campaigns",
                parameters: [path("uuid", uuidPattern), path("format", exportFormat)],
                success: (200, ["type": "object"], "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "get",
                path: "/api/v1/bounty",
                id: "bountyBoard",
                summary:
                    "What was harvested (credentials, fingerprints, artifacts, downloads), newest first, and the top-scoring attackers",
                tag: "bounty",
                parameters: [
                    query(
                        "kind",
                        ["type": "string", "enum": ["all", "credential", "fingerprint", "artifact", "download"]],
                        "one kind of bounty"
                    )
                ] + paging,
                success: (200, ref("BountyBoard"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "get",
                path: "/api/v1/deckies",
                id: "listDeckies",
                summary: "The fleet and each decky's state",
                tag: "deckies",
                success: (200, ref("Fleet"), "application/json"),
                errors: [503]
            ),
            Operation(
                method: "post",
                path: "/api/v1/deckies/deploy",
                id: "deploy",
                summary: "Deploy a fleet from an INI file (admin)",
                tag: "deckies",
                body: "DeployRequest",
                success: (200, ref("ActionResult"), "application/json"),
                errors: [400, 503]
            ),
            Operation(
                method: "get",
                path: "/api/v1/deckies/{name}",
                id: "getDecky",
                summary: "One decky",
                tag: "deckies",
                parameters: [path("name")],
                success: (200, ref("Decky"), "application/json"),
                errors: [404, 503]
            ),
            Operation(
                method: "post",
                path: "/api/v1/deckies/{name}/{action}",
                id: "deckyAction",
                summary: "Start, stop or restart one decky (admin)",
                tag: "deckies",
                parameters: [path("name"), path("action", ["type": "string", "enum": ["start", "stop", "restart"]])],
                success: (200, ref("ActionResult"), "application/json"),
                errors: [400, 404, 409, 503]
            ),
            Operation(
                method: "get",
                path: "/api/v1/logs",
                id: "queryLogs",
                summary: "Stored events, filtered, newest first",
                tag: "logs",
                parameters: logFilters + paging,
                success: (200, ref("EventPage"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "get",
                path: "/api/v1/logs/histogram",
                id: "logHistogram",
                summary: "Events per interval (the last 24 h unless since/until say otherwise)",
                tag: "logs",
                parameters: logFilters + [
                    query("interval", ["type": "integer", "minimum": 1, "maximum": 86_400], "bucket width in seconds")
                ],
                success: (200, ref("Histogram"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "get",
                path: "/api/v1/stats",
                id: "stats",
                summary: "Totals for the overview",
                tag: "overview",
                success: (200, ref("Stats"), "application/json"),
                errors: [503]
            ),
            Operation(
                method: "get",
                path: "/api/v1/health",
                id: "health",
                summary: "The API, its store and the daemons",
                tag: "health",
                success: (200, ref("Health"), "application/json")
            ),
            Operation(
                method: "get",
                path: "/api/v1/config",
                id: "config",
                summary: "Runtime configuration (no secrets)",
                tag: "config",
                success: (200, ref("Config"), "application/json")
            ),
            Operation(
                method: "get",
                path: "/api/v1/stream",
                id: "stream",
                summary: "Server-Sent Events of live bus messages matching a topic pattern",
                tag: "stream",
                parameters: [
                    query(
                        "topic",
                        ["type": "string", "maxLength": 256],
                        "NATS-style pattern: attacker.>, decky.*.state"
                    ),
                    query(
                        "limit",
                        ["type": "integer", "minimum": 0, "maximum": 1_000_000],
                        "end after this many (0: never)"
                    ),
                ],
                success: (200, string, "text/event-stream"),
                errors: [400]
            ),
            Operation(
                method: "get",
                path: "/api/v1/openapi.json",
                id: "openapi",
                summary: "This document",
                tag: "meta",
                success: (200, ["type": "object"], "application/json")
            ),
        ] + canaryOperations + webhookOperations + swarmOperations + topologyOperations
    }

    static var schemas: [String: Any] {
        let geo = object(
            [
                "scope": string, "network": string, "country_code": string, "country": string, "asn": integer,
                "as_name": string, "flags": array(string), "source": string,
            ],
            required: ["scope", "flags"]
        )
        let attackerProperties: [String: [String: Any]] = [
            "ip": string, "first_seen": dateTime, "last_seen": dateTime, "event_count": integer,
            "login_attempts": integer, "credential_count": integer, "command_count": integer,
            "deckies": array(string), "services": array(string), "traversal_path": string, "is_traversal": boolean,
            "fingerprints": ["type": "object", "additionalProperties": array(string)], "commands": array(string),
            "geo": geo,
        ]
        // `geo` is absent when no location database is installed.
        let attacker = object(attackerProperties, required: attackerProperties.keys.filter { $0 != "geo" }.sorted())
        let event = object([
            "uuid": string, "timestamp": dateTime, "event_type": string, "decky": string, "hostname": string,
            "service": string, "session": string, "attacker_ip": string, "attacker_port": integer,
            "decky_ip": string, "decky_port": integer, "fields": ["type": "object", "additionalProperties": string],
        ])
        let service = object(
            [
                "service": string, "port": integer, "listening": boolean, "open_connections": integer,
                "total_connections": integer, "note": string,
            ],
            required: ["service", "port", "listening", "open_connections", "total_connections"]
        )
        let decky = object(
            [
                "name": string,
                "state": ["type": "string", "enum": ["starting", "running", "stopped", "failed", "planned"]],
                "ip": string, "mac": string, "hostname": string, "os_family": string, "distro": string,
                "archetype": string, "services": array(ref("Service")), "error": string,
            ],
            required: ["name", "state", "ip", "mac", "hostname", "os_family", "distro", "services"]
        )
        let reasonCount = object(["kind": string, "links": integer, "detail": string])
        let link = object([
            "a": string, "b": string, "score": number,
            "reasons": array(object(["kind": string, "detail": string, "weight": number])),
        ])
        let member = object([
            "ip": string, "behaviour": string, "score": integer, "last_seen": dateTime, "clients": array(string),
            "credentials": integer,
        ])
        let states: [String: Any] = ["type": "string", "enum": ["active", "merged", "dissolved"]]
        let identity = object(
            [
                "uuid": string, "state": states, "members": array(string), "member_count": integer,
                "formed": dateTime, "updated": dateTime, "merged_into": string, "behaviour": string,
                "reasons": array(reasonCount), "campaign": string,
            ],
            required: ["uuid", "state", "members", "member_count", "formed", "updated", "reasons"]
        )
        let campaign = object(
            [
                "uuid": string, "state": states, "actors": array(string), "attackers": array(string),
                "attacker_count": integer, "formed": dateTime, "updated": dateTime, "merged_into": string,
                "first": dateTime, "last": dateTime, "reasons": array(reasonCount), "deckies": array(string),
                "phases": array(string),
            ],
            required: [
                "uuid", "state", "actors", "attackers", "attacker_count", "formed", "updated", "first", "last",
                "reasons", "deckies", "phases",
            ]
        )
        return canarySchemas.merging(webhookSchemas) { first, _ in first }.merging(swarmSchemas) { first, _ in first }
            .merging(topologySchemas) { first, _ in first }
            .merging([
                "Error": object(["detail": string]),
                "Message": object(["detail": string]),
                "LoginRequest": object(["username": string, "password": string]),
                "LoginResponse": object([
                    "access_token": string, "token_type": ["type": "string", "enum": ["bearer"]],
                    "expires_at": dateTime,
                    "username": string, "role": ["type": "string", "enum": ["admin", "viewer"]],
                    "must_change_password": boolean,
                ]),
                "ChangePasswordRequest": object([
                    "old_password": string, "new_password": ["type": "string", "minLength": 8, "maxLength": 72],
                ]),
                "NewUserRequest": object([
                    "username": ["type": "string", "pattern": "^[A-Za-z0-9._@-]{1,64}$"],
                    "password": ["type": "string", "minLength": 8, "maxLength": 72],
                    "role": ["type": "string", "enum": ["admin", "viewer"]],
                ]),
                "User": object([
                    "username": string, "role": ["type": "string", "enum": ["admin", "viewer"]],
                    "must_change_password": boolean, "created_at": dateTime,
                ]),
                "Attacker": attacker,
                "AttackerPage": page("Attacker"),
                "Bounty": object([
                    "time": dateTime, "kind": string, "decky": string, "service": string,
                    "payload": ["type": "object", "additionalProperties": string],
                ]),
                "AttackerDetail": object(
                    [
                        "attacker": ref("Attacker"), "bounty": array(ref("Bounty")),
                        "hops": array(object(["from": string, "to": string])),
                        "steps": array(
                            object(
                                [
                                    "kind": ["type": "string", "enum": ["scan", "visit", "repeated"]], "label": string,
                                    "deckies": array(string), "events": integer, "first": dateTime, "last": dateTime,
                                    "scan_id": string, "scan_types": array(string), "tool": string, "moves": integer,
                                ],
                                required: ["kind", "label", "deckies", "events", "first", "last"]
                            )
                        ),
                        "behaviour": object(
                            [
                                "behaviour": [
                                    "type": "string",
                                    "enum": [
                                        "scanner", "brute-forcer", "credential-stuffer", "interactive", "bot",
                                        "exploit-attempt",
                                        "unknown",
                                    ],
                                ],
                                "evidence": array(string),
                                "phases": array(object(["phase": string, "first": dateTime, "evidence": string])),
                                "tools": array(object(["tool": string, "evidence": string, "source": string])),
                                "timing": object(
                                    [
                                        "events": integer, "seconds": number, "mean_gap": number, "median_gap": number,
                                        "gap_variation": number, "command_pause": number, "scan_peak_pps": integer,
                                    ],
                                    required: ["events", "seconds", "mean_gap", "median_gap", "gap_variation"]
                                ),
                                "keystrokes": object(
                                    [
                                        "entry": ["type": "string", "enum": ["typed", "pasted", "machine", "mixed"]],
                                        "lines": integer, "typed_lines": integer, "pasted_lines": integer,
                                        "median_key_gap_ms": number, "key_gap_variation": number,
                                        "corrections": integer,
                                        "summary": string,
                                    ],
                                    required: [
                                        "entry", "lines", "typed_lines", "pasted_lines", "corrections", "summary",
                                    ]
                                ),
                                "score": integer,
                            ],
                            required: ["behaviour", "evidence", "phases", "tools", "timing", "score"]
                        ),
                        "identity": string, "campaign": string,
                        "techniques": array(
                            object([
                                "technique": string, "name": string, "tactics": array(string), "rule": string,
                                "rule_name": string, "confidence": integer, "first": dateTime, "last": dateTime,
                                "count": integer, "events": array(string), "evidence": string, "attack": string,
                                "url": string,
                            ])
                        ),
                    ],
                    required: ["attacker", "bounty", "hops", "steps", "behaviour", "techniques"]
                ),
                "Event": event,
                "EventPage": page("Event"),
                "Transcript": object([
                    "session": string, "decky": string, "service": string, "started": dateTime, "ended": dateTime,
                    "commands": array(object(["time": dateTime, "command": string])),
                ]),
                "TranscriptList": object(["ip": string, "sessions": array(ref("Transcript"))]),
                "Histogram": object([
                    "interval": integer, "buckets": array(object(["time": dateTime, "count": integer])),
                ]),
                "Stats": object([
                    "events": integer, "attackers": integer, "credentials": integer, "events_last_hour": integer,
                    "attackers_today": integer, "traversals": integer, "deckies_total": integer,
                    "deckies_running": integer,
                ]),
                "Service": service,
                "Decky": decky,
                "Fleet": object(
                    ["deployed": boolean, "driver": string, "engine_running": boolean, "deckies": array(ref("Decky"))],
                    required: ["deployed", "engine_running", "deckies"]
                ),
                "ActionResult": object(
                    ["ok": boolean, "report": array(string), "decky": ref("Decky")],
                    required: ["ok", "report"]
                ),
                "DeployRequest": object(
                    ["config": string, "network": ["type": "string", "enum": ["config", "lab", "loopback"]]],
                    required: ["config"]
                ),
                "Health": object([
                    "status": ["type": "string", "enum": ["ok", "degraded", "failing"]], "version": string,
                    "uptime_seconds": integer,
                    "store": object(
                        [
                            "backend": string, "ok": boolean, "error": string,
                            "counts": ["type": "object", "additionalProperties": integer],
                        ],
                        required: ["backend", "ok", "counts"]
                    ),
                    "components": array(
                        object(
                            ["name": string, "running": boolean, "pid": integer, "detail": string],
                            required: ["name", "running"]
                        )
                    ),
                ]),
                "Config": object(["settings": ["type": "object", "additionalProperties": string]]),
                "Identity": identity,
                "IdentityPage": page("Identity"),
                "IdentityDetail": object([
                    "identity": ref("Identity"), "links": array(link), "attackers": array(member),
                    "merged": array(string),
                ]),
                "Campaign": campaign,
                "CampaignPage": page("Campaign"),
                "CampaignDetail": object([
                    "campaign": ref("Campaign"), "links": array(link), "identities": array(ref("Identity")),
                    "attackers": array(member),
                ]),
                "MergeRequest": object(["identity": uuidPattern]),
                "UnmergeRequest": object(["attackers": array(string)], required: []),
                "Decision": object([
                    "uuid": string, "action": ["type": "string", "enum": ["merge", "split"]], "first": array(string),
                    "second": array(string), "by": string, "time": dateTime,
                ]),
                "BountyBoard": object([
                    "total": integer, "limit": integer, "offset": integer,
                    "items": array(
                        object([
                            "time": dateTime, "kind": string, "attacker_ip": string, "decky": string, "service": string,
                            "payload": ["type": "object", "additionalProperties": string],
                        ])
                    ),
                    "leaders": array(
                        object(
                            [
                                "attacker_ip": string, "score": integer, "behaviour": string, "identity": string,
                                "credentials": integer, "phases": array(string),
                            ],
                            required: ["attacker_ip", "score", "behaviour", "credentials", "phases"]
                        )
                    ),
                ]),
            ]) { first, _ in first }
    }

    /// A page of `item`s (`Page<Item>` in Models.swift).
    static func page(_ item: String) -> [String: Any] {
        object(["total": integer, "limit": integer, "offset": integer, "items": array(ref(item))])
    }

    static let errorText: [Int: String] = [
        400: "bad input (the detail says which)", 401: "no valid token",
        403: "not allowed (role, or password change pending)",
        404: "not found", 409: "conflicts with the current state", 429: "too many attempts (see Retry-After)",
        503: "the fleet state or the engine is unavailable",
    ]

    static func document() -> [String: Any] {
        var paths: [String: [String: Any]] = [:]
        for operation in operations {
            var responses: [String: Any] = [:]
            if operation.success.contentType.isEmpty {
                responses[String(operation.success.status)] = ["description": "done"]
            } else {
                var content: [String: Any] = [operation.success.contentType: ["schema": operation.success.schema]]
                for (type, schema) in operation.alternatives { content[type] = ["schema": schema] }
                responses[String(operation.success.status)] = ["description": "success", "content": content]
            }
            var errors = Set(operation.errors)
            if operation.secured { errors.formUnion([401, 403]) }
            if !operation.parameters.isEmpty { errors.insert(400) }
            for status in errors.sorted() {
                responses[String(status)] = [
                    "description": errorText[status] ?? "error",
                    "content": ["application/json": ["schema": ref("Error")]],
                ]
            }
            var entry: [String: Any] = [
                "operationId": operation.id, "summary": operation.summary, "tags": [operation.tag],
                "responses": responses,
            ]
            if !operation.parameters.isEmpty { entry["parameters"] = operation.parameters }
            if let body = operation.body {
                entry["requestBody"] = [
                    "required": true, "content": ["application/json": ["schema": ref(body)]],
                ]
            }
            if !operation.secured { entry["security"] = [] as [Any] }
            paths[operation.path, default: [:]][operation.method] = entry
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "DECNET-Swift API", "version": APIServer.version,
                "description": "The seed's /api/v1 resource groups. Every route but login needs a bearer token.",
            ],
            "servers": [["url": "/"]],
            "paths": paths,
            "components": [
                "schemas": schemas,
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT"]],
            ],
            "security": [["bearer": [] as [Any]]],
        ]
    }

    /// The document as served (keys sorted: the same bytes every time).
    static let json: String = {
        let data = try! JSONSerialization.data(
            withJSONObject: document(),
            options: [.sortedKeys, .withoutEscapingSlashes]
        )
        return String(decoding: data, as: UTF8.self)
    }()
}
