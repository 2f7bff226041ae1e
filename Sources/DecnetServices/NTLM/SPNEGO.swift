import SwiftASN1

/// SPNEGO (RFC 4178, and MS-SPNG's NegTokenInit2) around NTLMSSP: the tokens a Windows server writes, and the NTLM
/// token inside whatever a client sends (SPNEGO-wrapped or bare, as some clients send it).
public enum SPNEGO {
    static let spnego: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 2]
    static let ntlmssp: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 311, 2, 2, 10]
    static let negoex: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 311, 2, 2, 30]
    static let kerberosMS: ASN1ObjectIdentifier = [1, 2, 840, 48018, 1, 2, 2]
    static let kerberos: ASN1ObjectIdentifier = [1, 2, 840, 113554, 1, 2, 2]
    static let kerberosUserToUser: ASN1ObjectIdentifier = [1, 2, 840, 113554, 1, 2, 2, 3]

    /// The hint Windows and Samba put in NegTokenInit2.
    static let hintName = "not_defined_in_RFC4178@please_ignore"

    /// NegTokenInit2 as an SMB2 NEGOTIATE response carries it. A domain controller lists Kerberos first, as real ones
    /// do; other hosts offer NTLMSSP alone (a Kerberos mechanism would make clients try tickets we cannot serve).
    public static func negTokenInit2(domainController: Bool) -> [UInt8] {
        let mechanisms = domainController ? [kerberosMS, kerberos, kerberosUserToUser, ntlmssp] : [ntlmssp]
        var serializer = DER.Serializer()
        try! serializer.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .application)) {
            try $0.serialize(spnego)
            try $0.appendConstructedNode(identifier: .contextSpecific(0)) {
                try $0.appendConstructedNode(identifier: .sequence) {
                    try $0.appendConstructedNode(identifier: .contextSpecific(0)) {
                        try $0.appendConstructedNode(identifier: .sequence) {
                            for mechanism in mechanisms { try $0.serialize(mechanism) }
                        }
                    }
                    $0.appendConstructedNode(identifier: .contextSpecific(3)) {
                        $0.appendConstructedNode(identifier: .sequence) {
                            $0.appendConstructedNode(identifier: .contextSpecific(0)) {
                                $0.appendPrimitiveNode(
                                    identifier: ASN1Identifier(tagWithNumber: 27, tagClass: .universal)
                                ) {
                                    $0.append(contentsOf: hintName.utf8)
                                }
                            }
                        }
                    }
                }
            }
        }
        return serializer.serializedBytes
    }

    /// negState values (RFC 4178 §4.2.2).
    public enum State: UInt8, Sendable { case acceptCompleted = 0, acceptIncomplete = 1, reject = 2 }

    /// NegTokenResp carrying the server's CHALLENGE (accept-incomplete, NTLMSSP chosen).
    public static func negTokenResp(state: State, responseToken: [UInt8]?, mechListMIC: [UInt8]? = nil) -> [UInt8] {
        var serializer = DER.Serializer()
        try! serializer.appendConstructedNode(identifier: .contextSpecific(1)) {
            try $0.appendConstructedNode(identifier: .sequence) {
                $0.appendConstructedNode(identifier: .contextSpecific(0)) {
                    $0.appendPrimitiveNode(identifier: .enumerated) { $0.append(state.rawValue) }
                }
                if state == .acceptIncomplete {
                    try $0.appendConstructedNode(identifier: .contextSpecific(1)) { try $0.serialize(ntlmssp) }
                }
                if let responseToken {
                    $0.appendConstructedNode(identifier: .contextSpecific(2)) {
                        $0.appendPrimitiveNode(identifier: .octetString) { $0.append(contentsOf: responseToken) }
                    }
                }
                if let mechListMIC {
                    $0.appendConstructedNode(identifier: .contextSpecific(3)) {
                        $0.appendPrimitiveNode(identifier: .octetString) { $0.append(contentsOf: mechListMIC) }
                    }
                }
            }
        }
        return serializer.serializedBytes
    }

    /// What a client's security blob holds.
    public struct ClientToken: Sendable, Equatable {
        /// The NTLMSSP message inside, if any.
        public var ntlm: [UInt8]?
        /// Whether it came wrapped in SPNEGO (the reply then must be too).
        public var wrapped: Bool
        /// The mechanisms a NegTokenInit offered, as dotted OIDs.
        public var mechanisms: [String]
        /// The NegTokenInit's MechTypeList as the client encoded it (what the mechListMICs sign).
        public var mechTypes: [UInt8]? = nil
        /// Whether a NegTokenResp carried a mechListMIC (the server must then answer with its own).
        public var hasMechListMIC = false
    }

    /// Reads a client's security blob: a NegTokenInit (`0x60`), a NegTokenResp (`0xA1`) or a bare NTLMSSP message.
    /// Anything else, or DER that does not parse, yields no token (the caller answers as Windows does to junk).
    public static func clientToken(_ blob: [UInt8]) -> ClientToken {
        if NTLM.messageType(blob) != nil { return ClientToken(ntlm: blob, wrapped: false, mechanisms: []) }
        guard let root = try? BER.parse(blob) else { return ClientToken(ntlm: nil, wrapped: true, mechanisms: []) }
        var token = ClientToken(ntlm: nil, wrapped: true, mechanisms: [])
        // NegTokenInit: [APPLICATION 0] { OID, [0] SEQUENCE { [0] mechTypes, [1] reqFlags, [2] mechToken … } }
        // NegTokenResp: [1] SEQUENCE { [0] negState, [1] supportedMech, [2] responseToken, [3] mechListMIC }
        let body: ASN1Node?
        if root.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .application) {
            body = Self.children(root).first { $0.identifier == .contextSpecific(0) }.flatMap {
                Self.children($0).first
            }
        } else if root.identifier == .contextSpecific(1) {
            body = Self.children(root).first
        } else {
            body = nil
        }
        guard let body, body.identifier == .sequence else { return token }
        for element in Self.children(body) {
            let inner = Self.children(element).first
            if element.identifier == .contextSpecific(0), let inner, inner.identifier == .sequence {
                for mechanism in Self.children(inner) {
                    if let oid = try? ASN1ObjectIdentifier(derEncoded: mechanism) { token.mechanisms.append("\(oid)") }
                }
                token.mechTypes = Array(inner.encodedBytes)
            }
            if element.identifier == .contextSpecific(3), root.identifier == .contextSpecific(1) {
                token.hasMechListMIC = true
            }
            if element.identifier == .contextSpecific(2), let inner, case .primitive(let bytes) = inner.content {
                token.ntlm = Array(bytes)
            }
        }
        return token
    }

    static func children(_ node: ASN1Node) -> [ASN1Node] {
        guard case .constructed(let nodes) = node.content else { return [] }
        return Array(nodes)
    }
}

extension ASN1Identifier {
    static func contextSpecific(_ number: UInt) -> ASN1Identifier {
        ASN1Identifier(tagWithNumber: number, tagClass: .contextSpecific)
    }
}
