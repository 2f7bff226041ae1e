import DecnetCore

/// What an SMB2 session can do once a login let it in (MS-SMB2 3.3.5.7 onwards): connect to the persona's shares,
/// list the share table over srvsvc, open, list and read the bait files, and nothing that changes them (the
/// shares are read-only to everyone a decky lets in). Every open, listing, read and refused change is an event.
extension SMBStateMachine {
    static let allOnes = UInt64.max

    mutating func fileServer(
        _ command: SMB2Command,
        _ header: SMB2Header,
        _ bytes: [UInt8],
        dialect: UInt16
    ) -> [Action] {
        switch command {
        case .treeConnect: return self.treeConnect(header, bytes)
        case .treeDisconnect:
            self.loggedIn[header.sessionID]?.trees.removeValue(forKey: header.treeID)
            self.opens = self.opens.filter {
                $0.value.treeID != header.treeID || $0.value.sessionID != header.sessionID
            }
            return self.reply(header, NTStatus.success, body: [4, 0, 0, 0])
        case .logoff:
            self.loggedIn.removeValue(forKey: header.sessionID)
            self.opens = self.opens.filter { $0.value.sessionID != header.sessionID }
            return [
                .send(
                    NBSS.message(header.response(status: NTStatus.success, credits: Self.grant(header)) + [4, 0, 0, 0])
                )
            ]
        case .echo, .flush, .lock:
            return self.reply(header, NTStatus.success, body: [4, 0, 0, 0])
        case .cancel:
            return []
        case .create: return self.create(header, bytes)
        case .close: return self.close(header, bytes)
        case .read: return self.read(header, bytes)
        case .write: return self.write(header, bytes)
        case .ioctl: return self.ioctl(header, bytes, dialect: dialect)
        case .queryDirectory: return self.queryDirectory(header, bytes)
        case .queryInfo: return self.queryInfo(header, bytes)
        case .setInfo:
            var fields = EventFields()
            fields.add("command", "SET_INFO")
            if let open = self.open(bytes.le64(SMB2Header.size + 16 + 8), header) {
                fields.add("args", attackerText: self.uncPath(open))
            }
            return [.emit(.commandInput, fields)] + self.reply(header, NTStatus.accessDenied, body: nil)
        case .changeNotify, .oplockBreak:
            return self.reply(header, NTStatus.notSupported, body: nil)
        case .negotiate, .sessionSetup:
            return self.reply(header, NTStatus.invalidParameter, body: nil)
        }
    }

    /// A response with this status: the body when given, an ERROR response otherwise.
    func reply(_ header: SMB2Header, _ status: UInt32, body: [UInt8]?, treeID: UInt32? = nil) -> [Action] {
        var out = header.response(status: status, credits: Self.grant(header))
        if let treeID { out.replaceSubrange(36..<40, with: treeID.littleEndianBytes) }
        out += body ?? [9, 0, 0, 0, 0, 0, 0, 0, 0]
        return [.send(NBSS.message(out))]
    }

    /// Credits granted: what the client asks for, at least what the request cost, at most 64.
    static func grant(_ header: SMB2Header) -> UInt16 { max(1, header.creditCharge, min(header.credits, 64)) }

    var shares: [SMBShares.Share] { self.configuration.shares.shares }

    // MARK: Trees

