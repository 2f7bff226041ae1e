import DecnetStore
import Foundation
import HTTPTypes
import Hummingbird
import JWTKit

/// Every route behind it needs a valid token: `Authorization: Bearer …`, or the dashboard's `decnet_token` cookie
/// (HttpOnly, SameSite=Strict). A cookie alone never authorises a state-changing request: those also need the
/// `X-Requested-With: decnet` header, which another site's page cannot send without a CORS preflight we never
/// grant. A user who must change the password reaches only `auth/me` and `auth/change-password`.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    let tokens: TokenService
    let users: UserDirectory

    static let cookieName = "decnet_token"
    static let passwordChangePaths: Set<String> = ["/api/v1/auth/me", "/api/v1/auth/change-password"]

    func handle(
        _ request: Request,
        context: APIRequestContext,
        next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        let (token, viaCookie) = Self.token(in: request)
        guard let token else { throw APIError.unauthorized("a bearer token is required (POST /api/v1/auth/login)") }
        let user = try await Self.user(of: token, tokens: self.tokens, users: self.users)
        if viaCookie && request.method != .get && request.method != .head
            && request.headers[APIHeaders.requestedWith] != "decnet"
        {
            throw APIError.forbidden("a state-changing request with the session cookie needs X-Requested-With: decnet")
        }
        if user.mustChangePassword && !Self.passwordChangePaths.contains(request.uri.path) {
            throw APIError.forbidden("the password must be changed first (POST /api/v1/auth/change-password)")
        }
        context.identity = Identity(
            username: user.username,
            role: user.role,
            mustChangePassword: user.mustChangePassword
        )
        context.viaCookie = viaCookie
        return try await next(request, context)
    }

    /// The user a token names, or 401 saying why not: invalid, expired, or older than the user's last password
    /// change (or the user is gone). The API's middleware and the dashboard's pages both ask here.
    static func user(of token: String, tokens: TokenService, users: UserDirectory) async throws -> APIUser {
        guard let claims = await tokens.verify(token) else {
            throw APIError.unauthorized("the token is invalid or has expired; log in again")
        }
        guard let user = try await users.user(claims.sub.value), user.tokenVersion == claims.ver else {
            throw APIError.unauthorized("the token is no longer valid (the user changed or was removed); log in again")
        }
        return user
    }

    /// The bearer token of the Authorization header, else the session cookie's.
    static func token(in request: Request) -> (String?, Bool) {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                return (String(parts[1]).trimmingCharacters(in: .whitespaces), false)
            }
            return (nil, false)
        }
        if let value = Self.cookie(Self.cookieName, in: request) { return (value, true) }
        return (nil, false)
    }

    static func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                    return String(parts[1]).trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }
}
