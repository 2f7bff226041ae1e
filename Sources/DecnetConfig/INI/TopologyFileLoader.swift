import DecnetCore

/// Reads a MazeNET topology file (`decnet topology create --config maze.ini`): a fleet file whose deckies stand on
/// named segments, joined by router deckies.
///
/// ```ini
/// [topology]
/// entry = dmz                 ; where the lab's attacker stands (default: the first segment)
///
/// [subnet:dmz]
/// net = 10.80.1.0/24
///
/// [subnet:office]
/// net = 10.80.2.0/24
///
/// [gw-dmz]                    ; a router decky: one leg per segment it joins, segment:address
/// router = dmz:10.80.1.1, office:10.80.2.1
/// services = ssh
///
/// [web]                       ; any decky: its segment and address
/// subnet = dmz
/// ip = 10.80.1.10
/// services = http
///
/// [web.http]                  ; personas as in a fleet file
/// server_header = nginx
/// ```
///
/// Everything else is the fleet file's syntax and checks (the file's own lines are kept, so every problem still
/// names the file, line and key); there is no `[general]`: the fleet's net is the smallest network covering the
/// segments.
public enum TopologyFileLoader {
    public struct Design: Sendable {
        /// The fleet: every decky, routers included (a router's address is its first leg's).
        public var request: FleetRequest
        public var segments: [MazeLayout.Segment] = []
        public var entry: String = ""
        /// Each ordinary decky's segment and address.
        public var deckies: [String: MazeLayout.Leg] = [:]
        /// Each router's legs.
        public var routers: [String: [MazeLayout.Leg]] = [:]
    }

    /// The topology's fleet and its wiring, from its file's text. Throws the planner's `ConfigurationError`
    /// (every problem by file, line and key) or the wiring's `MazeLayout.Problem`.
    public static func plan(_ source: String, path: String, name: String) throws -> (Fleet, MazeLayout) {
        let design = Self.design(from: source, path: path)
        let fleet = try FleetPlanner().plan(design.request)
        let layout = try MazeLayout.plan(
            name: name,
            segments: design.segments,
            deckies: design.deckies,
            routers: design.routers,
            entry: design.entry
        )
        return (fleet, layout)
    }

    public static let topologyKeys = ["entry"]
    public static let subnetKeys = ["net"]

