import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOHTTP1

/// Fuzz entry points of the other TCP services (ftp, pop3, postgres, mongodb, sip, elasticsearch, k8s, conpot's
/// Modbus and S7) and of the UDP ones (sip, snmp, tftp, llmnr): each input through the service's own frame decoder
/// into its state machine as its `handle` wires them, or into the datagram handler the UDP listener calls
/// (`UDPHoneypot.respond(to:session:)`, or what it calls with its clock pinned), with no sockets.
///
/// What a `handle` leaves to the channel is done the way a willing client makes it go: a passive data port opens
/// and its transfer connects (FTP), delays are not waited, and a `close` ends the input (what comes after it is
/// never read, as on the wire). Clocks, process ids, nonce secrets and challenges are fixed, so a run replays the
/// same way. Services are made per input, so no state (MongoDB's documents, the k8s cluster, the PLC's plant,
/// TFTP's transfers) outlives an input; mongodb and k8s keep only their persona's configuration in a
/// `private static let`, and get a fresh store or cluster each input.
extension FuzzEntries {
    /// `ProtocolLoop.serve` without the socket: each message's actions from `step`, until one closes.
    static func loop<Decoder: ByteToMessageDecoder>(
        _ decoder: Decoder,
        _ bytes: [UInt8],
        step: (Decoder.InboundOut) -> [ProtocolAction]
    ) {
        var reading = true
        self.decode(decoder, bytes) { message in
            guard reading else { return }
            if step(message).contains(.close) { reading = false }
        }
    }

    /// `HTTPExchange.serve` without the socket: each whole request (its body kept up to `maximumBody`, as there)
    /// to `respond`, until it says the connection ends.
    static func exchange<Decoder: ByteToMessageDecoder>(
        _ decoder: Decoder,
        _ bytes: [UInt8],
        maximumBody: Int,
        respond: (HTTPRequestHead, [UInt8]) -> Bool
    ) where Decoder.InboundOut == HTTPServerRequestPart {
        var head: HTTPRequestHead?
        var body: [UInt8] = []
        var reading = true
        self.decode(decoder, bytes) { part in
            guard reading else { return }
            switch part {
            case .head(let requestHead):
                head = requestHead
                body = []
            case .body(let chunk):
                if body.count + chunk.readableBytes <= maximumBody { body.append(contentsOf: chunk.readableBytesView) }
            case .end:
                guard let request = head else { return }
                head = nil
                reading = respond(request, body)
            }
        }
    }

    /// One source flow to `port` of the decky at `local`, as the UDP listener binds it.
    static func datagramSession(
        _ context: ServiceContext,
        local: String,
        port: Int,
        sourcePort: Int = 50_000
    ) -> SessionEvents {
        SessionEvents(
            context: context,
            source: Endpoint(ip: "10.0.0.66", port: sourcePort),
            destination: Endpoint(ip: local, port: port),
            session: "fuzz"
        )
    }

    /// The datagrams of a multi-datagram input: each a two-byte big-endian length and that many bytes (the last
    /// one what remains when the input ends early); a lone trailing byte is dropped.
    static func datagrams(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var index = 0
        while index + 2 <= bytes.count {
            let length = Int(bytes[index]) << 8 | Int(bytes[index + 1])
            let start = index + 2
            let end = min(start + length, bytes.count)
            out.append(Array(bytes[start..<end]))
            index = end
        }
        return out
    }

    // MARK: - TCP

    /// ftp: the bounded line decoder and vsftpd's command loop: anonymous and deploy / Summer2024 logins, then the
    /// file system (LIST, RETR, STOR, renames …). PASV/EPSV open port 40123 and every transfer connects; an
    /// upload carries a fixed line.
    public static func ftp(_ bytes: [UInt8]) {
        guard
            let service = try? FTPService(
                context: self.context("ftp", ["users": "deploy:Summer2024", "password_delay_ms": "0"])
            )
        else { return }
        var machine = FTPStateMachine(
            configuration: service.configuration,
            localAddress: "10.0.0.5",
            peerAddress: "10.0.0.66"
        )
        _ = machine.greeting
        var reading = true
        self.decode(LineDecoder(maximumLength: 4096), bytes) { frame in
            guard reading else { return }
            var pending: [FTPStateMachine.Action]
            switch frame {
            case .line(let line): pending = machine.received(line)
            case .tooLong: pending = machine.receivedOverlongLine()
            }
            while reading, !pending.isEmpty {
                switch pending.removeFirst() {
                case .openPassive(let extended):
                    pending.insert(contentsOf: machine.passiveOpened(port: 40_123, extended: extended), at: 0)
                case .transfer(let transfer):
                    var received: [UInt8] = []
                    if case .receive = transfer { received = Array("uploaded\r\n".utf8) }
                    pending.insert(contentsOf: machine.transferFinished(connected: true, received: received), at: 0)
                case .close:
                    reading = false
                case .reply, .emit, .setActive, .delay:
                    break
                }
            }
        }
    }

