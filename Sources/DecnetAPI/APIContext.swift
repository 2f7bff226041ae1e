import DecnetCore
import DecnetStore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Who a request's token names.
public struct Identity: Sendable, Equatable {
    public var username: String
    public var role: APIUser.Role
    public var mustChangePassword: Bool
}

/// The request context of every API and dashboard route: the identity the authentication middleware found and
/// the peer's address (for the login rate limit).
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Identity?
    /// True when the identity came from the dashboard's cookie rather than a bearer header.
    public var viaCookie = false
    public let remoteIP: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteIP = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    public var requestDecoder: JSONDecoder { APIJSON.decoder }
    public var responseEncoder: JSONEncoder { APIJSON.encoder }
    /// Request bodies are small JSON documents or an INI file.
    public var maxUploadSize: Int { 1 << 20 }

    /// The identity, or 401 (the authentication middleware sets it on every protected route).
    public func requireIdentity() throws -> Identity {
        guard let identity = self.identity else { throw APIError.unauthorized("authentication required") }
        return identity
    }

    /// The identity when it is an admin's, or 403.
    public func requireAdmin() throws -> Identity {
        let identity = try self.requireIdentity()
        guard identity.role == .admin else { throw APIError.forbidden("this action needs the admin role") }
        return identity
    }
}

/// JSON as the API writes it: keys as declared (snake_case), dates as RFC 3339 UTC with microseconds, keys sorted
/// (stable output for caches and tests).
enum APIJSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(APIDate.text(date))
        }
        return encoder
    }()

    static let decoder: JSONDecoder = JSONDecoder()
}

/// Dates in the API: the store's RFC 3339 form.
enum APIDate {
    static func text(_ date: Date) -> String { RFC5424Formatter.timestamp(date) }

    /// `2026-11-21T10:00:00Z` (UTC, with or without a fraction), or seconds since 1970.
    static func parse(_ text: some StringProtocol) -> Date? {
        if let seconds = Double(text), seconds.isFinite, abs(seconds) < 1e11 {
            return Date(timeIntervalSince1970: seconds)
        }
        return RFC5424Parser.time(String(text))
    }
}

/// An error the API answers with: a status and a `{"detail": "..."}` body, as the seed's API does.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var detail: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.detail = detail
        self.headers = headers
    }

    public static func badRequest(_ detail: String) -> APIError { APIError(.badRequest, detail) }
    public static func notFound(_ detail: String) -> APIError { APIError(.notFound, detail) }
    public static func forbidden(_ detail: String) -> APIError { APIError(.forbidden, detail) }
    public static func conflict(_ detail: String) -> APIError { APIError(.conflict, detail) }
    public static func unauthorized(_ detail: String) -> APIError {
        APIError(.unauthorized, detail, headers: [.wwwAuthenticate: "Bearer"])
    }
}

/// The body of every error response.
struct ErrorBody: Codable, ResponseEncodable {
    var detail: String
}

/// Turns every error into a JSON answer: ours with their status, Hummingbird's (an unknown route, a body that is
/// not the expected JSON) with theirs, anything else as 500 without internals (logged).
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(
        _ request: Request,
        context: APIRequestContext,
        next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return Self.response(error.status, error.detail, headers: error.headers)
        } catch let error as HTTPError {
            let detail = error.body ?? error.status.reasonPhrase
            return Self.response(error.status, detail, headers: error.headers)
        } catch let error as any HTTPResponseError {
            return Self.response(error.status, error.status.reasonPhrase)
        } catch let error as DecodingError {
            return Self.response(.badRequest, "the request body is not valid: \(Self.describe(error))")
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return Self.response(.internalServerError, "internal error")
        }
    }

    static func response(_ status: HTTPResponse.Status, _ detail: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        let data = (try? APIJSON.encoder.encode(ErrorBody(detail: detail))) ?? Data("{}".utf8)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case .dataCorrupted(let context):
            context.codingPath.isEmpty
                ? "not JSON" : "bad value at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        @unknown default: "unreadable"
        }
    }
}