    public static func design(from text: String, path: String) -> Design {
        let (document, syntax) = IniDocument.parse(text, path: path)
        var diagnostics = syntax
        // Numbered as the INI parser numbers them (CR and CRLF line ends too), so every line the rewrite touches
        // is the one a diagnostic names.
        var lines = IniDocument.lines(text)
        func replace(_ line: Int, with text: String) {
            if line >= 1 && line <= lines.count { lines[line - 1] = text }
        }
        let headers = document.sections.map(\.line).sorted()
        /// Empties a section's lines (its header to the next header), keeping the file's line numbers.
        func blank(_ section: IniDocument.Section) {
            let end = headers.first { $0 > section.line }.map { $0 - 1 } ?? lines.count
            for line in section.line...max(section.line, end) { replace(line, with: "") }
        }
        func problem(_ line: Int, _ key: String, _ message: String) {
            diagnostics.append(Diagnostic(.file(path: path, line: line), key: key, message))
        }
        var segments: [MazeLayout.Segment] = []
        var entry: String?
        var deckies: [String: MazeLayout.Leg] = [:]
        var routers: [String: [MazeLayout.Leg]] = [:]
        for section in document.sections {
            if section.name == "topology" {
                for item in section.entries where !Self.topologyKeys.contains(item.key) {
                    problem(item.line, "[topology] \(item.key)", "unknown key; expected entry")
                }
                entry = section.entry("entry")?.value
                blank(section)
            } else if section.name.hasPrefix("subnet:") {
                let name = String(section.name.dropFirst("subnet:".count))
                for item in section.entries where !Self.subnetKeys.contains(item.key) {
                    problem(item.line, "[\(section.name)] \(item.key)", "unknown key; expected net")
                }
                if !InputSyntax.isName(name) {
                    problem(
                        section.line,
                        "[\(section.name)]",
                        "'\(name)' is not a segment name; expected letters, digits, '-' or '_'"
                    )
                } else if let net = section.entry("net") {
                    if let subnet = IPv4Network(net.value) {
                        if let overlap = segments.first(where: {
                            $0.subnet.contains(subnet.network) || subnet.contains($0.subnet.network)
                        }) {
                            problem(
                                net.line,
                                "[\(section.name)] net",
                                "\(subnet) overlaps segment \(overlap.name) (\(overlap.subnet))"
                            )
                        } else {
                            segments.append(MazeLayout.Segment(name: name, subnet: subnet))
                        }
                    } else {
                        problem(
                            net.line,
                            "[\(section.name)] net",
                            "'\(net.value)' is not a subnet; expected a CIDR, e.g. 10.80.1.0/24"
                        )
                    }
                } else {
                    problem(section.line, "[\(section.name)] net", "missing; expected net = CIDR, e.g. 10.80.1.0/24")
                }
                blank(section)
            } else if section.name == "general" {
                problem(
                    section.line,
                    "[general]",
                    "a topology has no [general]; its subnets are [subnet:NAME] sections"
                )
                blank(section)
            }
        }
        let segmentNames = Set(segments.map(\.name))
        for section in document.sections
        where section.name != "topology" && section.name != "general" && !section.name.hasPrefix("subnet:")
            && !section.name.hasPrefix("custom-") && !section.name.contains(".")
        {
            let subnet = section.entry("subnet")
            let router = section.entry("router")
            if let amount = section.entry("amount") {
                problem(
                    amount.line,
                    "[\(section.name)] amount",
                    "groups are not supported in a topology yet; give each decky its own section, subnet and ip"
                )
                continue
            }
            switch (subnet, router) {
            case (let subnet?, nil):
                replace(subnet.line, with: "")
                guard segmentNames.contains(subnet.value) else {
                    problem(
                        subnet.line,
                        "[\(section.name)] subnet",
                        "no segment \(subnet.value); expected one of \(segmentNames.sorted().joined(separator: ", "))"
                    )
                    continue
                }
                guard let ip = section.entry("ip").flatMap({ IPv4Address($0.value) }) else {
                    problem(
                        section.line,
                        "[\(section.name)] ip",
                        "missing; a decky of a topology needs its address on \(subnet.value)"
                    )
                    continue
                }
                deckies[section.name] = MazeLayout.Leg(segment: subnet.value, ip: ip)
            case (nil, let router?):
                var legs: [MazeLayout.Leg] = []
                for part in router.value.split(separator: ",") {
                    let pair = part.split(separator: ":", maxSplits: 1).map { String($0).trimmingWhitespace() }
                    guard pair.count == 2, segmentNames.contains(pair[0]), let ip = IPv4Address(pair[1]) else {
                        problem(
                            router.line,
                            "[\(section.name)] router",
                            "'\(part.trimmingWhitespace())' is not segment:address with a segment of this file, e.g. dmz:10.80.1.1"
                        )
                        legs = []
                        break
                    }
                    legs.append(MazeLayout.Leg(segment: pair[0], ip: ip))
                }
                if section.entry("ip") != nil {
                    problem(
                        section.entry("ip")!.line,
                        "[\(section.name)] ip",
                        "a router's addresses are its legs (router = segment:address, …)"
                    )
                }
                guard !legs.isEmpty else { continue }
                routers[section.name] = legs
                replace(router.line, with: "ip = \(legs[0].ip)")
            case (nil, nil):
                problem(
                    section.line,
                    "[\(section.name)]",
                    "a decky of a topology needs subnet = SEGMENT (or router = segment:address, … for a router)"
                )
            case (_?, let router?):
                problem(router.line, "[\(section.name)] router", "a router has legs instead of a subnet; drop subnet")
            }
        }
        if segments.isEmpty {
            problem(1, "[subnet:NAME]", "no segments; expected [subnet:NAME] sections with net = CIDR")
        }
        var request = FleetRequest()
        let covering = IPv4Network.covering(segments.flatMap { [$0.subnet.network, $0.subnet.broadcast] })
        if let covering {
            lines.append("[general]")
            lines.append("net = \(covering)")
            request = FleetFileLoader.request(from: lines.joined(separator: "\n"), path: path)
            // The routers are the gateways; a topology names none.
            request.diagnostics.removeAll { $0.key == "[general] gw" && $0.message.hasPrefix("missing") }
        }
        request.diagnostics = diagnostics + request.diagnostics
        let chosen = entry ?? segments.first?.name ?? ""
        if let entry, !segmentNames.contains(entry) {
            let line = document.section("topology")?.entry("entry")?.line ?? 1
            request.diagnostics.append(
                Diagnostic(.file(path: path, line: line), key: "[topology] entry", "no segment \(entry)")
            )
        }
        return Design(request: request, segments: segments, entry: chosen, deckies: deckies, routers: routers)
    }
}
