import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The ports of an `nmap -oX` report: state, service name, product and version as nmap detected them.
public struct NmapXML {
    public struct Port: Equatable, Sendable {
        public var port: Int
        public var proto: String
        public var state: String
        public var name: String?
        public var product: String?
        public var version: String?
    }

    public struct Host: Equatable, Sendable {
        public var address: String
        public var mac: String?
        public var vendor: String?
        public var osMatches: [String]
        public var ports: [Port]
    }

    public private(set) var hosts: [Host] = []
    public var ports: [Port] { self.hosts.flatMap(\.ports) }

    public init(_ xml: String) throws {
        let parser = XMLParser(data: Data(xml.utf8))
        let delegate = Delegate()
        parser.delegate = delegate
        guard parser.parse() else {
            throw CocoaError(
                .coderReadCorrupt,
                userInfo: [
                    NSDebugDescriptionErrorKey: "nmap XML did not parse: \(parser.parserError.map { "\($0)" } ?? "?")"
                ]
            )
        }
        self.hosts = delegate.hosts
    }

    private final class Delegate: NSObject, XMLParserDelegate {
        var hosts: [Host] = []
        var current: Host?
        var port: Port?

        func parser(
            _ parser: XMLParser,
            didStartElement name: String,
            namespaceURI: String?,
            qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            switch name {
            case "host": self.current = Host(address: "", mac: nil, vendor: nil, osMatches: [], ports: [])
            case "address":
                if attributes["addrtype"] == "mac" {
                    self.current?.mac = attributes["addr"]
                    self.current?.vendor = attributes["vendor"]
                } else {
                    self.current?.address = attributes["addr"] ?? ""
                }
            case "port":
                self.port = Port(
                    port: Int(attributes["portid"] ?? "") ?? 0,
                    proto: attributes["protocol"] ?? "",
                    state: ""
                )
            case "state": self.port?.state = attributes["state"] ?? ""
            case "service":
                self.port?.name = attributes["name"]
                self.port?.product = attributes["product"]
                self.port?.version = attributes["version"]
            case "osmatch": if let match = attributes["name"] { self.current?.osMatches.append(match) }
            default: break
            }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "port", let port = self.port {
                self.current?.ports.append(port)
                self.port = nil
            } else if name == "host", let host = self.current {
                self.hosts.append(host)
                self.current = nil
            }
        }
    }
}
