import CNettle
import Crypto

/// How an SMB2 session signs its messages (MS-SMB2 3.1.4.1): HMAC-SHA256 with the session key for 2.0.2 and 2.1,
/// AES-128-CMAC with a key derived by SP800-108 for 3.x (3.1.1 binds the key to the pre-authentication hash).
struct SMBSigning: Equatable, Sendable {
    enum Algorithm: Equatable, Sendable { case hmacSHA256, aesCMAC }

    let algorithm: Algorithm
    let key: [UInt8]

    /// The signing of a session with this session key, on this dialect, after this pre-authentication hash (3.1.1).
    init(sessionKey: [UInt8], dialect: UInt16, preauthHash: [UInt8]) {
        let sessionKey = Array(sessionKey.prefix(16)) + [UInt8](repeating: 0, count: max(0, 16 - sessionKey.count))
        switch dialect {
        case 0x0311:
            self.algorithm = .aesCMAC
            self.key = Self.kdf(sessionKey, label: Array("SMBSigningKey".utf8) + [0], context: preauthHash)
        case 0x0300, 0x0302:
            self.algorithm = .aesCMAC
            self.key = Self.kdf(
                sessionKey,
                label: Array("SMB2AESCMAC".utf8) + [0],
                context: Array("SmbSign".utf8) + [0]
            )
        default:
            self.algorithm = .hmacSHA256
            self.key = sessionKey
        }
    }

    /// SP800-108 in counter mode with HMAC-SHA256, one block, 128 bits out (MS-SMB2 3.1.4.2).
    static func kdf(_ key: [UInt8], label: [UInt8], context: [UInt8]) -> [UInt8] {
        var input: [UInt8] = [0, 0, 0, 1] + label + [0] + context
        input += [0, 0, 0, 128]
        return Array(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: key)).prefix(16))
    }

    /// Signs one SMB2 message in place: the SIGNED flag set, the signature field computed over the whole message
    /// (padding included, for a message inside a compound).
    func sign(_ message: inout [UInt8]) {
        guard message.count >= SMB2Header.size else { return }
        message[16] |= 0x08
        for index in 48..<64 { message[index] = 0 }
        let signature: [UInt8]
        switch self.algorithm {
        case .hmacSHA256:
            signature = Array(
                HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: self.key)).prefix(16)
            )
        case .aesCMAC:
            signature = Self.cmac(key: self.key, message)
        }
        message.replaceSubrange(48..<64, with: signature)
    }

    /// AES-128-CMAC (RFC 4493), from nettle.
    static func cmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var context = cmac_aes128_ctx()
        key.withUnsafeBufferPointer { nettle_cmac_aes128_set_key(&context, $0.baseAddress) }
        data.withUnsafeBufferPointer { nettle_cmac_aes128_update(&context, $0.count, $0.baseAddress) }
        var out = [UInt8](repeating: 0, count: 16)
        out.withUnsafeMutableBufferPointer { nettle_cmac_aes128_digest(&context, 16, $0.baseAddress) }
        return out
    }

    /// One step of the 3.1.1 pre-authentication integrity hash: SHA-512 of the previous value and the message.
    static func preauth(_ previous: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(SHA512.hash(data: previous + message))
    }

    static let initialPreauth = [UInt8](repeating: 0, count: 64)
}

/// SMB 3 encryption (MS-SMB2 3.1.4.3): the TRANSFORM_HEADER around a message, AES-128-CCM or AES-128-GCM with keys
/// derived from the session key (3.1.1 binds them to the pre-authentication hash). A Windows server decrypts
/// what a client encrypts and answers in kind, so clients that encrypt whenever a cipher is agreed (impacket)
/// work as they do against Windows.
struct SMBEncryption: Equatable, Sendable {
    /// AES-128-CCM (1) or AES-128-GCM (2).
    let cipher: UInt16
    /// The key the client encrypts with (the server decrypts with it), and the one the server encrypts with.
    let serverIn: [UInt8]
    let serverOut: [UInt8]

    init?(sessionKey: [UInt8], dialect: UInt16, cipher: UInt16, preauthHash: [UInt8]) {
        guard cipher == 1 || cipher == 2, dialect >= 0x0300 else { return nil }
        let key = Array(sessionKey.prefix(16)) + [UInt8](repeating: 0, count: max(0, 16 - sessionKey.count))
        self.cipher = cipher
        if dialect == 0x0311 {
            self.serverIn = SMBSigning.kdf(key, label: Array("SMBC2SCipherKey".utf8) + [0], context: preauthHash)
            self.serverOut = SMBSigning.kdf(key, label: Array("SMBS2CCipherKey".utf8) + [0], context: preauthHash)
        } else {
            self.serverIn = SMBSigning.kdf(
                key,
                label: Array("SMB2AESCCM".utf8) + [0],
                context: Array("ServerIn ".utf8) + [0]
            )
            self.serverOut = SMBSigning.kdf(
                key,
                label: Array("SMB2AESCCM".utf8) + [0],
                context: Array("ServerOut".utf8) + [0]
            )
        }
    }