    /// pop3: the bounded line decoder and Dovecot's POP3: USER/PASS and SASL PLAIN/LOGIN (bob / hunter2), then
    /// the mailbox (STAT, LIST, UIDL, RETR, TOP, DELE).
    public static func pop3(_ bytes: [UInt8]) {
        guard
            let service = try? POP3Service(
                context: self.context("pop3", ["users": "bob:hunter2", "password_delay_ms": "0"])
            )
        else { return }
        var machine = POP3StateMachine(configuration: service.configuration.withPlantedMail())
        _ = machine.greeting
        self.loop(LineDecoder(maximumLength: 4096), bytes) { frame in
            switch frame {
            case .line(let line): return machine.received(line)
            case .tooLong: return machine.receivedOverlongLine()
            }
        }
    }

    /// postgres: the frontend decoder (untyped startup packets, then typed messages) and the server: SSL and
    /// GSSENC requests, the cleartext password (app / s3cret), simple queries.
    public static func postgres(_ bytes: [UInt8]) {
        guard let service = try? PostgresService(context: self.context("postgres", ["users": "app:s3cret"])) else {
            return
        }
        var machine = PostgresStateMachine(configuration: service.configuration, processID: 4242, secretKey: 7)
        self.loop(PostgresFrontendDecoder(), bytes) { machine.received($0) }
    }

    /// A 6.0 mongod (OP_MSG only) and a 4.4 one (legacy OP_QUERY commands too), admin / S3cure!Pass.
    private static let mongoServices: [MongoDBService] = ["6.0.14", "4.4.29"].compactMap { version in
        try? MongoDBService(
            context: FuzzEntries.context("mongodb", ["mongo_version": version, "users": "admin:S3cure!Pass"])
        )
    }

    /// mongodb: the wire framing (and its HTTP answer) and the server of both releases, each on a fresh store of
    /// a fixed date: hello, SCRAM-SHA-1/256 (the server nonce is the SCRAM code's own random), the data commands.
    public static func mongodb(_ bytes: [UInt8]) {
        var machines = self.mongoServices.map { service -> MongoServer in
            let configuration = service.configuration
            let store = MongoStore(
                MongoDataSet.databases(
                    seed: [1, 2, 3],
                    hostname: configuration.hostname,
                    featureVersion: configuration.version.featureCompatibility,
                    now: 1_700_000_000_000
                )
            )
            return MongoServer(configuration: configuration, store: store, connectionID: 42, peer: "10.0.0.66:51000") {
                1_000
            }
        }
        var reading = Array(repeating: true, count: machines.count)
        self.decode(MongoMessageDecoder(), bytes) { message in
            for index in machines.indices where reading[index] {
                if machines[index].received(message).contains(.close) { reading[index] = false }
            }
        }
    }

