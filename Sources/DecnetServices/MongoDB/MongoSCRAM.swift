import Crypto
import DecnetCore
import DecnetServiceKit
import Foundation
import _CryptoExtras

/// One SCRAM-SHA-1 or SCRAM-SHA-256 conversation (RFC 5802, RFC 7677) as mongod runs it: the client-first
/// message answered with the user's salt and iteration count, the client-final message's proof checked against
/// the persona's `users`, and everything needed to test a guessed password against the proof offline kept for
/// the login event (user, both nonces, salt, iterations, the AuthMessage and the proof).
struct SCRAMConversation {
    enum Mechanism: String {
        case sha1 = "SCRAM-SHA-1"
        case sha256 = "SCRAM-SHA-256"

        /// mongod's stored iteration counts (`scramIterationCount`, `scramSHA256IterationCount` defaults).
        var iterations: Int { self == .sha1 ? 10_000 : 15_000 }
        /// mongod's salts are the hash's length less four bytes.
        var saltLength: Int { self == .sha1 ? 16 : 28 }
    }

    enum Outcome: Equatable {
        case accepted(serverFinal: String)
        case refused
    }

    let mechanism: Mechanism
    let database: String
    let user: String
    let clientNonce: String
    let nonce: String
    let salt: [UInt8]
    let clientFirstBare: String
    let serverFirst: String
    let skipEmptyExchange: Bool
    var awaitingEmptyExchange = false
    private(set) var clientFinalWithoutProof = ""
    private(set) var proof = ""

    init?(
        mechanism: Mechanism,
        clientFirst payload: [UInt8],
        database: String,
        saltSeed: [UInt8],
        skipEmptyExchange: Bool,
        serverNonce: [UInt8]? = nil
    ) {
        guard payload.count <= 4096 else { return nil }
        let message = String(decoding: payload, as: UTF8.self)
        // gs2-header: "n,," (or "y,,"; channel binding "p=" is refused), then the bare message.
        let parts = message.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "n" || parts[0] == "y" else { return nil }
        let bare = String(parts[2])
        let attributes = Self.attributes(bare)
        guard let name = attributes["n"], let clientNonce = attributes["r"], !clientNonce.isEmpty else { return nil }
        self.mechanism = mechanism
        self.database = database
        self.user = name.replacingOccurrences(of: "=2C", with: ",").replacingOccurrences(of: "=3D", with: "=")
        self.clientNonce = clientNonce
        let random = serverNonce ?? (0..<24).map { _ in UInt8.random(in: 0...255) }
        self.nonce = clientNonce + Data(random).base64EncodedString()
        var hasher = SHA256()
        hasher.update(data: saltSeed)
        hasher.update(data: Array(mechanism.rawValue.utf8) + [0] + Array(self.user.utf8))
        self.salt = Array(Array(hasher.finalize()).prefix(mechanism.saltLength))
        self.clientFirstBare = bare
        self.serverFirst = "r=\(self.nonce),s=\(Data(self.salt).base64EncodedString()),i=\(mechanism.iterations)"
        self.skipEmptyExchange = skipEmptyExchange
    }

    static func attributes(_ message: String) -> [String: String] {
        var attributes: [String: String] = [:]
        for part in message.split(separator: ",") {
            guard let equals = part.firstIndex(of: "="), part.distance(from: part.startIndex, to: equals) == 1 else {
                continue
            }
            let key = String(part[..<equals])
            if attributes[key] == nil { attributes[key] = String(part[part.index(after: equals)...]) }
        }
        return attributes
    }

    var authMessage: String { self.clientFirstBare + "," + self.serverFirst + "," + self.clientFinalWithoutProof }

