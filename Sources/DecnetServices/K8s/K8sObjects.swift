import Crypto
import DecnetCore
import Foundation

/// Builders for the API objects of the fake cluster, shaped as the API server writes them (field order, the
/// metadata a controller sets), with names, uids and secrets that are stable per decky and unique to it.
struct K8sObjects {
    /// Deterministic bytes for `label`: the same decky always shows the same suffixes, uids and secrets.
    let seed: String
    /// Unix time "now" (object ages are computed from it).
    let now: Int

    func bytes(_ label: String) -> [UInt8] { Array(SHA256.hash(data: Array("\(self.seed)|\(label)".utf8))) }

    /// A lowercase UUID.
    func uid(_ label: String) -> String {
        let b = self.bytes("uid " + label).prefix(16).map { $0 }
        let hex = Self.hex(b)
        let chars = Array(hex)
        func part(_ from: Int, _ to: Int) -> String { String(chars[from..<to]) }
        return "\(part(0, 8))-\(part(8, 12))-4\(part(13, 16))-a\(part(17, 20))-\(part(20, 32))"
    }

    /// Kubernetes' safe-encoded random suffix alphabet (`bcdfghjklmnpqrstvwxz2456789`).
    func suffix(_ label: String, length: Int) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String(self.bytes("suffix " + label).prefix(length).map { alphabet[Int($0) % alphabet.count] })
    }

    /// Secret-looking text (letters and digits) of `length`.
    func secret(_ label: String, length: Int) -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        var out = ""
        var round = 0
        while out.count < length {
            out += self.bytes("secret \(round) " + label).map { String(alphabet[Int($0) % alphabet.count]) }.joined()
            round += 1
        }
        return String(out.prefix(length))
    }

    /// A number in `range`, stable for `label`.
    func number(_ label: String, _ range: ClosedRange<Int>) -> Int {
        let b = self.bytes("number " + label)
        let value = Int(b[0]) << 16 | Int(b[1]) << 8 | Int(b[2])
        return range.lowerBound + value % (range.count)
    }

    /// RFC 3339 in UTC, seconds precision: `2024-03-01T10:00:00Z`.
    static func timestamp(_ unix: Int) -> String {
        K8sTime.iso(unix)
    }

    /// The metadata block: name, generateName, namespace, uid, resourceVersion, creationTimestamp, labels,
    /// annotations, ownerReferences.
    func metadata(
        _ name: String,
        namespace: String?,
        created: Int,
        resourceVersion: Int,
        labels: [String: String] = [:],
        annotations: [String: String] = [:],
        generateName: String? = nil,
        owner: (kind: String, apiVersion: String, name: String)? = nil
    ) -> K8sJSON {
        var fields: [(String, K8sJSON)] = [("name", .string(name))]
        if let generateName { fields.append(("generateName", .string(generateName))) }
        if let namespace { fields.append(("namespace", .string(namespace))) }
        fields += [
            ("uid", .string(self.uid("\(namespace ?? "")/\(name)"))),
            ("resourceVersion", .string(String(resourceVersion))),
            ("creationTimestamp", .string(Self.timestamp(created))),
        ]
        if !labels.isEmpty { fields.append(("labels", .map(labels))) }
        if !annotations.isEmpty { fields.append(("annotations", .map(annotations))) }
        if let owner {
            fields.append(
                (
                    "ownerReferences",
                    .array([
                        .object([
                            ("apiVersion", .string(owner.apiVersion)), ("kind", .string(owner.kind)),
                            ("name", .string(owner.name)), ("uid", .string(self.uid("owner \(owner.name)"))),
                            ("controller", true), ("blockOwnerDeletion", true),
                        ])
                    ])
                )
            )
        }
        return .object(fields)
    }

    /// A running pod.
    struct PodSpec {
        var name: String
        var namespace: String
        var node: String
        var hostIP: String
        var podIP: String
        var containers: [(name: String, image: String, command: [String])]
        var labels: [String: String] = [:]
        var owner: (kind: String, apiVersion: String, name: String)? = nil
        var hostNetwork = false
        var created: Int
        var restarts = 0
        var serviceAccount = "default"
        var priorityClass: String? = nil
    }

    func pod(_ spec: PodSpec, resourceVersion: Int) -> K8sJSON {
        let started = Self.timestamp(spec.created + 3)
        let containers: [K8sJSON] = spec.containers.map { container in
            var fields: [(String, K8sJSON)] = [("name", .string(container.name)), ("image", .string(container.image))]
            if !container.command.isEmpty { fields.append(("command", .strings(container.command))) }
            fields += [
                ("resources", .empty), ("terminationMessagePath", "/dev/termination-log"),
                ("terminationMessagePolicy", "File"), ("imagePullPolicy", "IfNotPresent"),
            ]
            return .object(fields)
        }
        var specFields: [(String, K8sJSON)] = [
            ("containers", .array(containers)), ("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30),
            ("dnsPolicy", spec.hostNetwork ? "ClusterFirstWithHostNet" : "ClusterFirst"),
            ("serviceAccountName", .string(spec.serviceAccount)), ("serviceAccount", .string(spec.serviceAccount)),
            ("nodeName", .string(spec.node)),
        ]
        if spec.hostNetwork { specFields.append(("hostNetwork", true)) }
        specFields += [("securityContext", .empty), ("schedulerName", "default-scheduler")]
        if let priorityClass = spec.priorityClass {
            specFields += [("priorityClassName", .string(priorityClass)), ("priority", 2_000_001_000)]
        } else {
            specFields.append(("priority", 0))
        }
        specFields += [("enableServiceLinks", true), ("preemptionPolicy", "PreemptLowerPriority")]
        let conditions: [K8sJSON] = [
            "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled",
        ].map {
            .object([
                ("type", .string($0)), ("status", "True"), ("lastProbeTime", .null),
                ("lastTransitionTime", .string(Self.timestamp(spec.created + ($0 == "PodScheduled" ? 0 : 4)))),
            ])
        }
        let statuses: [K8sJSON] = spec.containers.enumerated().map { index, container in
            .object([
                ("name", .string(container.name)),
                ("state", .object([("running", .object([("startedAt", .string(started))]))])),
                ("lastState", .empty), ("ready", true), ("restartCount", .int(index == 0 ? spec.restarts : 0)),
                ("image", .string(container.image)),
                ("imageID", .string(Self.imageID(container.image, digest: self.hex("image " + container.image)))),
                ("containerID", .string("containerd://" + self.hex("container \(spec.name) \(container.name)"))),
                ("started", true),
            ])
        }
        let status: K8sJSON = .object([
            ("phase", "Running"), ("conditions", .array(conditions)), ("hostIP", .string(spec.hostIP)),
            ("hostIPs", .array([.object([("ip", .string(spec.hostIP))])])), ("podIP", .string(spec.podIP)),
            ("podIPs", .array([.object([("ip", .string(spec.podIP))])])),
            ("startTime", .string(Self.timestamp(spec.created))), ("containerStatuses", .array(statuses)),
            ("qosClass", "BestEffort"),
        ])
        return .object([
            ("kind", "Pod"), ("apiVersion", "v1"),
            (
                "metadata",
                self.metadata(
                    spec.name,
                    namespace: spec.namespace,
                    created: spec.created,
                    resourceVersion: resourceVersion,
                    labels: spec.labels,
                    generateName: spec.owner.flatMap {
                        $0.kind == "ReplicaSet" || $0.kind == "DaemonSet" ? $0.name + "-" : nil
                    },
                    owner: spec.owner
                )
            ),
            ("spec", .object(specFields)), ("status", status),
        ])
    }

    /// 64 hex digits for `label`.
    func hex(_ label: String) -> String { Self.hex(self.bytes(label)) }

    /// Lowercase hex of `bytes`. (Not `String(format:)` per byte: a cluster's baseline names thousands of ids,
    /// and formatting was a third of building one, measured under the fuzzer.)
    static func hex(_ bytes: some Sequence<UInt8>) -> String { Hex.lowercase(bytes) }

    static func imageID(_ image: String, digest: String) -> String {
        let repository = image.split(separator: ":").first.map(String.init) ?? image
        let qualified =
            repository.contains("/") && repository.split(separator: "/")[0].contains(".")
            ? repository : "docker.io/" + (repository.contains("/") ? repository : "library/" + repository)
        return "\(qualified)@sha256:\(digest)"
    }
}