    /// sip: the whole input as one UDP datagram (what `SIPDatagramService.respond` does, with its reply bound),
    /// then as a TCP stream through the Content-Length framer (`SIPService.handle`). Accounts 100 / secret and
    /// 101 / Winter2024 in realm voip.corp.local; the clock (1 790 000 000) and the nonce secret (`fuzz-secret`)
    /// are fixed, so a digest computed for them verifies.
    public static func sip(_ bytes: [UInt8]) {
        let persona = [
            "sip_domain": "voip.corp.local", "users": "100:secret,101:Winter2024", "sip_extensions": "100-105,200",
        ]
        let responder = SIPResponder(
            persona: SIPPersona(persona: persona, hostname: "pbx01.corp.example"),
            secret: "fuzz-secret"
        )
        let now = 1_790_000_000
        let source = Endpoint(ip: "10.0.0.66", port: 40_123)
        let local = Endpoint(ip: "10.0.0.20", port: 5060)
        _ = responder.respond(
            to: bytes,
            peer: SIPResponder.Peer(transport: .udp, source: source, local: local),
            now: now,
            byteBound: max(bytes.count, 1) * SIPDatagramService.amplification
        )
        let tcp = SIPResponder.Peer(transport: .tcp, source: source, local: local)
        var reading = true
        self.decode(SIPStreamDecoder(), bytes) { frame in
            guard reading else { return }
            switch frame {
            case .message(let message):
                _ = responder.respond(to: message, peer: tcp, now: now, stream: true)
            case .badLength(let head, let problem):
                _ = responder.badFraming(head, problem: problem, peer: tcp, now: now)
                reading = false
            case .invalid:
                reading = false
            }
        }
    }

