import DecnetCore

/// SMB1 (MS-CIFS, MS-SMB) for the releases that had it on: the NT LM 0.12 NEGOTIATE with and without extended
/// security, and SESSION_SETUP_ANDX in both forms, as Windows writes them.
enum SMB1 {
    static let negotiate: UInt8 = 0x72
    static let sessionSetup: UInt8 = 0x73
    static let logoff: UInt8 = 0x74
    static let treeConnect: UInt8 = 0x75
    static let treeDisconnect: UInt8 = 0x71
    static let echo: UInt8 = 0x2B

    /// A reply to `request`: header (with NT status, our flags and the request's ids), parameter words, data.
    static func reply(
        _ request: SMB1Message,
        status: UInt32,
        userID: UInt16? = nil,
        flags: UInt8 = 0x98,
        words: [UInt8] = [],
        data: [UInt8] = []
    ) -> [UInt8] {
        var out = SMB1Message.protocolID
        out.append(request.command)
        out.appendLE32(status)
        out.append(flags)
        // Unicode, NT status, extended security, long names and EAs as the client asked; NT status always.
        out.appendLE16((request.flags2 & 0x8843) | 0x4001)
        out.appendLE16(request.processIDHigh)
        out.append(contentsOf: [UInt8](repeating: 0, count: 10))
        out.appendLE16(request.treeID)
        out.appendLE16(request.processID)
        out.appendLE16(userID ?? request.userID)
        out.appendLE16(request.multiplexID)
        out.append(UInt8(words.count / 2))
        out.append(contentsOf: words)
        out.appendLE16(UInt16(data.count))
        out.append(contentsOf: data)
        return out
    }

    /// NUL-terminated strings in the client's encoding (UTF-16LE aligned to the header when Unicode), starting with
    /// the padding that alignment needs at data offset `start`.
    static func strings(_ values: [String], unicode: Bool, start: Int) -> [UInt8] {
        var out: [UInt8] = []
        if unicode && start % 2 == 1 { out.append(0) }
        for value in values {
            out += NTLM.encode(value, unicode)
            out += unicode ? [0, 0] : [0]
        }
        return out
    }

    /// Reads NUL-terminated strings from a request's data at `offset`, in its encoding; at most `count`.
    static func readStrings(_ message: SMB1Message, from offset: Int, count: Int) -> [String] {
        var values: [String] = []
        var at = offset
        if message.unicode && (message.dataOffset + at) % 2 == 1 { at += 1 }
        while values.count < count, at < message.data.count {
            if message.unicode {
                var end = at
                while end + 1 < message.data.count, message.data[end] != 0 || message.data[end + 1] != 0 { end += 2 }
                values.append(NTLM.decode(Array(message.data[at..<min(end, message.data.count)]), .unicode))
                at = end + 2
            } else {
                let end = message.data[at...].firstIndex(of: 0) ?? message.data.count
                values.append(String(decoding: message.data[at..<end], as: UTF8.self))
                at = end + 1
            }
        }
        return values
    }

    /// The NT LM 0.12 NEGOTIATE response (MS-SMB 2.2.4.5.2). Servers announce 16644-byte buffers and large-file,
    /// NT-find and other capabilities (0x0001f3fc), workstations 4356 and 0x0001e3fc: what nmap's -sV reads.
    static func negotiateResponse(
        _ request: SMB1Message,
        dialectIndex: Int,
        identity: WindowsIdentity,
        configuration: SMBService.Configuration,
        challenge: [UInt8],
        time: UInt64
    ) -> [UInt8] {
        let server = identity.osVersion.contains("Server")
        var capabilities: UInt32 = server ? 0x0001_F3FC : 0x0001_E3FC
        if request.extendedSecurity { capabilities |= 0x8000_0000 }
        var words: [UInt8] = []
        words.appendLE16(UInt16(dialectIndex))
        words.append(configuration.signingRequired ? 0x0F : 0x03)
        words.appendLE16(50)
        words.appendLE16(1)
        words.appendLE32(server ? 16644 : 4356)
        words.appendLE32(65536)
        words.appendLE32(0)
        words.appendLE32(capabilities)
        words.appendLE64(time)
        words.appendLE16(0)
        var data: [UInt8]
        if request.extendedSecurity {
            words.append(0)
            data = configuration.serverGUID + SPNEGO.negTokenInit2(domainController: configuration.domainController)
        } else {
            words.append(8)
            data =
                challenge + NTLM.encode(identity.netbiosDomain, true) + [0, 0] + NTLM.encode(identity.netbiosName, true)
                + [0, 0]
        }
        return self.reply(request, status: NTStatus.success, flags: 0x88, words: words, data: data)
    }

    /// What a SESSION_SETUP_ANDX request carries.
    enum SessionSetup: Equatable {
        /// Extended security (12 words): the security blob and the client's OS strings.
        case extended(blob: [UInt8], nativeOS: String?, nativeLanMan: String?)
        /// The older form (13 words): the LM and NT responses (or a plaintext password) and the names.
        case basic(lm: [UInt8], nt: [UInt8], user: String, domain: String, nativeOS: String?, nativeLanMan: String?)
    }

    static func sessionSetup(_ message: SMB1Message) -> SessionSetup? {
        switch message.wordCount {
        case 12:
            let length = Int(message.words.le16(14))
            guard length <= message.data.count else { return nil }
            let names = self.readStrings(message, from: length, count: 2)
            return .extended(
                blob: Array(message.data[0..<length]),
                nativeOS: names.first,
                nativeLanMan: names.count > 1 ? names[1] : nil
            )
        case 13:
            let lmLength = Int(message.words.le16(14)), ntLength = Int(message.words.le16(16))
            guard lmLength <= 1024, ntLength <= 8192, lmLength + ntLength <= message.data.count else { return nil }
            let lm = Array(message.data[0..<lmLength])
            let nt = Array(message.data[lmLength..<(lmLength + ntLength)])
            let names = self.readStrings(message, from: lmLength + ntLength, count: 4)
            func name(_ index: Int) -> String? { names.count > index ? names[index] : nil }
            return .basic(
                lm: lm,
                nt: nt,
                user: name(0) ?? "",
                domain: name(1) ?? "",
                nativeOS: name(2),
                nativeLanMan: name(3)
            )
        default:
            return nil
        }
    }

    /// A SESSION_SETUP_ANDX response: 3 words (basic) or 4 with the blob length (extended), then the blob, the
    /// server's NativeOS and NativeLanMan, and for the basic form its primary domain.
    static func sessionSetupResponse(
        _ request: SMB1Message,
        status: UInt32,
        userID: UInt16,
        blob: [UInt8]?,
        identity: WindowsIdentity
    ) -> [UInt8] {
        let wordCount = blob == nil ? 3 : 4
        let dataStart = 35 + 2 * wordCount
        var data = blob ?? []
        var names = [identity.nativeOS, identity.nativeLanMan]
        if blob == nil { names.append(identity.netbiosDomain) }
        data += self.strings(names, unicode: request.unicode, start: dataStart + data.count)
        var words: [UInt8] = [0xFF, 0]
        words.appendLE16(UInt16(dataStart + data.count))
        words.appendLE16(0)  // Action: not a guest
        if let blob { words.appendLE16(UInt16(blob.count)) }
        return self.reply(request, status: status, userID: userID, words: words, data: data)
    }
}
