import CNettle
import Crypto

extension NTLM {
    /// RC4 (MS-NLMP 3.4 uses it to unwrap the exported session key and to seal signatures), from nettle:
    /// swift-crypto does not have it.
    static func rc4(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        guard !key.isEmpty, !data.isEmpty else { return data }
        var context = arcfour_ctx()
        key.withUnsafeBufferPointer { nettle_arcfour_set_key(&context, $0.count, $0.baseAddress) }
        var out = [UInt8](repeating: 0, count: data.count)
        data.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer {
                nettle_arcfour_crypt(&context, input.count, $0.baseAddress, input.baseAddress)
            }
        }
        return out
    }

    /// The ExportedSessionKey of a NetNTLMv2 login the server knows the password of (MS-NLMP 3.3.2 and 3.2.5.1.2):
    /// the session base key (HMAC-MD5 of the NTProofStr under the response key), unwrapped from the client's
    /// EncryptedRandomSessionKey when it negotiated key exchange. Nil when the response is not NTLMv2.
    public static func exportedSessionKey(_ message: Authenticate, password: String) -> [UInt8]? {
        guard message.ntResponse.count > 24 else { return nil }
        let identity = self.encode(message.userName.uppercased() + message.domainName, true)
        let responseKey = HMAC<Insecure.MD5>.authenticationCode(
            for: identity,
            using: SymmetricKey(data: self.ntHash(password: password))
        )
        let baseKey = Array(
            HMAC<Insecure.MD5>.authenticationCode(
                for: message.ntResponse[0..<16],
                using: SymmetricKey(data: Array(responseKey))
            )
        )
        if message.flags.contains(.keyExchange), message.encryptedSessionKey.count == 16 {
            return self.rc4(key: baseKey, message.encryptedSessionKey)
        }
        return baseKey
    }

    /// The server's first signature (sequence number 0) over `message` with extended session security
    /// (MS-NLMP 3.4.4.2): what SPNEGO's mechListMIC carries when the server answers a client that sent one.
    public static func serverSignature(exportedSessionKey key: [UInt8], flags: Flags, over message: [UInt8]) -> [UInt8]
    {
        let signingKey = Array(
            Insecure.MD5.hash(
                data: key + Array("session key to server-to-client signing key magic constant".utf8) + [0]
            )
        )
        let sealingKey = Array(
            Insecure.MD5.hash(
                data: key + Array("session key to server-to-client sealing key magic constant".utf8) + [0]
            )
        )
        let sequence: [UInt8] = [0, 0, 0, 0]
        var checksum = Array(
            HMAC<Insecure.MD5>.authenticationCode(for: sequence + message, using: SymmetricKey(data: signingKey))
                .prefix(8)
        )
        if flags.contains(.keyExchange) { checksum = self.rc4(key: sealingKey, checksum) }
        return [1, 0, 0, 0] + checksum + sequence
    }
}