    private mutating func treeConnect(_ header: SMB2Header, _ bytes: [UInt8]) -> [Action] {
        let path = Self.treeConnectPath(bytes) ?? ""
        var fields = EventFields()
        fields.add("command", "TREE_CONNECT")
        fields.add("args", attackerText: path)
        let name = path.split(separator: "\\").last.map { $0.lowercased() } ?? ""
        guard let index = self.shares.firstIndex(where: { $0.name.lowercased() == name }) else {
            return [.emit(.commandInput, fields)] + self.reply(header, NTStatus.badNetworkName, body: nil)
        }
        let share = self.shares[index]
        guard !share.adminOnly else {
            return [.emit(.commandInput, fields)] + self.reply(header, NTStatus.accessDenied, body: nil)
        }
        let treeID = self.nextTreeID
        self.nextTreeID &+= 1
        self.loggedIn[header.sessionID]?.trees[treeID] = index
        var body: [UInt8] = []
        body.appendLE16(16)
        body.append(share.kind == .ipc ? 2 : 1)
        body.append(0)
        body.appendLE32(share.kind == .ipc ? 0x30 : 0x00)  // IPC$: no caching; disk shares: manual caching
        body.appendLE32(0)
        body.appendLE32(share.kind == .ipc ? 0x001F_01FF : 0x0012_00A9)  // read-only: read, execute, synchronize
        return [.emit(.commandInput, fields)] + self.reply(header, NTStatus.success, body: body, treeID: treeID)
    }

    // MARK: Opens

    /// The open a FileId names (all ones: the last CREATE of this compound), in this session and tree.
    func open(_ fileID: UInt64, _ header: SMB2Header) -> Open? {
        let id = fileID == Self.allOnes ? (self.compoundFileID ?? 0) : fileID
        guard let open = self.opens[id], open.sessionID == header.sessionID else { return nil }
        return open
    }

    func openID(_ fileID: UInt64) -> UInt64 { fileID == Self.allOnes ? (self.compoundFileID ?? 0) : fileID }

    func uncPath(_ open: Open) -> String {
        let share = self.shares[open.share].name
        return "\\\\" + self.identity.netbiosName + "\\" + share + (open.path.isEmpty ? "" : "\\" + open.path)
    }

    private mutating func create(_ header: SMB2Header, _ bytes: [UInt8]) -> [Action] {
        let body = SMB2Header.size
        guard bytes.count >= body + 56, bytes.le16(body) == 57 else {
            return [.emit(.clientMalformed, EventFields.malformed("truncated CREATE", preview: bytes))]
                + self.reply(header, NTStatus.invalidParameter, body: nil)
        }
        let access = bytes.le32(body + 24), disposition = bytes.le32(body + 36), options = bytes.le32(body + 40)
        let nameOffset = Int(bytes.le16(body + 44)), nameLength = Int(bytes.le16(body + 46))
        guard nameLength <= 2048,
            nameLength == 0 || (nameOffset <= bytes.count && nameLength <= bytes.count - nameOffset)
        else {
            return [.emit(.clientMalformed, EventFields.malformed("CREATE name outside the message", preview: bytes))]
                + self.reply(header, NTStatus.invalidParameter, body: nil)
        }
        let name = nameLength == 0 ? "" : NTLM.decode(Array(bytes[nameOffset..<(nameOffset + nameLength)]), .unicode)
        guard let shareIndex = self.loggedIn[header.sessionID]?.trees[header.treeID] else {
            return self.reply(header, NTStatus.networkNameDeleted, body: nil)
        }
        let share = self.shares[shareIndex]
        let path = SMBTree.normalize(name)
        var fields = EventFields()
        fields.add("command", "CREATE")
        fields.add(
            "args",
            attackerText: "\\\\" + self.identity.netbiosName + "\\" + share.name + (path.isEmpty ? "" : "\\" + path)
        )
        fields.add("access", "0x" + String(access, radix: 16))
        fields.add("disposition", String(disposition))
        if share.kind == .ipc {
            let pipe = path.lowercased()
            guard pipe == "srvsvc" else {
                return [.emit(.commandInput, fields)] + self.reply(header, NTStatus.objectNameNotFound, body: nil)
            }
            let id = self.newFileID()
            self.opens[id] = Open(
                sessionID: header.sessionID,
                treeID: header.treeID,
                share: shareIndex,
                path: path,
                isDirectory: false,
                pipe: SRVSVCPipe(associationGroup: UInt32(truncatingIfNeeded: id) & 0xFFFF | 0x0001_0000)
            )
            return [.emit(.commandInput, fields)]
                + self.reply(header, NTStatus.success, body: Self.createResponse(nil, fileID: id))
        }
        // FILE_WRITE_DATA, FILE_APPEND_DATA, FILE_WRITE_EA, FILE_WRITE_ATTRIBUTES, DELETE, WRITE_DAC, WRITE_OWNER,
        // GENERIC_ALL, GENERIC_WRITE: a read-only share refuses them; so it does deleting on close.
        let writes: UInt32 = 0x0000_0116 | 0x000D_0000 | 0x5000_0000
        guard let node = share.tree.node(path) else {
            let parent = path.split(separator: "\\").dropLast().joined(separator: "\\")
            let status: UInt32 =
                [0, 1, 4].contains(disposition)
                ? (share.tree.node(parent)?.isDirectory == true
                    ? NTStatus.objectNameNotFound : NTStatus.objectPathNotFound)
                : NTStatus.accessDenied
            return [.emit(.commandInput, fields)] + self.reply(header, status, body: nil)
        }
        if access & writes != 0 || options & 0x1000 != 0 || [0, 2, 4, 5].contains(disposition) {
            let status = disposition == 2 ? NTStatus.objectNameCollision : NTStatus.accessDenied
            return [.emit(.commandInput, fields)] + self.reply(header, status, body: nil)
        }
        if options & 0x1 != 0 && !node.isDirectory {
            return [.emit(.commandInput, fields)] + self.reply(header, NTStatus.notADirectory, body: nil)
        }
        if options & 0x40 != 0 && node.isDirectory {
            return [.emit(.commandInput, fields)] + self.reply(header, NTStatus.fileIsADirectory, body: nil)
        }
        let id = self.newFileID()
        self.opens[id] = Open(
            sessionID: header.sessionID,
            treeID: header.treeID,
            share: shareIndex,
            path: node.path,
            isDirectory: node.isDirectory,
            pipe: nil
        )
        return [.emit(.commandInput, fields)]
            + self.reply(header, NTStatus.success, body: Self.createResponse(node, fileID: id))
    }

