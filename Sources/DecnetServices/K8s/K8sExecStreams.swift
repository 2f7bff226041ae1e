import DecnetCore
import DecnetServiceKit
import NIOCore
import NIOHTTP1

/// The raw bytes of an upgraded connection (the adapter hands them over as body parts).
typealias K8sInbound = ConnectionInbound<HTTPServerRequestPart>.AsyncIterator

/// The framing of an exec stream (WebSocket or SPDY): bytes in, whole frames out, hostile ones refused.
protocol K8sFrameDecoder {
    associatedtype Frame
    mutating func feed(_ bytes: some Sequence<UInt8>)
    /// The next whole frame, nil when more bytes are needed.
    mutating func next() throws -> Frame?
}

extension K8sWebSocket.Decoder: K8sFrameDecoder {}
extension K8sSPDY.Decoder: K8sFrameDecoder {}

/// A command the fake shell ran: its output, exit status and records.
typealias K8sCommandResult = (output: [UInt8], status: K8sExitStatus, events: [(EventID, EventFields)])

enum K8sRaw {
    static func next(_ iterator: inout K8sInbound) async throws -> [UInt8]? {
        while let part = try await iterator.next() {
            if case .body(let buffer) = part { return Array(buffer.readableBytesView) }
        }
        return nil
    }

    /// Reads until the client hangs up or `channel` is closed (soon, by `closeSoon`).
    static func drain(_ iterator: inout K8sInbound, channel: any Channel) async {
        K8sService.closeSoon(channel)
        do {
            while try await Self.next(&iterator) != nil {}
        } catch {}
    }

    /// What reading an exec stream gives next.
    enum Read<Frame> {
        case frame(Frame)
        /// The client hung up.
        case end
        /// Bytes the decoder refuses.
        case malformed
    }

    /// The next frame of an upgraded connection, reading more bytes until the decoder has one.
    static func next<Decoder: K8sFrameDecoder>(
        _ decoder: inout Decoder,
        _ iterator: inout K8sInbound
    ) async throws -> Read<Decoder.Frame> {
        while true {
            do {
                if let frame = try decoder.next() { return .frame(frame) }
            } catch {
                return .malformed
            }
            guard let bytes = try await Self.next(&iterator) else { return .end }
            decoder.feed(bytes)
        }
    }

    /// Keeps what the client sends on stdin for a script, up to `K8sService.maximumStdin`; true once that is full.
    static func collect(_ data: [UInt8], into stdin: inout [UInt8]) -> Bool {
        stdin += data.prefix(K8sService.maximumStdin - stdin.count)
        return stdin.count >= K8sService.maximumStdin
    }

    /// A command's output in the pieces it goes out in (32 KiB each).
    static func pieces(_ output: [UInt8]) -> [[UInt8]] {
        stride(from: 0, to: output.count, by: 32 * 1024).map { Array(output[$0..<min(output.count, $0 + 32 * 1024)]) }
    }

    static func emit(_ events: [(EventID, EventFields)], _ session: SessionEvents) {
        for (id, fields) in events { session.emit(id, fields) }
    }

    /// `{"Width":120,"Height":40}`.
    static func size(_ data: [UInt8]) -> (Int, Int)? {
        guard let document = K8sJSON.parse(data), case .int(let width) = document["Width"] ?? .null,
            case .int(let height) = document["Height"] ?? .null
        else { return nil }
        return (width, height)
    }
}

/// A remote command over the WebSocket channel protocol: output on channel 1, the exit Status on channel 3, the
/// client's keystrokes on 0, terminal sizes on 4, v5's stream close on 255.
struct K8sWebSocketExec {
    var shell: K8sExecSession
    let protocolName: String

    var base64: Bool { self.protocolName.contains("base64") }
    /// v4 and v5 end with a JSON Status on the error channel; older versions write only failures, as text.
    var statusDocuments: Bool { self.protocolName.hasPrefix("v4.") || self.protocolName.hasPrefix("v5.") }

