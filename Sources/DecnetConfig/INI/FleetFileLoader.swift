import DecnetCore
import Foundation

/// Reads a DECNET fleet file (`decnet deploy --config mynet.ini`) into a `FleetRequest`.
///
/// Sections, as in the seed: `[general]`; a decky (`[decky-01]`) or a group (`[corp-workstations] amount = 10`);
/// a persona (`[decky-01.ssh]`); a bring-your-own service (`[custom-myapp]`). Every problem is collected with its
/// file, line and key; nothing unknown is ignored.
public enum FleetFileLoader {
    /// Keys of `[general]`.
    public static let generalKeys = ["net", "gw", "interface", "log_target"]
    /// Keys of a decky section: the seed's five, then DECNET-Swift's `distro`, `hostname` and `mac`.
    public static let deckyKeys = [
        "ip", "services", "archetype", "nmap_os", "amount", "distro", "hostname", "mac", "os_shaping",
    ]
    /// Keys of a `[custom-NAME]` section.
    public static let customKeys = ["binary", "exec", "ports"]

    /// Reads and parses the file at `path`. An unreadable file is a diagnostic too.
    public static func load(path: String) -> FleetRequest {
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let text = String(data: data, encoding: .utf8) else {
                var request = FleetRequest()
                request.diagnostics = [
                    Diagnostic(.file(path: path, line: 1), key: "file", "not UTF-8 text; expected an INI file")
                ]
                return request
            }
            return self.request(from: text, path: path)
        } catch {
            var request = FleetRequest()
            request.diagnostics = [
                Diagnostic(.file(path: path, line: 0), key: "file", "cannot be read (\(Self.reason(error)))")
            ]
            return request
        }
    }

    /// Parses fleet-file text; `path` is only used in diagnostics.
    public static func request(from text: String, path: String) -> FleetRequest {
        let (document, syntax) = IniDocument.parse(text, path: path)
        var reader = SectionReader(path: path, diagnostics: syntax)
        var request = FleetRequest()

        if let general = document.section("general") {
            reader.readGeneral(general, into: &request)
        } else {
            reader.diagnostics.append(
                Diagnostic(
                    .file(path: path, line: 1),
                    key: "[general]",
                    "section missing; expected [general] with net = CIDR and gw = IP"
                )
            )
        }
        var personaSections: [(deckyName: String, section: IniDocument.Section)] = []
        for section in document.sections where section.name != "general" {
            if section.name == "DEFAULT" {
                reader.diagnostics.append(
                    Diagnostic(
                        .file(path: path, line: section.line),
                        key: "[DEFAULT]",
                        "configparser's defaults section is not supported; expected the keys in each section that needs them"
                    )
                )
            } else if section.name.hasPrefix("custom-") {
                if let custom = reader.readCustom(section) { request.customServices.append(custom) }
            } else if let dot = section.name.firstIndex(of: ".") {
                personaSections.append((String(section.name[..<dot]), section))
            } else if let decky = reader.readDecky(section) {
                request.deckies.append(decky)
            }
        }
        let customNames = Set(request.customServices.map(\.value.name))
        for (deckyName, section) in personaSections {
            let origin = SettingOrigin.file(path: path, line: section.line)
            let service = ServiceKind(
                String(section.name[section.name.index(after: section.name.firstIndex(of: ".")!)...]).lowercased()
            )
            guard let index = request.deckies.firstIndex(where: { $0.name == deckyName }) else {
                reader.diagnostics.append(
                    Diagnostic(
                        origin,
                        key: "[\(section.name)]",
                        "no decky section [\(deckyName)] in this file; expected a decky section of that name (or an amount = group) somewhere in the file"
                    )
                )
                continue
            }
            guard ServiceCatalogue.definition(for: service) != nil || customNames.contains(service) else {
                reader.diagnostics.append(
                    Diagnostic(
                        origin,
                        key: "[\(section.name)]",
                        "unknown service '\(service)'; expected a slug from `decnet services`"
                    )
                )
                continue
            }
            let settings = section.entries.map { entry in
                (
                    name: entry.key,
                    value: Located(
                        entry.value,
                        at: .file(path: path, line: entry.line),
                        key: "[\(section.name)] \(entry.key)"
                    )
                )
            }
            request.deckies[index].personas.append(
                PersonaSection(service: service, origin: origin, key: "[\(section.name)]", settings: settings)
            )
        }
        request.diagnostics = reader.diagnostics
        return request
    }

    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? any Error {
            let posix = underlying as NSError
            if posix.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(posix.code))) }
        }
        return nsError.localizedDescription
    }
}