    private mutating func newFileID() -> UInt64 {
        let id = self.nextFileID
        self.nextFileID &+= 1
        self.compoundFileID = id
        return id
    }

    /// The CREATE response (MS-SMB2 2.2.14): no oplock, FILE_OPENED, the node's times, sizes and attributes.
    static func createResponse(_ node: SMBTree.Node?, fileID: UInt64) -> [UInt8] {
        var body: [UInt8] = []
        body.appendLE16(89)
        body.append(0)  // no oplock
        body.append(0)
        body.appendLE32(1)  // FILE_OPENED
        body += Self.times(node)
        body.appendLE64(node?.allocationSize ?? 4096)
        body.appendLE64(UInt64(node?.data.count ?? 0))
        body.appendLE32(node?.attributes ?? 0x80)
        body.appendLE32(0)
        body.appendLE64(fileID)
        body.appendLE64(fileID)
        body.appendLE32(0)
        body.appendLE32(0)
        body.append(0)
        return body
    }

    /// Creation, last access, last write and change times.
    static func times(_ node: SMBTree.Node?) -> [UInt8] {
        var out: [UInt8] = []
        out.appendLE64(node?.created ?? 0)
        out.appendLE64(node?.written ?? 0)
        out.appendLE64(node?.written ?? 0)
        out.appendLE64(node?.written ?? 0)
        return out
    }

    func node(_ open: Open) -> SMBTree.Node? {
        open.pipe == nil ? self.shares[open.share].tree.node(open.path) : nil
    }