    mutating func run(
        iterator: inout K8sInbound,
        connection: Connection<HTTPServerRequestPart, ByteBuffer>,
        session: SessionEvents
    )
        async throws
    {
        let request = self.shell.request
        let outbound = connection.outbound
        let base64 = self.base64
        func send(_ bytes: [UInt8]) async throws { try await outbound.write(ByteBuffer(bytes: bytes)) }
        // The lowest writable channel announces the stream is open, as the kubelet's server does.
        try await send(K8sWebSocket.channel(request.stdout ? 1 : request.stderr ? 2 : 3, [], base64: base64))
        let interactive = self.shell.terminal != nil
        let collects = !interactive && self.shell.readsInput
        guard interactive || collects else {
            let result = self.shell.run()
            try await self.finish(result, session: session, iterator: &iterator, connection: connection)
            return
        }
        if interactive { try await send(K8sWebSocket.channel(1, self.shell.start(), base64: base64)) }
        var decoder = K8sWebSocket.Decoder()
        var message: [UInt8] = []
        var stdin: [UInt8] = []
        reading: while true {
            let frame: K8sWebSocket.Frame
            switch try await K8sRaw.next(&decoder, &iterator) {
            case .frame(let next): frame = next
            case .end: break reading
            case .malformed:
                try await send(K8sWebSocket.frame(.close, [0x03, 0xEA]))
                return
            }
            switch frame.opcode {
            case K8sWebSocket.Opcode.close.rawValue:
                if collects { break reading }
                try await self.finish([], .success, iterator: &iterator, connection: connection)
                return
            case K8sWebSocket.Opcode.ping.rawValue:
                try await send(K8sWebSocket.frame(.pong, frame.payload))
            case K8sWebSocket.Opcode.continuation.rawValue, K8sWebSocket.Opcode.text.rawValue,
                K8sWebSocket.Opcode.binary.rawValue:
                if message.count + frame.payload.count <= K8sWebSocket.maximumPayload { message += frame.payload }
                guard frame.fin else { continue }
                let complete = message
                message = []
                guard let (channel, data) = K8sWebSocket.unchannel(complete, base64: base64) else { continue }
                switch channel {
                case K8sStreamKind.stdin.rawValue where interactive:
                    let typed = self.shell.type(data)
                    K8sRaw.emit(typed.events, session)
                    if !typed.output.isEmpty {
                        try await send(K8sWebSocket.channel(1, typed.output, base64: base64))
                    }
                    if typed.exit {
                        try await self.finish([], .success, iterator: &iterator, connection: connection)
                        return
                    }
                case K8sStreamKind.stdin.rawValue:
                    if K8sRaw.collect(data, into: &stdin) { break reading }
                case K8sStreamKind.resize.rawValue:
                    if let (width, height) = K8sRaw.size(data) { self.shell.resize(width: width, height: height) }
                case 255 where data.first == K8sStreamKind.stdin.rawValue:
                    if collects { break reading }
                    try await self.finish([], .success, iterator: &iterator, connection: connection)
                    return
                default:
                    continue
                }
            default:
                continue
            }
        }
        guard collects else { return }
        let result = self.shell.script(String(decoding: stdin, as: UTF8.self))
        try await self.finish(result, session: session, iterator: &iterator, connection: connection)
    }

    /// A command run to its end: its records, then its output and exit status.
    func finish(
        _ result: K8sCommandResult,
        session: SessionEvents,
        iterator: inout K8sInbound,
        connection: Connection<HTTPServerRequestPart, ByteBuffer>
    ) async throws {
        K8sRaw.emit(result.events, session)
        try await self.finish(result.output, result.status, iterator: &iterator, connection: connection)
    }

    /// The output, the exit Status, a normal close; then the client has a moment to read it and hang up.
    func finish(
        _ output: [UInt8],
        _ status: K8sExitStatus,
        iterator: inout K8sInbound,
        connection: Connection<HTTPServerRequestPart, ByteBuffer>
    ) async throws {
        var out = K8sRaw.pieces(output).flatMap { K8sWebSocket.channel(1, $0, base64: self.base64) }
        if self.statusDocuments {
            out += K8sWebSocket.channel(3, status.document, base64: self.base64)
        } else if let message = status.failureMessage {
            out += K8sWebSocket.channel(3, message, base64: self.base64)
        }
        out += K8sWebSocket.normalClose
        try await connection.outbound.write(ByteBuffer(bytes: out))
        await K8sRaw.drain(&iterator, channel: connection.channel)
    }
}

/// A remote command over SPDY/3.1: each stream the client opens is answered, then output goes out on the stdout
/// stream and the exit Status on the error stream, each closed with FIN.
struct K8sSPDYExec {
    var shell: K8sExecSession
    let protocolName: String

