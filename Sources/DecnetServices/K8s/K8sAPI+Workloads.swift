import DecnetCore

extension K8sAPI {
    // MARK: What a workload would run

    /// The pod spec inside a workload object.
    static func podSpec(_ object: K8sJSON, resource: String) -> K8sJSON? {
        switch resource {
        case "pods": object["spec"]
        case "podtemplates": object["template"]?["spec"]
        case "cronjobs": object["spec"]?["jobTemplate"]?["spec"]?["template"]?["spec"]
        case "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "replicationcontrollers":
            object["spec"]?["template"]?["spec"]
        default: nil
        }
    }

    /// The `command.input` fields of a creation: what would run (images, commands, host mounts, privilege) for
    /// workloads, the bindings for RBAC objects.
    static func describe(_ object: K8sJSON, definition: K8sDiscovery.Resource, command: String) -> EventFields {
        var fields = EventFields()
        fields.add("command", command)
        fields.add("resource", definition.qualifiedName)
        if let spec = Self.podSpec(object, resource: definition.name) {
            var images: [String] = []
            var commands: [String] = []
            var privileged = false
            var capabilities: [String] = []
            if case .array(let containers) = spec["containers"] ?? .null {
                var all = containers
                if case .array(let initContainers) = spec["initContainers"] ?? .null { all = initContainers + all }
                for container in all.prefix(32) {
                    images.append(container["image"]?.stringValue ?? "")
                    var words: [String] = []
                    for key in ["command", "args"] {
                        if case .array(let list) = container[key] ?? .null { words += list.compactMap(\.stringValue) }
                    }
                    if !words.isEmpty { commands.append(words.joined(separator: " ")) }
                    if container["securityContext"]?["privileged"] == .bool(true) { privileged = true }
                    if case .array(let added) = container["securityContext"]?["capabilities"]?["add"] ?? .null {
                        capabilities += added.compactMap(\.stringValue)
                    }
                }
            }
            var hostPaths: [String] = []
            if case .array(let volumes) = spec["volumes"] ?? .null {
                hostPaths = volumes.compactMap { $0["hostPath"]?["path"]?.stringValue }
            }
            fields.add("image", attackerText: images.joined(separator: ","))
            fields.add("args", attackerText: commands.joined(separator: " ; "))
            if !hostPaths.isEmpty { fields.add("host_path", attackerText: hostPaths.joined(separator: ",")) }
            fields.add("privileged", privileged ? "true" : "false")
            for (key, name) in [("hostPID", "host_pid"), ("hostNetwork", "host_network"), ("hostIPC", "host_ipc")] {
                fields.add(name, spec[key] == .bool(true) ? "true" : "false")
            }
            if !capabilities.isEmpty { fields.add("capabilities", attackerText: capabilities.joined(separator: ",")) }
            if let account = spec["serviceAccountName"]?.stringValue {
                fields.add("service_account", attackerText: account)
            }
            if let node = spec["nodeName"]?.stringValue { fields.add("node_name", attackerText: node) }
        } else if ["clusterrolebindings", "rolebindings"].contains(definition.name) {
            let role = object["roleRef"]?["name"]?.stringValue ?? ""
            var subjects: [String] = []
            if case .array(let list) = object["subjects"] ?? .null {
                subjects = list.map { "\($0["kind"]?.stringValue ?? "")/\($0["name"]?.stringValue ?? "")" }
            }
            fields.add("args", attackerText: "\(role) -> \(subjects.joined(separator: ","))")
        }
        return fields
    }

    static func commandName(_ definition: K8sDiscovery.Resource) -> String {
        switch definition.name {
        case "pods": "pod.create"
        case "clusterrolebindings", "rolebindings", "clusterroles", "roles": "rbac.create"
        case "secrets": "secret.create"
        default: Self.podSpecResources.contains(definition.name) ? "workload.create" : "k8s.create"
        }
    }

    static let podSpecResources: Set<String> = [
        "podtemplates", "cronjobs", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs",
        "replicationcontrollers",
    ]
}
