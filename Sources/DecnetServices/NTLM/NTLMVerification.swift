import CNettle
import Crypto

extension NTLM {
    /// The NT hash of a password: MD4 of its UTF-16LE form (MS-NLMP 3.3.1).
    public static func ntHash(password: String) -> [UInt8] {
        let input = self.encode(password, true)
        var context = md4_ctx()
        nettle_md4_init(&context)
        input.withUnsafeBufferPointer { nettle_md4_update(&context, $0.count, $0.baseAddress) }
        var digest = [UInt8](repeating: 0, count: 16)
        digest.withUnsafeMutableBufferPointer { nettle_md4_digest(&context, 16, $0.baseAddress) }
        return digest
    }

    /// Whether a NetNTLMv2 response was computed from this password (MS-NLMP 3.3.2): the NTProofStr is
    /// HMAC-MD5 keyed with HMAC-MD5(NT hash, upper-cased user + domain) over the server challenge and the blob.
    /// What a persona's accepted logins are checked with, and how tests prove a captured hash is exact.
    public static func verifiesV2(
        _ message: Authenticate,
        serverChallenge: [UInt8],
        password: String
    ) -> Bool {
        guard message.ntResponse.count > 24 else { return false }
        let identity = self.encode(message.userName.uppercased() + message.domainName, true)
        let key = HMAC<Insecure.MD5>.authenticationCode(
            for: identity,
            using: SymmetricKey(data: self.ntHash(password: password))
        )
        let proof = HMAC<Insecure.MD5>.authenticationCode(
            for: serverChallenge + message.ntResponse[16...],
            using: SymmetricKey(data: Array(key))
        )
        return Array(proof) == Array(message.ntResponse[0..<16])
    }
}