    mutating func run(
        iterator: inout K8sInbound,
        connection: Connection<HTTPServerRequestPart, ByteBuffer>,
        session: SessionEvents
    )
        async throws
    {
        let outbound = connection.outbound
        func send(_ bytes: [UInt8]) async throws { try await outbound.write(ByteBuffer(bytes: bytes)) }
        let order = K8sSPDY.streamOrder(self.shell.request, protocolName: self.protocolName)
        var streams: [K8sStreamKind: UInt32] = [:]
        var decoder = K8sSPDY.Decoder()
        var encoder = K8sSPDY.Encoder()
        let interactive = self.shell.terminal != nil
        let collects = !interactive && self.shell.readsInput
        var stdin: [UInt8] = []
        reading: while true {
            let frame: K8sSPDY.Frame
            switch try await K8sRaw.next(&decoder, &iterator) {
            case .frame(let next): frame = next
            case .end: break reading
            case .malformed: return
            }
            switch frame {
            case .synStream(let id, _):
                if streams.count < order.count { streams[order[streams.count]] = id }
                try await send(encoder.synReply(id: id))
                guard streams.count == order.count else { continue }
                if interactive {
                    if let stdout = streams[.stdout] {
                        try await send(K8sSPDY.Encoder.data(id: stdout, self.shell.start(), fin: false))
                    }
                } else if !collects {
                    let result = self.shell.run()
                    try await self.finish(
                        result,
                        session: session,
                        streams: streams,
                        iterator: &iterator,
                        connection: connection
                    )
                    return
                }
            case .data(let id, let payload, let fin):
                if id == streams[.stdin] {
                    if interactive {
                        let typed = self.shell.type(payload)
                        K8sRaw.emit(typed.events, session)
                        if !typed.output.isEmpty, let stdout = streams[.stdout] {
                            try await send(K8sSPDY.Encoder.data(id: stdout, typed.output, fin: false))
                        }
                        if typed.exit || fin {
                            try await self.finish(
                                [],
                                .success,
                                streams: streams,
                                iterator: &iterator,
                                connection: connection
                            )
                            return
                        }
                    } else {
                        if K8sRaw.collect(payload, into: &stdin) || fin { break reading }
                    }
                } else if id == streams[.resize], let (width, height) = K8sRaw.size(payload) {
                    self.shell.resize(width: width, height: height)
                }
            case .ping(let id):
                try await send(K8sSPDY.Encoder.ping(id: id))
            case .goAway:
                return
            case .rstStream, .other:
                continue
            }
        }
        guard collects, streams.count == order.count else { return }
        let result = self.shell.script(String(decoding: stdin, as: UTF8.self))
        try await self.finish(result, session: session, streams: streams, iterator: &iterator, connection: connection)
    }

    /// A command run to its end: its records, then its output and exit status.
    func finish(
        _ result: K8sCommandResult,
        session: SessionEvents,
        streams: [K8sStreamKind: UInt32],
        iterator: inout K8sInbound,
        connection: Connection<HTTPServerRequestPart, ByteBuffer>
    ) async throws {
        K8sRaw.emit(result.events, session)
        try await self.finish(
            result.output,
            result.status,
            streams: streams,
            iterator: &iterator,
            connection: connection
        )
    }

    func finish(
        _ output: [UInt8],
        _ status: K8sExitStatus,
        streams: [K8sStreamKind: UInt32],
        iterator: inout K8sInbound,
        connection: Connection<HTTPServerRequestPart, ByteBuffer>
    ) async throws {
        var out: [UInt8] = []
        if let stdout = streams[.stdout] {
            out += K8sRaw.pieces(output).flatMap { K8sSPDY.Encoder.data(id: stdout, $0, fin: false) }
            out += K8sSPDY.Encoder.data(id: stdout, [], fin: true)
        }
        if let stderr = streams[.stderr] { out += K8sSPDY.Encoder.data(id: stderr, [], fin: true) }
        if let error = streams[.error] {
            if self.protocolName == "v4.channel.k8s.io" {
                out += K8sSPDY.Encoder.data(id: error, status.document, fin: false)
            } else if let message = status.failureMessage {
                out += K8sSPDY.Encoder.data(id: error, message, fin: false)
            }
            out += K8sSPDY.Encoder.data(id: error, [], fin: true)
        }
        if let stdin = streams[.stdin] { out += K8sSPDY.Encoder.data(id: stdin, [], fin: true) }
        try await connection.outbound.write(ByteBuffer(bytes: out))
        await K8sRaw.drain(&iterator, channel: connection.channel)
    }
}
