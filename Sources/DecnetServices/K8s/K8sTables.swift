/// Server-side printing: the `meta.k8s.io/v1` Table kubectl asks for (`Accept: application/json;as=Table;…`),
/// with the columns the API server's printers give each resource and a PartialObjectMetadata (or the whole object)
/// per row.
enum K8sTables {
    struct Column {
        var name: String
        var type = "string"
        var format = ""
        var description: String
        var priority = 0
    }

    static let nameDescription =
        "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
    static let ageDescription =
        "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"

    static func columns(_ resource: String) -> [Column] {
        let name = Column(name: "Name", format: "name", description: Self.nameDescription)
        let age = Column(name: "Age", description: Self.ageDescription)
        switch resource {
        case "pods":
            return [
                name,
                Column(name: "Ready", description: "The aggregate readiness state of this pod for accepting traffic."),
                Column(name: "Status", description: "The aggregate status of the containers in this pod."),
                Column(
                    name: "Restarts",
                    description:
                        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."
                ),
                age,
                Column(
                    name: "IP",
                    description:
                        "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
                    priority: 1
                ),
                Column(
                    name: "Node",
                    description: "NodeName indicates in which node this pod is scheduled.",
                    priority: 1
                ),
                Column(
                    name: "Nominated Node",
                    description: "nominatedNodeName is set only when this pod preempts other pods on the node.",
                    priority: 1
                ),
                Column(
                    name: "Readiness Gates",
                    description: "If specified, all readiness gates will be evaluated for pod readiness.",
                    priority: 1
                ),
            ]
        case "namespaces":
            return [name, Column(name: "Status", description: "The status of the namespace"), age]
        case "nodes":
            return [
                name, Column(name: "Status", description: "The status of the node"),
                Column(name: "Roles", description: "The roles of the node"), age,
                Column(name: "Version", description: "Kubelet Version reported by the node."),
                Column(name: "Internal-IP", description: "List of internal IPs in the node.", priority: 1),
                Column(name: "External-IP", description: "List of external IPs in the node.", priority: 1),
                Column(
                    name: "OS-Image",
                    description:
                        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
                    priority: 1
                ),
                Column(
                    name: "Kernel-Version",
                    description: "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
                    priority: 1
                ),
                Column(
                    name: "Container-Runtime",
                    description:
                        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
                    priority: 1
                ),
            ]
        case "services":
            return [
                name, Column(name: "Type", description: "type determines how the Service is exposed."),
                Column(name: "Cluster-IP", description: "clusterIP is the IP address of the service."),
                Column(name: "External-IP", description: "List of external IPs."),
                Column(name: "Port(s)", description: "The list of ports that are exposed by this service."), age,
                Column(
                    name: "Selector",
                    description: "Route service traffic to pods with label keys and values matching this selector.",
                    priority: 1
                ),
            ]
        case "secrets":
            return [
                name, Column(name: "Type", description: "The type of data stored in the secret"),
                Column(name: "Data", type: "integer", description: "The number of entries in Data"), age,
            ]
        case "configmaps":
            return [name, Column(name: "Data", type: "integer", description: "The number of entries in Data"), age]
        case "serviceaccounts":
            return [
                name,
                Column(
                    name: "Secrets",
                    type: "integer",
                    description:
                        "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."
                ), age,
            ]
        case "deployments":
            return [
                name, Column(name: "Ready", description: "Number of the pod with ready state"),
                Column(
                    name: "Up-to-date",
                    type: "integer",
                    description:
                        "Total number of non-terminated pods targeted by this deployment that have the desired template spec."
                ),
                Column(
                    name: "Available",
                    type: "integer",
                    description:
                        "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."
                ),
                age,
                Column(name: "Containers", description: "Names of each container in the template.", priority: 1),
                Column(
                    name: "Images",
                    description: "Images referenced by each container in the template.",
                    priority: 1
                ),
                Column(
                    name: "Selector",
                    description:
                        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
                    priority: 1
                ),
            ]
        default:
            return [name, Column(name: "Created At", format: "date", description: Self.ageDescription)]
        }
    }