    private mutating func close(_ header: SMB2Header, _ bytes: [UInt8]) -> [Action] {
        let body = SMB2Header.size
        guard bytes.count >= body + 24 else { return self.reply(header, NTStatus.invalidParameter, body: nil) }
        let id = self.openID(bytes.le64(body + 16))
        guard let open = self.open(id, header) else { return self.reply(header, NTStatus.fileClosed, body: nil) }
        self.opens.removeValue(forKey: id)
        var out: [UInt8] = []
        out.appendLE16(60)
        let postQuery = bytes.le16(body + 2) & 1 != 0
        out.appendLE16(postQuery ? 1 : 0)
        out.appendLE32(0)
        let node = postQuery ? self.node(open) : nil
        if postQuery, open.pipe == nil {
            out += Self.times(node)
            out.appendLE64(node?.allocationSize ?? 0)
            out.appendLE64(UInt64(node?.data.count ?? 0))
            out.appendLE32(node?.attributes ?? 0)
        } else {
            out += [UInt8](repeating: 0, count: 52)
        }
        return self.reply(header, NTStatus.success, body: out)
    }

    // MARK: Reads and writes

    private mutating func read(_ header: SMB2Header, _ bytes: [UInt8]) -> [Action] {
        let body = SMB2Header.size
        guard bytes.count >= body + 48 else { return self.reply(header, NTStatus.invalidParameter, body: nil) }
        let length = Int(min(bytes.le32(body + 4), 1 << 20)), offset = bytes.le64(body + 8)
        let id = self.openID(bytes.le64(body + 24))
        guard var open = self.open(id, header) else { return self.reply(header, NTStatus.fileClosed, body: nil) }
        var actions: [Action] = []
        let data: [UInt8]
        if var pipe = open.pipe {
            data = Array(pipe.pending.prefix(length))
            pipe.pending.removeFirst(data.count)
            open.pipe = pipe
            self.opens[id] = open
            if data.isEmpty { return self.reply(header, NTStatus.pipeEmpty, body: nil) }
        } else {
            guard let node = self.node(open), !node.isDirectory else {
                return self.reply(header, NTStatus.invalidDeviceRequest, body: nil)
            }
            guard offset < UInt64(node.data.count) else { return self.reply(header, NTStatus.endOfFile, body: nil) }
            let start = Int(offset)
            data = Array(node.data[start..<min(node.data.count, start + length)])
            if !open.downloaded {
                open.downloaded = true
                self.opens[id] = open
                var fields = EventFields()
                // The path is the tree's own spelling, not the attacker's bytes.
                fields.add("filename", node.path)
                fields.add("url", "smb:" + self.uncPath(open).replacingBackslashes())
                fields.add("size", String(node.data.count))
                actions.append(.emit(.fileDownload, fields))
            }
        }
        var out: [UInt8] = []
        out.appendLE16(17)
        out.append(0x50)
        out.append(0)
        out.appendLE32(UInt32(data.count))
        out.appendLE32(0)
        out.appendLE32(0)
        return actions + self.reply(header, NTStatus.success, body: out + data)
    }

    private mutating func write(_ header: SMB2Header, _ bytes: [UInt8]) -> [Action] {
        let body = SMB2Header.size
        guard bytes.count >= body + 48 else { return self.reply(header, NTStatus.invalidParameter, body: nil) }
        let dataOffset = Int(bytes.le16(body + 2)), length = Int(bytes.le32(body + 4))
        let id = self.openID(bytes.le64(body + 24))
        guard var open = self.open(id, header) else { return self.reply(header, NTStatus.fileClosed, body: nil) }
        guard dataOffset <= bytes.count, length <= bytes.count - dataOffset else {
            return [.emit(.clientMalformed, EventFields.malformed("WRITE data outside the message", preview: bytes))]
                + self.reply(header, NTStatus.invalidParameter, body: nil)
        }
        guard var pipe = open.pipe else {
            var fields = EventFields()
            fields.add("command", "WRITE")
            fields.add("args", attackerText: self.uncPath(open))
            return [.emit(.commandInput, fields)] + self.reply(header, NTStatus.accessDenied, body: nil)
        }
        let (call, reply) = pipe.received(Array(bytes[dataOffset..<(dataOffset + length)]), shares: self.shares)
        pipe.pending = reply ?? []
        open.pipe = pipe
        self.opens[id] = open
        var out: [UInt8] = []
        out.appendLE16(17)
        out.appendLE16(0)
        out.appendLE32(UInt32(length))
        out += [UInt8](repeating: 0, count: 8)
        return self.rpcEvents(call, bytes) + self.reply(header, NTStatus.success, body: out)
    }