/// Reads sections one by one, collecting diagnostics.
private struct SectionReader {
    let path: String
    var diagnostics: [Diagnostic]

    func located<T>(_ value: T, _ section: IniDocument.Section, _ entry: IniDocument.Entry) -> Located<T> {
        Located(value, at: .file(path: self.path, line: entry.line), key: "[\(section.name)] \(entry.key)")
    }

    mutating func problem(_ section: IniDocument.Section, _ entry: IniDocument.Entry, _ message: String) {
        self.diagnostics.append(
            Diagnostic(.file(path: self.path, line: entry.line), key: "[\(section.name)] \(entry.key)", message)
        )
    }

    mutating func rejectUnknownKeys(_ section: IniDocument.Section, accepted: [String]) {
        for entry in section.entries where !accepted.contains(entry.key) {
            self.problem(section, entry, "unknown key; expected one of " + accepted.joined(separator: ", "))
        }
    }

    mutating func readGeneral(_ section: IniDocument.Section, into request: inout FleetRequest) {
        self.rejectUnknownKeys(section, accepted: FleetFileLoader.generalKeys)
        let header = SettingOrigin.file(path: self.path, line: section.line)
        if let entry = section.entry("net") {
            if let net = IPv4Network(entry.value) {
                request.net = self.located(net, section, entry)
            } else {
                self.problem(
                    section,
                    entry,
                    "'\(entry.value)' is not a subnet; expected a CIDR with host bits zero, e.g. 192.168.1.0/24"
                )
            }
        } else {
            self.diagnostics.append(
                Diagnostic(header, key: "[general] net", "missing; expected net = CIDR, e.g. 192.168.1.0/24")
            )
        }
        if let entry = section.entry("gw") {
            if let gateway = IPv4Address(entry.value) {
                request.gateway = self.located(gateway, section, entry)
            } else {
                self.problem(section, entry, "'\(entry.value)' is not an IPv4 address; expected e.g. 192.168.1.1")
            }
        } else {
            self.diagnostics.append(
                Diagnostic(header, key: "[general] gw", "missing; expected gw = gateway IP, e.g. 192.168.1.1")
            )
        }
        if let entry = section.entry("interface") {
            if InputSyntax.isInterfaceName(entry.value) {
                request.interface = self.located(entry.value, section, entry)
            } else {
                self.problem(
                    section,
                    entry,
                    "'\(entry.value)' is not an interface name; expected 1-15 characters without '/', ':' or spaces, e.g. eth0"
                )
            }
        }
        if let entry = section.entry("log_target") {
            if let problem = InputSyntax.logTargetProblem(entry.value) {
                self.problem(section, entry, problem)
            } else {
                request.logTarget = self.located(entry.value, section, entry)
            }
        }
    }

    mutating func readCustom(_ section: IniDocument.Section) -> Located<CustomService>? {
        self.rejectUnknownKeys(section, accepted: FleetFileLoader.customKeys)
        let origin = SettingOrigin.file(path: self.path, line: section.line)
        let name = String(section.name.dropFirst("custom-".count)).lowercased()
        var valid = true
        if !InputSyntax.isName(name) {
            self.diagnostics.append(
                Diagnostic(
                    origin,
                    key: "[\(section.name)]",
                    "'\(name)' is not a service name; expected letters, digits, '-' or '_' after custom-"
                )
            )
            valid = false
        }
        let image = section.entry("binary")
        if image == nil || image?.value.isEmpty == true {
            self.diagnostics.append(
                Diagnostic(
                    origin,
                    key: "[\(section.name)] binary",
                    "missing; expected binary = container image, e.g. my-image:latest"
                )
            )
            valid = false
        }
        var ports: [PortSpec] = []
        if let entry = section.entry("ports") {
            for item in entry.value.split(separator: ",") {
                if let port = PortSpec(parsing: item.trimmingWhitespace()) {
                    ports.append(port)
                } else {
                    self.problem(
                        section,
                        entry,
                        "'\(item.trimmingWhitespace())' is not a port; expected numbers 1-65535, optionally /tcp or /udp"
                    )
                    valid = false
                }
            }
            if ports.isEmpty && valid {
                self.problem(section, entry, "no port listed; expected e.g. ports = 9999")
                valid = false
            }
        } else {
            self.diagnostics.append(
                Diagnostic(
                    origin,
                    key: "[\(section.name)] ports",
                    "missing; expected ports = the ports it listens on, e.g. 9999"
                )
            )
            valid = false
        }
        guard valid, let image else { return nil }
        let exec = section.entry("exec")?.value
        let custom = CustomService(
            name: ServiceKind(name),
            image: image.value,
            exec: exec?.isEmpty == true ? nil : exec,
            ports: ports
        )
        return Located(custom, at: origin, key: "[\(section.name)]")
    }

