import Foundation
import Synchronization

/// The objects one decky's fake cluster holds: a kubeadm control plane and two workers, the system pods, a few
/// applications with their services, bait secrets and config maps, and whatever attackers create (bounded).
/// Shared by all connections of the service.
final class K8sCluster: Sendable {
    /// One stored object.
    struct Stored: Sendable {
        var group: String
        var resource: String
        var namespace: String?
        var name: String
        var created: Int
        var object: K8sJSON
    }

    struct State: Sendable {
        var objects: [Stored] = []
        var resourceVersion: Int
        var created = 0
        /// Tokens minted through `serviceaccounts/token`, which then authenticate as that service account.
        var minted: [String: String] = [:]
    }

    /// Objects an attacker may add before creation fails (the decky stays bounded).
    static let maximumCreated = 128

    let state: Mutex<State>
    let objects: K8sObjects
    let nodes: [(name: String, ip: String)]
    let release: K8sRelease

    init(release: K8sRelease, hostname: String, nodeIP: String, caPEM: String, now: Int) {
        let short = String(hostname.split(separator: ".").first ?? Substring(hostname)).lowercased()
        let objects = K8sObjects(seed: hostname, now: now)
        self.objects = objects
        self.release = release
        let octets = nodeIP.split(separator: ".").compactMap { Int($0) }
        let worker: (Int) -> String = { offset in
            guard octets.count == 4 else { return "10.0.0.\(10 + offset)" }
            return "\(octets[0]).\(octets[1]).\(octets[2]).\((octets[3] + offset - 1) % 254 + 1)"
        }
        let workers = Self.workerNames(short)
        self.nodes = [(short, nodeIP), (workers.0, worker(1)), (workers.1, worker(2))]
        let base = 400_000 + objects.number("rv", 0...300_000)
        var builder = K8sBaseline(
            objects: objects,
            release: release,
            nodes: self.nodes,
            caPEM: caPEM,
            resourceVersion: base
        )
        builder.build()
        self.state = Mutex(State(objects: builder.stored, resourceVersion: builder.resourceVersion))
    }

    /// A cluster as `other` stands now, changed independently of it from here on (the fuzz target starts each
    /// input from one built baseline instead of building it again).
    init(copying other: K8sCluster) {
        self.objects = other.objects
        self.release = other.release
        self.nodes = other.nodes
        self.state = Mutex(other.state.withLock { $0 })
    }

    /// Worker names in the control plane's style: `k8s-master-01` → `k8s-worker-01`, `k8s-worker-02`;
    /// `kube-cp` → `kube-worker-1`, `kube-worker-2`; otherwise `<name>-worker-1`, `-worker-2`.
    static func workerNames(_ controlPlane: String) -> (String, String) {
        for role in ["control-plane", "master", "controlplane"] {
            guard let range = controlPlane.range(of: role) else { continue }
            var base = controlPlane.replacingCharacters(in: range, with: "worker")
            let digits = base.reversed().prefix { $0.isNumber }.count
            if digits > 0 {
                base.removeLast(digits)
                let width = digits
                let format = { (n: Int) in String(repeating: "0", count: max(0, width - String(n).count)) + String(n) }
                return (base + format(1), base + format(2))
            }
            return (base + "-1", base + "-2")
        }
        return (controlPlane + "-worker-1", controlPlane + "-worker-2")
    }

    /// Objects of `resource` in `group`, in `namespace` (nil: every namespace).
    func list(group: String, resource: String, namespace: String?) -> (items: [Stored], resourceVersion: Int) {
        self.state.withLock { state in
            // etcd's key order: namespace, then name.
            let items = state.objects.filter {
                $0.group == group && $0.resource == resource && (namespace == nil || $0.namespace == namespace)
            }.sorted { ($0.namespace ?? "", $0.name) < ($1.namespace ?? "", $1.name) }
            return (items, state.resourceVersion)
        }
    }

    func get(group: String, resource: String, namespace: String?, name: String) -> Stored? {
        self.state.withLock { state in
            state.objects.first {
                $0.group == group && $0.resource == resource && $0.namespace == namespace && $0.name == name
            }
        }
    }

    /// Adds (or replaces) an object an attacker sent, with server-set metadata; nil when the cluster is full or
    /// the name is taken (`replace` false).
    func store(
        group: String,
        resource: String,
        namespace: String?,
        name: String,
        object: K8sJSON,
        now: Int,
        replace: Bool
    ) -> Result<K8sJSON, K8sStoreError> {
        self.state.withLock { state in
            let existing = state.objects.firstIndex {
                $0.group == group && $0.resource == resource && $0.namespace == namespace && $0.name == name
            }
            if existing != nil && !replace { return .failure(.alreadyExists) }
            if existing == nil && state.created >= Self.maximumCreated { return .failure(.full) }
            state.resourceVersion += 1
            var metadata = object["metadata"] ?? .empty
            metadata = metadata.setting("name", .string(name))
            if let namespace { metadata = metadata.setting("namespace", .string(namespace)) }
            metadata = metadata.setting("uid", .string(self.objects.uid("created \(state.resourceVersion) \(name)")))
            metadata = metadata.setting("resourceVersion", .string(String(state.resourceVersion)))
            let created = existing.map { state.objects[$0].created } ?? now
            metadata = metadata.setting("creationTimestamp", .string(K8sTime.iso(created)))
            let stored = object.setting("metadata", metadata)
            let entry = Stored(
                group: group,
                resource: resource,
                namespace: namespace,
                name: name,
                created: created,
                object: stored
            )
            if let existing {
                state.objects[existing] = entry
            } else {
                state.objects.append(entry)
                state.created += 1
            }
            return .success(stored)
        }
    }

    func delete(group: String, resource: String, namespace: String?, name: String) -> Stored? {
        self.state.withLock { state in
            guard
                let index = state.objects.firstIndex(where: {
                    $0.group == group && $0.resource == resource && $0.namespace == namespace && $0.name == name
                })
            else { return nil }
            state.resourceVersion += 1
            return state.objects.remove(at: index)
        }
    }
}

extension K8sCluster {
    /// Remembers a token the cluster issued (bounded), so using it later works.
    func mint(_ token: String, for serviceAccount: String) {
        self.state.withLock { state in
            if state.minted.count < 256 { state.minted[token] = serviceAccount }
        }
    }

    /// The service account a minted token authenticates as.
    func mintedUser(_ token: String) -> (name: String, groups: [String])? {
        guard let account = self.state.withLock({ $0.minted[token] }) else { return nil }
        let namespace = account.split(separator: ":").dropFirst(2).first.map(String.init) ?? "default"
        return (account, ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"])
    }
}

enum K8sStoreError: Error {
    case alreadyExists
    case full
}