    func rpcEvents(_ call: SRVSVCPipe.Call, _ bytes: [UInt8]) -> [Action] {
        var fields = EventFields()
        switch call {
        case .bind: return []
        case .shareEnum(let level):
            fields.add("command", "srvsvc.NetrShareEnum")
            fields.add("args", "level \(level)")
        case .other(let opnum):
            fields.add("command", "srvsvc opnum \(opnum)")
        case .invalid(let problem):
            return [.emit(.clientMalformed, EventFields.malformed("srvsvc: " + problem, preview: bytes))]
        }
        return [.emit(.commandInput, fields)]
    }

    // MARK: IOCTL

    private mutating func ioctl(_ header: SMB2Header, _ bytes: [UInt8], dialect: UInt16) -> [Action] {
        let body = SMB2Header.size
        guard bytes.count >= body + 56 else { return self.reply(header, NTStatus.invalidParameter, body: nil) }
        let code = bytes.le32(body + 4), fileID = bytes.le64(body + 16)
        let inputOffset = Int(bytes.le32(body + 24)), inputCount = Int(bytes.le32(body + 28))
        guard inputCount == 0 || (inputOffset <= bytes.count && inputCount <= bytes.count - inputOffset) else {
            return [.emit(.clientMalformed, EventFields.malformed("IOCTL input outside the message", preview: bytes))]
                + self.reply(header, NTStatus.invalidParameter, body: nil)
        }
        let input = inputCount == 0 ? [] : Array(bytes[inputOffset..<(inputOffset + inputCount)])
        func output(_ data: [UInt8]) -> [UInt8] {
            var out: [UInt8] = []
            out.appendLE16(49)
            out.appendLE16(0)
            out.appendLE32(code)
            out.appendLE64(bytes.le64(body + 8))
            out.appendLE64(fileID)
            out.appendLE32(112)
            out.appendLE32(0)
            out.appendLE32(112)
            out.appendLE32(UInt32(data.count))
            out.appendLE32(0)
            out.appendLE32(0)
            return out + data
        }
        switch code {
        case 0x0014_0204:  // FSCTL_VALIDATE_NEGOTIATE_INFO
            var info: [UInt8] = []
            info.appendLE32(self.negotiatedCapabilities)
            info += self.configuration.serverGUID
            info.appendLE16(self.configuration.signingRequired ? 0x03 : 0x01)
            info.appendLE16(dialect)
            return self.reply(header, NTStatus.success, body: output(info))
        case 0x0011_C017:  // FSCTL_PIPE_TRANSCEIVE
            let id = self.openID(fileID)
            guard var open = self.open(id, header), var pipe = open.pipe else {
                return self.reply(header, NTStatus.fileClosed, body: nil)
            }
            let (call, reply) = pipe.received(input, shares: self.shares)
            pipe.pending = []
            open.pipe = pipe
            self.opens[id] = open
            guard let reply else {
                return self.rpcEvents(call, input) + self.reply(header, NTStatus.pipeDisconnected, body: nil)
            }
            return self.rpcEvents(call, input) + self.reply(header, NTStatus.success, body: output(reply))
        case 0x0006_0194, 0x0006_01B0:  // FSCTL_DFS_GET_REFERRALS(_EX): no DFS here
            let status = self.identity.release.isSamba ? NTStatus.notFound : NTStatus.fsDriverRequired
            return self.reply(header, status, body: nil)
        default:
            var fields = EventFields()
            fields.add("command", "IOCTL")
            fields.add("args", "0x" + String(code, radix: 16))
            return [.emit(.commandInput, fields)] + self.reply(header, NTStatus.invalidDeviceRequest, body: nil)
        }
    }