    /// elasticsearch: NIO's HTTP/1 request parser (as `HTTPService.configureHTTP` adds it without a family) and
    /// the node's REST API with security on (elastic / changeme over Basic), on a fresh store each input.
    public static func elasticsearch(_ bytes: [UInt8]) {
        guard
            let service = try? ElasticsearchService(
                context: self.context(
                    "elasticsearch",
                    ["es_security": "true", "users": "elastic:changeme", "cluster_name": "corp-logs"]
                )
            )
        else { return }
        self.exchange(
            HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes),
            bytes,
            maximumBody: ElasticsearchService.maximumBody
        ) { head, body in
            _ = service.api.respond(
                method: head.method.rawValue,
                uri: head.uri,
                headers: head.headers.map { (name: $0.name, value: $0.value) },
                body: body
            )
            return head.isKeepAlive
        }
    }

    /// The apiserver of k8s-master-01 (10.20.0.10), bearer token `goodtoken` accepted (kubernetes-admin).
    private static let k8sService: K8sService? = {
        var context = FuzzEntries.context("k8s", ["k8s_tokens": "goodtoken"])
        context.hostname = "k8s-master-01"
        context.address = "10.20.0.10"
        return try? K8sService(context: context)
    }()

    /// k8s: NIO's HTTP/1 request parser and `K8sService.serve`'s loop (Go's missing-Host refusal, the body bound,
    /// keep-alive and upgrades) into the API on 6443 without a client certificate: discovery, tokens, Tables,
    /// workloads, on a fresh cluster and a fixed clock and audit id. A watch's stream is not held open; an exec
    /// ends the input (its WebSocket and SPDY streams need the channel).
    /// The cluster every input starts from (built once: building it was most of an input's time).
    private static let k8sBaseline: K8sCluster? = Self.k8sService.map { service in
        K8sCluster(
            release: service.configuration.release,
            hostname: service.profile.hostname,
            nodeIP: "10.20.0.10",
            caPEM: "PEM",
            now: 1_780_000_000
        )
    }

    public static func k8s(_ bytes: [UInt8]) {
        guard let service = self.k8sService, let baseline = self.k8sBaseline else { return }
        let cluster = K8sCluster(copying: baseline)
        var api = K8sAPI(configuration: service.configuration, cluster: cluster)
        api.now = { 1_780_000_000 }
        api.auditID = { "00000000-0000-4000-8000-000000000000" }
        var state = K8sAPI.ConnectionState()
        var reader = K8sRequestReader()
        var reading = true
        self.decode(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes), bytes) { part in
            guard reading else { return }
            switch reader.read(part) {
            case .reading:
                return
            case .missingHost:
                _ = K8sGoHTTP.error(400, "missing required Host header")
                reading = false
            case .request(let request, let body, let tooLarge):
                let apiRequest = K8sAPI.Request(
                    request,
                    body: body,
                    tooLarge: tooLarge,
                    clientCertificate: nil,
                    insecurePort: false
                )
                let (response, _) = api.respond(to: apiRequest, state: &state)
                let http10 = request.version.major == 1 && request.version.minor == 0
                let upgrading = K8sRequestReader.upgrading(request)
                switch response.body {
                case .bytes(let payload):
                    let close = !request.isKeepAlive
                    _ = K8sGoHTTP.response(
                        status: response.status,
                        headers: response.headers,
                        body: payload,
                        head: request.method == .HEAD,
                        http10: http10,
                        close: close
                    )
                    if close || upgrading { reading = false }
                case .watch:
                    if !request.isKeepAlive || upgrading || http10 { reading = false }
                case .exec:
                    reading = false
                }
            }
        }
    }

    /// The plant of plc-3 (S7 session password Secret1), its clock stopped at 4 000 000 s.
    static func plcProcess() -> PLCProcess {
        PLCProcess(persona: PLCPersona(persona: ["plc_password": "Secret1"], hostname: "plc-3")) { 4_000_000 }
    }

    /// modbus: conpot's framer in Modbus mode (port 502) and the connection's dispatcher (`ConpotService.handle`):
    /// MBAP framing, the function codes on unit 1, device identification.
    public static func modbus(_ bytes: [UInt8]) {
        var dispatcher = ConpotDispatcher(
            process: self.plcProcess(),
            users: AcceptedCredentials(nil),
            reference: 0x4C2A
        )
        self.loop(ConpotFrameDecoder(mode: ConpotService.mode(port: 502)), bytes) { dispatcher.received($0) }
    }

    /// s7: conpot's framer in S7 mode (port 102, TPKT) and the S7 machine the dispatcher makes for it, with the wall
    /// clock fixed: COTP connect, setup communication, SZL reads, variables, the password, PLC stop/start.
    public static func s7(_ bytes: [UInt8]) {
        var machine = S7StateMachine(process: self.plcProcess(), reference: 0x4C2A) {
            Date(timeIntervalSince1970: 1_780_000_000)
        }
        self.loop(ConpotFrameDecoder(mode: ConpotService.mode(port: 102)), bytes) { machine.received($0) }
    }

    // MARK: - UDP

    /// snmp: one datagram into the agent as `SNMPService.respond` hands it (its reply bound), community public,
    /// the uptime fixed at the agent's start: v1/v2c GET, GETNEXT, GETBULK, SET, v3 discovery.
    public static func snmp(_ bytes: [UInt8]) {
        var context = self.context("snmp", ["snmp_community": "public"])
        context.hostname = "mon01"
        context.macAddress = "52:54:00:12:34:56"
        context.address = "10.0.0.9"
        guard let service = try? SNMPService(context: context), let message = SNMPMessage(bytes) else { return }
        _ = service.agent.answer(
            message,
            uptime: service.uptimeOffset,
            byteBound: max(bytes.count, 1) * SNMPService.amplification
        )
    }

    /// tftp: several datagrams from one source (`datagrams`: two-byte big-endian length, then the datagram) into
    /// `TFTPService.respond`, so RRQ then ACKs and WRQ then DATA run as transfers on a fresh server.
    public static func tftp(_ bytes: [UInt8]) {
        let context = self.context("tftp")
        guard let service = try? TFTPService(context: context) else { return }
        let session = self.datagramSession(context, local: "10.0.0.20", port: 69, sourcePort: 40_000)
        for datagram in self.datagrams(bytes) {
            _ = service.replyDelay(for: datagram)
            _ = service.respond(to: datagram, session: session)
        }
    }

    /// llmnr: the whole input as one datagram to each of the service's ports, through `LLMNRService.respond` (and
    /// where its reply goes): LLMNR on 5355, mDNS on 5353 from a querier on 5353, NBT-NS on 137. WS07 at 10.0.0.7
    /// in workgroup ACME, bait name FS03 (an answer for it is a poisoner).
    public static func llmnr(_ bytes: [UInt8]) {
        var context = self.windowsContext(
            "llmnr",
            hostname: "WS07",
            ["workgroup": "ACME", "llmnr_bait_names": "FS03"]
        )
        context.macAddress = "00:1b:21:92:f7:56"
        context.address = "10.0.0.7"
        context.broadcast = "10.0.0.255"
        guard let service = try? LLMNRService(context: context) else { return }
        for (port, sourcePort) in [(5355, 50_000), (5353, 5353), (137, 137)] {
            let session = self.datagramSession(context, local: "10.0.0.7", port: port, sourcePort: sourcePort)
            _ = service.respond(to: bytes, session: session)
            _ = service.replyDestination(for: bytes, session: session)
        }
    }
}
