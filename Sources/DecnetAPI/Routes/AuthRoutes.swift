import DecnetStore
import Foundation
import Hummingbird

extension APIServer {
    /// `POST /auth/login`: the one route without a token. Rate limited per client address and per username.
    func addLogin(to group: RouterGroup<APIRequestContext>) {
        group.post("auth/login") { request, context -> Response in
            let login = try await request.decode(as: LoginRequest.self, context: context)
            guard login.username.count <= 256, login.password.utf8.count <= 1024 else {
                throw APIError.badRequest("username or password too long")
            }
            if let wait = self.limiter.retryAfter(ip: context.remoteIP, username: login.username) {
                throw APIError(
                    .tooManyRequests,
                    "too many failed logins; try again in \(wait) s",
                    headers: [.retryAfter: String(wait)]
                )
            }
            guard let user = try await self.store.user(named: login.username),
                await self.users.verify(login.password, hash: user.passwordHash)
            else {
                self.limiter.failed(ip: context.remoteIP, username: login.username)
                throw APIError.unauthorized("wrong username or password")
            }
            self.limiter.succeeded(ip: context.remoteIP, username: login.username)
            let (token, expires) = try await self.tokens.issue(for: user)
            let body = LoginResponse(
                accessToken: token,
                expiresAt: expires,
                username: user.username,
                role: user.role.rawValue,
                mustChangePassword: user.mustChangePassword
            )
            var response = try body.response(from: request, context: context)
            response.headers[.setCookie] = Self.sessionCookie(token, maxAge: Int(self.settings.tokenLifetime))
            return response
        }
    }

    static func sessionCookie(_ token: String, maxAge: Int) -> String {
        "\(AuthenticationMiddleware.cookieName)=\(token); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict"
    }

    /// The rest of `/auth`: who am I, change password, log out, users (admin).
    func addAuth(to group: RouterGroup<APIRequestContext>) {
        group.get("auth/me") { _, context -> UserBody in
            let identity = try context.requireIdentity()
            guard let user = try await self.store.user(named: identity.username) else {
                throw APIError.unauthorized("the user no longer exists")
            }
            return UserBody(user)
        }
        group.post("auth/change-password") { request, context -> Message in
            let identity = try context.requireIdentity()
            let change = try await request.decode(as: ChangePasswordRequest.self, context: context)
            guard var user = try await self.store.user(named: identity.username) else {
                throw APIError.unauthorized("the user no longer exists")
            }
            guard change.oldPassword.utf8.count <= 1024,
                await self.users.verify(change.oldPassword, hash: user.passwordHash)
            else { throw APIError.badRequest("the old password is wrong") }
            if let problem = UserDirectory.problem(newPassword: change.newPassword, username: user.username) {
                throw APIError.badRequest(problem)
            }
            if change.newPassword == change.oldPassword {
                throw APIError.badRequest("the new password must differ from the old one")
            }
            user.passwordHash = await self.users.hash(change.newPassword)
            user.mustChangePassword = false
            user.tokenVersion += 1
            try await self.store.updateUser(user)
            self.users.forget(user.username)
            return Message(detail: "password changed; log in again with the new password")
        }
        group.post("auth/logout") { _, context -> Response in
            _ = try context.requireIdentity()
            var response = ErrorMiddleware.response(.ok, "logged out")
            response.headers[.setCookie] = Self.sessionCookie("", maxAge: 0)
            return response
        }
        group.get("auth/users") { _, context -> [UserBody] in
            _ = try context.requireAdmin()
            return try await self.store.users().map(UserBody.init)
        }
        group.post("auth/users") { request, context -> EditedResponse<UserBody> in
            _ = try context.requireAdmin()
            let new = try await request.decode(as: NewUserRequest.self, context: context)
            if let problem = UserDirectory.problem(username: new.username) { throw APIError.badRequest(problem) }
            guard let role = APIUser.Role(rawValue: new.role) else {
                throw APIError.badRequest("role must be admin or viewer")
            }
            if let problem = UserDirectory.problem(newPassword: new.password, username: new.username) {
                throw APIError.badRequest(problem)
            }
            // A new user chooses their own password at first login, as the first admin does.
            let user = APIUser(
                username: new.username,
                passwordHash: await self.users.hash(new.password),
                role: role,
                mustChangePassword: true
            )
            guard try await self.store.createUser(user) else {
                throw APIError.conflict("a user named '\(new.username)' exists")
            }
            return EditedResponse(status: .created, response: UserBody(user))
        }
        group.delete("auth/users/:username") { _, context -> Response in
            let identity = try context.requireAdmin()
            let username = try context.parameters.require("username")
            guard username != identity.username else { throw APIError.badRequest("you cannot delete yourself") }
            guard try await self.store.deleteUser(named: username) else {
                throw APIError.notFound("no user named '\(username)'")
            }
            self.users.forget(username)
            return Response(status: .noContent)
        }
    }
}