    /// The cells of one object's row.
    static func cells(_ resource: String, _ item: K8sCluster.Stored, now: Int) -> [K8sJSON] {
        let object = item.object
        let age = K8sJSON.string(K8sTime.human(now - item.created))
        let name = K8sJSON.string(item.name)
        func count(_ key: String) -> K8sJSON {
            if case .object(let pairs) = object[key] ?? .null { return .int(pairs.count) }
            return .int(0)
        }
        switch resource {
        case "pods":
            let statuses: [K8sJSON]
            if case .array(let list) = object["status"]?["containerStatuses"] ?? .null {
                statuses = list
            } else {
                statuses = []
            }
            let containers: Int
            if case .array(let list) = object["spec"]?["containers"] ?? .null {
                containers = list.count
            } else {
                containers = 0
            }
            let ready = statuses.filter { $0["ready"] == .bool(true) }.count
            let restarts = statuses.reduce(0) { total, status in
                // An int32 in Kubernetes; whatever a client stored is held to that (a sum of them cannot overflow).
                if case .int(let value) = status["restartCount"] ?? .null {
                    return total + min(max(value, 0), Int(Int32.max))
                }
                return total
            }
            let phase = object["status"]?["phase"]?.stringValue ?? "Pending"
            let shown = phase == "Pending" && statuses.isEmpty ? "ContainerCreating" : phase
            return [
                name, .string("\(ready)/\(containers)"), .string(shown), .string(String(restarts)), age,
                .string(object["status"]?["podIP"]?.stringValue ?? "<none>"),
                .string(object["spec"]?["nodeName"]?.stringValue ?? "<none>"), "<none>", "<none>",
            ]
        case "namespaces":
            return [name, .string(object["status"]?["phase"]?.stringValue ?? "Active"), age]
        case "nodes":
            let labels: [(String, K8sJSON)]
            if case .object(let pairs) = object["metadata"]?["labels"] ?? .null { labels = pairs } else { labels = [] }
            let roles = labels.map(\.0).filter { $0.hasPrefix("node-role.kubernetes.io/") }
                .map { String($0.dropFirst("node-role.kubernetes.io/".count)) }
            let info = object["status"]?["nodeInfo"]
            var internalIP = "<none>"
            if case .array(let addresses) = object["status"]?["addresses"] ?? .null,
                let address = addresses.first(where: { $0["type"]?.stringValue == "InternalIP" })?["address"]?
                    .stringValue
            {
                internalIP = address
            }
            return [
                name, "Ready", .string(roles.isEmpty ? "<none>" : roles.joined(separator: ",")), age,
                .string(info?["kubeletVersion"]?.stringValue ?? ""), .string(internalIP), "<none>",
                .string(info?["osImage"]?.stringValue ?? ""), .string(info?["kernelVersion"]?.stringValue ?? ""),
                .string(info?["containerRuntimeVersion"]?.stringValue ?? ""),
            ]
        case "services":
            var ports: [String] = []
            if case .array(let list) = object["spec"]?["ports"] ?? .null {
                for port in list {
                    if case .int(let number) = port["port"] ?? .null {
                        ports.append("\(number)/\(port["protocol"]?.stringValue ?? "TCP")")
                    }
                }
            }
            var selector = "<none>"
            if case .object(let pairs) = object["spec"]?["selector"] ?? .null, !pairs.isEmpty {
                selector = pairs.map { "\($0.0)=\($0.1.stringValue ?? "")" }.joined(separator: ",")
            }
            return [
                name, .string(object["spec"]?["type"]?.stringValue ?? "ClusterIP"),
                .string(object["spec"]?["clusterIP"]?.stringValue ?? "None"), "<none>",
                .string(ports.isEmpty ? "<none>" : ports.joined(separator: ",")), age, .string(selector),
            ]
        case "secrets":
            return [name, .string(object["type"]?.stringValue ?? "Opaque"), count("data"), age]
        case "configmaps":
            return [name, count("data"), age]
        case "serviceaccounts":
            return [name, 0, age]
        case "deployments":
            let replicas = object["spec"]?["replicas"] ?? .int(1)
            let ready = object["status"]?["readyReplicas"] ?? .int(0)
            func number(_ value: K8sJSON) -> Int { if case .int(let n) = value { return n } else { return 0 } }
            var containers: [String] = []
            var images: [String] = []
            if case .array(let list) = object["spec"]?["template"]?["spec"]?["containers"] ?? .null {
                containers = list.compactMap { $0["name"]?.stringValue }
                images = list.compactMap { $0["image"]?.stringValue }
            }
            var selector = ""
            if case .object(let pairs) = object["spec"]?["selector"]?["matchLabels"] ?? .null {
                selector = pairs.map { "\($0.0)=\($0.1.stringValue ?? "")" }.joined(separator: ",")
            }
            return [
                name, .string("\(number(ready))/\(number(replicas))"), object["status"]?["updatedReplicas"] ?? 0,
                object["status"]?["availableReplicas"] ?? 0, age, .string(containers.joined(separator: ",")),
                .string(images.joined(separator: ",")), .string(selector),
            ]
        default:
            return [name, .string(K8sTime.iso(item.created))]
        }
    }

    /// A Table of `items`; `includeObject` is the request's (`Metadata` by default, `Object`, `None`).
    static func table(
        _ resource: String,
        _ items: [K8sCluster.Stored],
        now: Int,
        includeObject: String?,
        resourceVersion: Int,
        withColumns: Bool = true
    ) -> K8sJSON {
        let definitions: [K8sJSON] = Self.columns(resource).map { column in
            .object([
                ("name", .string(column.name)), ("type", .string(column.type)), ("format", .string(column.format)),
                ("description", .string(column.description)), ("priority", .int(column.priority)),
            ])
        }
        let rows: [K8sJSON] = items.map { item in
            var row: [(String, K8sJSON)] = [("cells", .array(Self.cells(resource, item, now: now)))]
            switch includeObject?.lowercased() {
            case "none": break
            case "object": row.append(("object", item.object))
            default:
                row.append(
                    (
                        "object",
                        .object([
                            ("kind", "PartialObjectMetadata"), ("apiVersion", "meta.k8s.io/v1"),
                            ("metadata", item.object["metadata"] ?? .empty),
                        ])
                    )
                )
            }
            return .object(row)
        }
        return .object([
            ("kind", "Table"), ("apiVersion", "meta.k8s.io/v1"),
            ("metadata", .object([("resourceVersion", .string(String(resourceVersion)))])),
            ("columnDefinitions", withColumns ? .array(definitions) : .null), ("rows", .array(rows)),
        ])
    }
}