/// Date text without a Foundation formatter per call.
enum K8sTime {
    static func iso(_ unix: Int) -> String {
        let days = unix >= 0 ? unix / 86_400 : (unix - 86_399) / 86_400
        let seconds = unix - days * 86_400
        // Civil from days (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02dZ",
            year,
            month,
            day,
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    }

    /// Unix time of an RFC 3339 UTC timestamp (`2024-03-01T10:00:00Z`), or nil.
    static func unix(_ text: String) -> Int? {
        let digits = text.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        guard digits.count >= 6, text.count >= 20 else { return nil }
        let (y, m, d) = (digits[0], digits[1], digits[2])
        guard (1...12).contains(m), (1...31).contains(d) else { return nil }
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return days * 86_400 + digits[3] * 3600 + digits[4] * 60 + digits[5]
    }

    /// `duration.HumanDuration` as kubectl and the server's table printers write ages: `45s`, `5m3s`, `12m`,
    /// `5h30m`, `20h`, `3d5h`, `12d`, `2y30d`.
    static func human(_ seconds: Int) -> String {
        let s = max(0, seconds)
        if s < 120 { return "\(s)s" }
        let minutes = s / 60
        if minutes < 10 { return s % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(s % 60)s" }
        if minutes < 180 { return "\(minutes)m" }
        let hours = s / 3600
        if hours < 8 { return minutes % 60 == 0 ? "\(hours)h" : "\(hours)h\(minutes % 60)m" }
        if hours < 48 { return "\(hours)h" }
        if hours < 192 { return hours % 24 == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(hours % 24)h" }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let days = (hours / 24) % 365
            return days == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(days)d"
        }
        return "\(hours / 24 / 365)y"
    }
}