    // MARK: Directories

    private mutating func queryDirectory(_ header: SMB2Header, _ bytes: [UInt8]) -> [Action] {
        let body = SMB2Header.size
        guard bytes.count >= body + 32 else { return self.reply(header, NTStatus.invalidParameter, body: nil) }
        let infoClass = bytes[body + 2], flags = bytes[body + 3]
        let id = self.openID(bytes.le64(body + 16))
        let nameOffset = Int(bytes.le16(body + 24)), nameLength = Int(bytes.le16(body + 26))
        let capacity = Int(min(bytes.le32(body + 28), 1 << 16))
        guard var open = self.open(id, header), open.isDirectory, open.pipe == nil else {
            return self.reply(header, NTStatus.invalidParameter, body: nil)
        }
        guard nameLength <= 1024,
            nameLength == 0 || (nameOffset <= bytes.count && nameLength <= bytes.count - nameOffset)
        else { return self.reply(header, NTStatus.invalidParameter, body: nil) }
        let pattern =
            nameLength == 0 ? "*" : NTLM.decode(Array(bytes[nameOffset..<(nameOffset + nameLength)]), .unicode)
        guard [0x01, 0x02, 0x03, 0x0C, 0x25, 0x26].contains(infoClass) else {
            return self.reply(header, NTStatus.invalidInfoClass, body: nil)
        }
        var actions: [Action] = []
        if flags & 0x11 != 0 || open.cursor == nil {
            open.cursor = 0
            var fields = EventFields()
            fields.add("command", "QUERY_DIRECTORY")
            fields.add("args", attackerText: self.uncPath(open) + "\\" + pattern)
            actions.append(.emit(.commandInput, fields))
        }
        let tree = self.shares[open.share].tree
        guard let directory = tree.node(open.path) else { return self.reply(header, NTStatus.fileClosed, body: nil) }
        let parent = tree.node(open.path.split(separator: "\\").dropLast().joined(separator: "\\")) ?? directory
        var entries: [(String, SMBTree.Node)] = [(".", directory), ("..", parent)]
        entries += tree.children(of: open.path).map { ($0.name, $0) }
        entries = entries.filter { Self.matches($0.0, pattern: pattern) }
        let start = open.cursor ?? 0
        guard start < entries.count else {
            self.opens[id] = open
            let status = start == 0 ? NTStatus.noSuchFile : NTStatus.noMoreFiles
            return actions + self.reply(header, status, body: nil)
        }
        var buffer: [UInt8] = []
        var last = 0
        var index = start
        while index < entries.count {
            let entry = Self.directoryEntry(entries[index].0, entries[index].1, infoClass: infoClass)
            var aligned = buffer
            if !aligned.isEmpty {
                while aligned.count % 8 != 0 { aligned.append(0) }
            }
            guard aligned.count + entry.count <= capacity else { break }
            if !buffer.isEmpty {
                let next = UInt32(aligned.count - last)
                aligned.replaceSubrange(last..<(last + 4), with: next.littleEndianBytes)
            }
            last = aligned.count
            buffer = aligned + entry
            index += 1
            if flags & 0x02 != 0 { break }
        }
        guard index > start else { return actions + self.reply(header, NTStatus.infoLengthMismatch, body: nil) }
        open.cursor = index
        self.opens[id] = open
        var out: [UInt8] = []
        out.appendLE16(9)
        out.appendLE16(72)
        out.appendLE32(UInt32(buffer.count))
        return actions + self.reply(header, NTStatus.success, body: out + buffer)
    }