    /// Reads the client-final message and checks its proof against each accepted password of this user.
    mutating func clientFinal(_ payload: [UInt8], users: AcceptedCredentials) -> Outcome {
        let message = String(decoding: payload.prefix(4096), as: UTF8.self)
        guard let range = message.range(of: ",p=") else { return .refused }
        self.clientFinalWithoutProof = String(message[..<range.lowerBound])
        self.proof = String(message[range.upperBound...])
        let attributes = Self.attributes(self.clientFinalWithoutProof)
        guard attributes["r"] == self.nonce, let proof = Data(base64Encoded: self.proof) else { return .refused }
        for pair in users.pairs where pair.user == self.user && pair.password != "*" {
            let keys = Self.keys(
                mechanism: self.mechanism,
                user: self.user,
                password: pair.password,
                salt: self.salt
            )
            let signature = Self.hmac(self.mechanism, key: keys.storedKey, Array(self.authMessage.utf8))
            let expected = zip(keys.clientKey, signature).map { $0 ^ $1 }
            if expected == Array(proof) {
                let serverSignature = Self.hmac(self.mechanism, key: keys.serverKey, Array(self.authMessage.utf8))
                return .accepted(serverFinal: "v=" + Data(serverSignature).base64EncodedString())
            }
        }
        return .refused
    }

    /// The login event's fields: enough to test a password offline (`SCRAMConversation.proofMatches`).
    var captureFields: EventFields {
        var fields = EventFields()
        fields.add("username", attackerText: self.user)
        fields.add("method", self.mechanism.rawValue)
        fields.add("client_nonce", attackerText: self.clientNonce)
        fields.add("salt", Data(self.salt).base64EncodedString())
        fields.add("iterations", String(self.mechanism.iterations))
        fields.add("auth_message", attackerText: self.authMessage)
        fields.add("proof", attackerText: self.proof)
        return fields
    }

    // MARK: - The SCRAM computation

    /// SaltedPassword's derived keys. SCRAM-SHA-1 in MongoDB digests the password first:
    /// `hex(md5(user + ":mongo:" + password))`.
    static func keys(
        mechanism: Mechanism,
        user: String,
        password: String,
        salt: [UInt8]
    ) -> (clientKey: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) {
        let secret: [UInt8]
        switch mechanism {
        case .sha1:
            let digest = Insecure.MD5.hash(data: Array("\(user):mongo:\(password)".utf8))
            secret = Array(digest.map { String(format: "%02x", $0) }.joined().utf8)
        case .sha256:
            secret = Array(password.utf8)
        }
        let hash: KDF.Insecure.PBKDF2.HashFunction = mechanism == .sha1 ? .insecureSHA1 : .sha256
        let length = mechanism == .sha1 ? 20 : 32
        let salted =
            (try? KDF.Insecure.PBKDF2.deriveKey(
                from: secret,
                salt: salt,
                using: hash,
                outputByteCount: length,
                unsafeUncheckedRounds: mechanism.iterations
            ))?.withUnsafeBytes { Array($0) } ?? []
        let clientKey = Self.hmac(mechanism, key: salted, Array("Client Key".utf8))
        let storedKey: [UInt8] =
            mechanism == .sha1 ? Array(Insecure.SHA1.hash(data: clientKey)) : Array(SHA256.hash(data: clientKey))
        let serverKey = Self.hmac(mechanism, key: salted, Array("Server Key".utf8))
        return (clientKey, storedKey, serverKey)
    }

    static func hmac(_ mechanism: Mechanism, key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        let symmetric = SymmetricKey(data: key)
        switch mechanism {
        case .sha1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: symmetric))
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: message, using: symmetric))
        }
    }

    /// Whether a guessed password produces the captured proof: what an analyst (or the tests) runs offline on a
    /// login event's fields.
    static func proofMatches(
        mechanism: Mechanism,
        user: String,
        password: String,
        salt: [UInt8],
        authMessage: String,
        proof: String
    ) -> Bool {
        guard let proof = Data(base64Encoded: proof) else { return false }
        let keys = Self.keys(mechanism: mechanism, user: user, password: password, salt: salt)
        let signature = Self.hmac(mechanism, key: keys.storedKey, Array(authMessage.utf8))
        return zip(keys.clientKey, signature).map { $0 ^ $1 } == Array(proof)
    }
}