    mutating func readDecky(_ section: IniDocument.Section) -> DeckyRequest? {
        let origin = SettingOrigin.file(path: self.path, line: section.line)
        guard InputSyntax.isName(section.name), section.name.count <= 48 else {
            self.diagnostics.append(
                Diagnostic(
                    origin,
                    key: "[\(section.name)]",
                    "not a decky name; expected up to 48 letters, digits, '-' or '_'"
                )
            )
            return nil
        }
        self.rejectUnknownKeys(section, accepted: FleetFileLoader.deckyKeys)
        var decky = DeckyRequest(name: section.name, origin: origin)
        for entry in section.entries {
            let value = entry.value
            let reported = self.diagnostics.count
            defer { if self.diagnostics.count > reported { decky.invalidKeys.insert(entry.key) } }
            switch entry.key {
            case "ip":
                if let ip = IPv4Address(value) {
                    decky.ip = self.located(ip, section, entry)
                } else {
                    self.problem(section, entry, "'\(value)' is not an IPv4 address; expected e.g. 192.168.1.110")
                }
            case "services":
                let kinds = value.split(separator: ",").map { ServiceKind($0.trimmingWhitespace().lowercased()) }
                    .filter { !$0.rawValue.isEmpty }
                decky.services = self.located(kinds, section, entry)
            case "archetype":
                if let archetype = ArchetypeCatalogue.archetype(for: value.lowercased()) {
                    decky.archetype = self.located(archetype, section, entry)
                } else {
                    self.problem(
                        section,
                        entry,
                        "unknown archetype '\(value)'; expected one of "
                            + ArchetypeCatalogue.all.map(\.slug).joined(separator: ", ")
                    )
                }
            case "nmap_os":
                if let family = OSFamily(rawValue: value.lowercased()) {
                    decky.nmapOS = self.located(family, section, entry)
                } else {
                    self.problem(
                        section,
                        entry,
                        "unknown OS family '\(value)'; expected one of "
                            + OSFamily.allCases.map(\.rawValue).joined(separator: ", ")
                    )
                }
            case "amount":
                if let amount = Int(value) {
                    decky.amount = self.located(amount, section, entry)
                } else {
                    self.problem(section, entry, "'\(value)' is not a number; expected a whole number from 1 to 4096")
                }
            case "distro":
                if let distro = DistroCatalogue.profile(for: value.lowercased()) {
                    decky.distro = self.located(distro, section, entry)
                } else {
                    self.problem(
                        section,
                        entry,
                        "unknown distro '\(value)'; expected one of "
                            + DistroCatalogue.all.map(\.slug).joined(separator: ", ")
                    )
                }
            case "hostname":
                if InputSyntax.isHostname(value) {
                    decky.hostname = self.located(value, section, entry)
                } else {
                    self.problem(
                        section,
                        entry,
                        "'\(value)' is not a hostname; expected letters, digits and '-', up to 63 per label"
                    )
                }
            case "mac":
                if let mac = MACAddress(value), mac.isUnicast {
                    decky.mac = self.located(mac, section, entry)
                } else {
                    self.problem(
                        section,
                        entry,
                        "'\(value)' is not a unicast MAC address; expected e.g. 00:14:22:0a:0b:0c"
                    )
                }
            case "os_shaping":
                switch value.lowercased() {
                case "on", "true", "yes", "1": decky.osShaping = self.located(true, section, entry)
                case "off", "false", "no", "0": decky.osShaping = self.located(false, section, entry)
                default: self.problem(section, entry, "'\(value)' is not on or off")
                }
            default:
                break  // reported by rejectUnknownKeys
            }
        }
        return decky
    }
}