    static let protocolID: [UInt8] = [0xFD, 0x53, 0x4D, 0x42]
    static let headerSize = 52

    /// The session a TRANSFORM_HEADER names, or nil when the bytes are not one.
    static func sessionID(_ message: [UInt8]) -> UInt64? {
        guard message.count > headerSize, Array(message[0..<4]) == protocolID else { return nil }
        return message.le64(44)
    }

    /// The plaintext of a client's encrypted message, or nil when it does not authenticate.
    func decrypt(_ message: [UInt8]) -> [UInt8]? {
        guard message.count > Self.headerSize else { return nil }
        let size = Int(message.le32(36))
        let ciphertext = Array(message[Self.headerSize...])
        guard size == ciphertext.count else { return nil }
        let tag = Array(message[4..<20]), nonce = Array(message[20..<36]), aad = Array(message[20..<52])
        return Self.open(
            cipher: self.cipher,
            key: self.serverIn,
            nonce: nonce,
            aad: aad,
            ciphertext: ciphertext,
            tag: tag
        )
    }

    /// A response chain wrapped in a TRANSFORM_HEADER for this session, with a fresh nonce.
    func encrypt(_ plaintext: [UInt8], sessionID: UInt64, nonce: [UInt8]) -> [UInt8] {
        let nonceLength = self.cipher == 1 ? 11 : 12
        let fullNonce =
            Array(nonce.prefix(nonceLength)) + [UInt8](repeating: 0, count: 16 - min(nonce.count, nonceLength))
        var header: [UInt8] = []
        header += fullNonce
        header.appendLE32(UInt32(plaintext.count))
        header.appendLE16(0)
        header.appendLE16(1)  // encrypted
        header.appendLE64(sessionID)
        let (ciphertext, tag) = Self.seal(
            cipher: self.cipher,
            key: self.serverOut,
            nonce: fullNonce,
            aad: header,
            plaintext: plaintext
        )
        return Self.protocolID + tag + header + ciphertext
    }

    static func open(
        cipher: UInt16,
        key: [UInt8],
        nonce: [UInt8],
        aad: [UInt8],
        ciphertext: [UInt8],
        tag: [UInt8]
    ) -> [UInt8]? {
        if cipher == 2 {
            guard
                let box = try? AES.GCM.SealedBox(
                    nonce: AES.GCM.Nonce(data: nonce.prefix(12)),
                    ciphertext: ciphertext,
                    tag: tag
                )
            else { return nil }
            return (try? AES.GCM.open(box, using: SymmetricKey(data: key), authenticating: aad)).map { Array($0) }
        }
        var context = ccm_aes128_ctx()
        key.withUnsafeBufferPointer { nettle_ccm_aes128_set_key(&context, $0.baseAddress) }
        let source = ciphertext + tag
        var out = [UInt8](repeating: 0, count: ciphertext.count)
        let nonce = Array(nonce.prefix(11))
        let valid = out.withUnsafeMutableBufferPointer { output in
            nettle_ccm_aes128_decrypt_message(
                &context,
                nonce.count,
                nonce,
                aad.count,
                aad,
                16,
                ciphertext.count,
                output.baseAddress,
                source
            )
        }
        return valid == 1 ? out : nil
    }

    static func seal(
        cipher: UInt16,
        key: [UInt8],
        nonce: [UInt8],
        aad: [UInt8],
        plaintext: [UInt8]
    ) -> (ciphertext: [UInt8], tag: [UInt8]) {
        if cipher == 2,
            let box = try? AES.GCM.seal(
                plaintext,
                using: SymmetricKey(data: key),
                nonce: AES.GCM.Nonce(data: nonce.prefix(12)),
                authenticating: aad
            )
        {
            return (Array(box.ciphertext), Array(box.tag))
        }
        var context = ccm_aes128_ctx()
        key.withUnsafeBufferPointer { nettle_ccm_aes128_set_key(&context, $0.baseAddress) }
        var out = [UInt8](repeating: 0, count: plaintext.count + 16)
        let nonce = Array(nonce.prefix(11))
        out.withUnsafeMutableBufferPointer { output in
            nettle_ccm_aes128_encrypt_message(
                &context,
                nonce.count,
                nonce,
                aad.count,
                aad,
                16,
                plaintext.count + 16,
                output.baseAddress,
                plaintext
            )
        }
        return (Array(out[0..<plaintext.count]), Array(out[plaintext.count...]))
    }
}
