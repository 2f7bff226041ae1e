import Foundation
import Hummingbird
import HummingbirdCore

/// Reads a request's query parameters, answering 400 with the parameter's name for a bad value.
struct QueryReader {
    let parameters: FlatDictionary<Substring, Substring>

    init(_ request: Request) {
        self.parameters = request.uri.queryParameters
    }

    func string(_ name: String, maximumLength: Int = 256) throws -> String? {
        guard let value = self.parameters[Substring(name)] else { return nil }
        guard value.count <= maximumLength else {
            throw APIError.badRequest("query parameter '\(name)' is longer than \(maximumLength) characters")
        }
        return value.isEmpty ? nil : String(value)
    }

    func all(_ name: String) -> [String] { self.parameters[values: Substring(name)].map { String($0) } }

    func integer(_ name: String, in range: ClosedRange<Int>, default value: Int) throws -> Int {
        guard let text = self.parameters[Substring(name)] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.badRequest(
                "query parameter '\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound)"
            )
        }
        return number
    }

    func date(_ name: String) throws -> Date? {
        guard let text = self.parameters[Substring(name)], !text.isEmpty else { return nil }
        guard let date = APIDate.parse(text) else {
            throw APIError.badRequest(
                "query parameter '\(name)' must be an RFC 3339 UTC time (2026-11-21T10:00:00Z) or seconds since 1970"
            )
        }
        return date
    }

    func boolean(_ name: String) throws -> Bool {
        guard let text = self.parameters[Substring(name)] else { return false }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no", "": return false
        default: throw APIError.badRequest("query parameter '\(name)' must be true or false")
        }
    }

    func choice<T: RawRepresentable & CaseIterable>(_ name: String, default value: T) throws -> T
    where T.RawValue == String {
        guard let text = self.parameters[Substring(name)] else { return value }
        guard let choice = T(rawValue: String(text)) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw APIError.badRequest("query parameter '\(name)' must be one of: \(allowed)")
        }
        return choice
    }
}