    /// A wildcard match as Windows does it for `*` and `?`, case-insensitively.
    static func matches(_ name: String, pattern: String) -> Bool {
        if pattern == "*" || pattern == "*.*" { return true }
        let name = Array(name.uppercased()), pattern = Array(pattern.uppercased())
        func match(_ n: Int, _ p: Int) -> Bool {
            if p == pattern.count { return n == name.count }
            if pattern[p] == "*" { return (n...name.count).contains { match($0, p + 1) } }
            guard n < name.count, pattern[p] == "?" || pattern[p] == name[n] else { return false }
            return match(n + 1, p + 1)
        }
        return pattern.count <= 256 && match(0, 0)
    }

    /// One entry of a directory listing in the requested class (MS-FSCC 2.4).
    static func directoryEntry(_ name: String, _ node: SMBTree.Node, infoClass: UInt8) -> [UInt8] {
        let fileName = NTLM.encode(name, true)
        var out: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0]  // NextEntryOffset, FileIndex
        if infoClass == 0x0C {
            out.appendLE32(UInt32(fileName.count))
            return out + fileName
        }
        out += Self.times(node)
        out.appendLE64(UInt64(node.data.count))
        out.appendLE64(node.allocationSize)
        out.appendLE32(node.attributes)
        out.appendLE32(UInt32(fileName.count))
        switch infoClass {
        case 0x01: break
        case 0x02: out.appendLE32(0)
        case 0x26:
            out.appendLE32(0)
            out.appendLE32(0)
            out.appendLE64(node.fileID)
        default:  // 0x03 both, 0x25 id-both: EaSize, short name (none), then the id for 0x25
            out.appendLE32(0)
            out += [UInt8](repeating: 0, count: 26)
            if infoClass == 0x25 {
                out.appendLE16(0)
                out.appendLE64(node.fileID)
            }
        }
        return out + fileName
    }

    // MARK: QUERY_INFO

    private mutating func queryInfo(_ header: SMB2Header, _ bytes: [UInt8]) -> [Action] {
        let body = SMB2Header.size
        guard bytes.count >= body + 40 else { return self.reply(header, NTStatus.invalidParameter, body: nil) }
        let infoType = bytes[body + 2], infoClass = bytes[body + 3]
        let capacity = Int(min(bytes.le32(body + 4), 1 << 16))
        guard let open = self.open(self.openID(bytes.le64(body + 32)), header) else {
            return self.reply(header, NTStatus.fileClosed, body: nil)
        }
        let node = self.node(open)
        let data: [UInt8]?
        switch infoType {
        case 1: data = Self.fileInformation(infoClass, node: node, path: open.path)
        case 2: data = Self.fileSystemInformation(infoClass, identity: self.identity)
        case 3:
            var fields = EventFields()
            fields.add("command", "QUERY_SECURITY")
            fields.add("args", attackerText: self.uncPath(open))
            return [.emit(.commandInput, fields)] + self.reply(header, NTStatus.accessDenied, body: nil)
        default: data = nil
        }
        guard let data else { return self.reply(header, NTStatus.invalidInfoClass, body: nil) }
        let status = data.count > capacity ? NTStatus.bufferOverflow : NTStatus.success
        let sent = Array(data.prefix(capacity))
        var out: [UInt8] = []
        out.appendLE16(9)
        out.appendLE16(72)
        out.appendLE32(UInt32(sent.count))
        return self.reply(header, status, body: out + sent)
    }

    /// File information classes (MS-FSCC 2.4) for a node (nil: a pipe).
    static func fileInformation(_ infoClass: UInt8, node: SMBTree.Node?, path: String) -> [UInt8]? {
        var basic = Self.times(node)
        basic.appendLE32(node?.attributes ?? 0x80)
        basic.appendLE32(0)
        var standard: [UInt8] = []
        standard.appendLE64(node?.allocationSize ?? 4096)
        standard.appendLE64(UInt64(node?.data.count ?? 0))
        standard.appendLE32(1)
        standard.append(0)
        standard.append(node?.isDirectory == true ? 1 : 0)
        standard.appendLE16(0)
        var internalID: [UInt8] = []
        internalID.appendLE64(node?.fileID ?? 0)
        let name = NTLM.encode("\\" + path, true)
        var nameInfo: [UInt8] = []
        nameInfo.appendLE32(UInt32(name.count))
        nameInfo += name
        switch infoClass {
        case 4: return basic
        case 5: return standard
        case 6: return internalID
        case 7: return [0, 0, 0, 0]
        case 8: return UInt32(0x0012_00A9).littleEndianBytes
        case 14: return [UInt8](repeating: 0, count: 8)
        case 16: return [0, 0, 0, 0]
        case 17: return [0, 0, 0, 0]
        case 18:
            return basic + standard + internalID + [0, 0, 0, 0] + UInt32(0x0012_00A9).littleEndianBytes
                + [UInt8](repeating: 0, count: 16) + nameInfo
        case 22:
            guard let node, !node.isDirectory else { return [] }
            let stream = NTLM.encode("::$DATA", true)
            var out: [UInt8] = [0, 0, 0, 0]
            out.appendLE32(UInt32(stream.count))
            out.appendLE64(UInt64(node.data.count))
            out.appendLE64(node.allocationSize)
            return out + stream
        case 34:
            var out = Self.times(node)
            out.appendLE64(node?.allocationSize ?? 4096)
            out.appendLE64(UInt64(node?.data.count ?? 0))
            out.appendLE32(node?.attributes ?? 0x80)
            out.appendLE32(0)
            return out
        case 35:
            var out: [UInt8] = []
            out.appendLE32(node?.attributes ?? 0x80)
            out.appendLE32(0)
            return out
        case 48: return nameInfo
        default: return nil
        }
    }

    /// File system information classes (MS-FSCC 2.5) of an NTFS volume.
    static func fileSystemInformation(_ infoClass: UInt8, identity: WindowsIdentity) -> [UInt8]? {
        let serial = UInt32(truncatingIfNeeded: SMBTree.fileID(identity.netbiosName))
        switch infoClass {
        case 1:
            var out: [UInt8] = []
            out.appendLE64(SMBTree.epoch - 400 * SMBTree.day)
            out.appendLE32(serial)
            out.appendLE32(0)
            out += [0, 0]
            return out
        case 3:
            var out: [UInt8] = []
            out.appendLE64(26_107_135)
            out.appendLE64(11_842_304)
            out.appendLE32(8)
            out.appendLE32(512)
            return out
        case 4: return [7, 0, 0, 0, 0x20, 0, 0, 0]
        case 5:
            let name = NTLM.encode(identity.release.isSamba ? "NTFS" : "NTFS", true)
            var out: [UInt8] = []
            out.appendLE32(0x03E7_06FF)
            out.appendLE32(255)
            out.appendLE32(UInt32(name.count))
            return out + name
        case 7:
            var out: [UInt8] = []
            out.appendLE64(26_107_135)
            out.appendLE64(11_842_304)
            out.appendLE64(11_842_304)
            out.appendLE32(8)
            out.appendLE32(512)
            return out
        case 8: return [UInt8](repeating: 0, count: 64)
        case 11:
            var out: [UInt8] = []
            for value: UInt32 in [512, 4096, 4096, 512, 0x0B, 0, 0] { out.appendLE32(value) }
            return out
        default: return nil
        }
    }
}

extension FixedWidthInteger {
    var littleEndianBytes: [UInt8] {
        (0..<(Self.bitWidth / 8)).map { UInt8(truncatingIfNeeded: self >> ($0 * 8)) }
    }
}

extension String {
    fileprivate func replacingBackslashes() -> String { String(self.map { $0 == "\\" ? "/" : $0 }) }
}
