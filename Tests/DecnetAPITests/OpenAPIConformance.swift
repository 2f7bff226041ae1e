import Foundation
import HummingbirdTesting
import Testing

/// Checks answers against the served OpenAPI document's schemas, for the subset the document uses: `$ref`,
/// `anyOf`, objects with `properties`, `required` and `additionalProperties`, arrays, strings (with `enum` and
/// `date-time`), integers, numbers, booleans and null. What schemathesis checks against a live server, at the
/// router level, on answers a test chose.
struct OpenAPIConformance {
    let schemas: [String: Any]

    init(_ client: some TestClientProtocol, token: String) async throws {
        let document = try #require(try await client.get("/api/v1/openapi.json", token: token).1 as? [String: Any])
        self.schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
    }

    /// Records an issue for every way `value` strays from the schema `name`.
    func expect(_ value: Any?, matches name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let problems = self.problems(value ?? NSNull(), ["$ref": "#/components/schemas/\(name)"], at: "$")
        #expect(problems.isEmpty, "not a \(name): \(problems.joined(separator: "; "))", sourceLocation: sourceLocation)
    }

    /// Records an issue unless `value` is an array of `name`s.
    func expect(_ value: Any?, isArrayOf name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let schema: [String: Any] = ["type": "array", "items": ["$ref": "#/components/schemas/\(name)"]]
        let problems = self.problems(value ?? NSNull(), schema, at: "$")
        #expect(problems.isEmpty, "not [\(name)]: \(problems.joined(separator: "; "))", sourceLocation: sourceLocation)
    }

    func problems(_ value: Any, _ schema: [String: Any], at path: String) -> [String] {
        if let reference = schema["$ref"] as? String {
            let name = String(reference.split(separator: "/").last ?? "")
            guard let target = self.schemas[name] as? [String: Any] else { return ["\(path): no schema \(name)"] }
            return self.problems(value, target, at: path)
        }
        if let choices = schema["anyOf"] as? [[String: Any]] {
            let failures = choices.map { self.problems(value, $0, at: path) }
            return failures.contains { $0.isEmpty }
                ? [] : ["\(path): matches no anyOf choice"] + failures.flatMap { $0 }
        }
        guard let type = schema["type"] as? String else { return [] }
        switch type {
        case "null":
            return value is NSNull ? [] : ["\(path): expected null"]
        case "boolean":
            return Self.kind(value) == "boolean" ? [] : ["\(path): expected a boolean, found \(value)"]
        case "integer":
            return Self.kind(value) == "integer" ? [] : ["\(path): expected an integer, found \(value)"]
        case "number":
            return ["integer", "number"].contains(Self.kind(value)) ? [] : ["\(path): expected a number"]
        case "string":
            guard let text = value as? String else { return ["\(path): expected a string, found \(value)"] }
            if let choices = schema["enum"] as? [String], !choices.contains(text) {
                return ["\(path): '\(text)' is not one of \(choices)"]
            }
            if schema["format"] as? String == "date-time",
                text.range(
                    of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"#,
                    options: .regularExpression
                )
                    == nil
            {
                return ["\(path): '\(text)' is not a date-time"]
            }
            return []
        case "array":
            guard let items = value as? [Any] else { return ["\(path): expected an array"] }
            let itemSchema = schema["items"] as? [String: Any] ?? [:]
            return items.enumerated().flatMap { self.problems($0.element, itemSchema, at: "\(path)[\($0.offset)]") }
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path): expected an object"] }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            var problems = (schema["required"] as? [String] ?? []).filter { object[$0] == nil }.map {
                "\(path).\($0) is missing"
            }
            for (key, item) in object.sorted(by: { $0.key < $1.key }) {
                if let property = properties[key] as? [String: Any] {
                    problems += self.problems(item, property, at: "\(path).\(key)")
                } else if let additional = schema["additionalProperties"] as? [String: Any] {
                    problems += self.problems(item, additional, at: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false {
                    problems.append("\(path).\(key) is not in the schema")
                }
            }
            return problems
        default:
            return ["\(path): unknown type \(type)"]
        }
    }

    /// What JSONSerialization made of a JSON value: its booleans and numbers are both NSNumbers.
    static func kind(_ value: Any) -> String {
        guard let number = value as? NSNumber, !(value is String) else { return "other" }
        switch String(cString: number.objCType) {
        case "c", "B": return "boolean"
        case "d", "f": return number.doubleValue.rounded() == number.doubleValue ? "integer" : "number"
        default: return "integer"
        }
    }
}
