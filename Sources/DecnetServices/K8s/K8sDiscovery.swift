import Crypto
import Foundation

/// The API groups and resources the server offers, and the discovery documents built from them: the legacy
/// `/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>` and the aggregated discovery lists (`apidiscovery.k8s.io`
/// v2beta1 and v2) that kubectl 1.27 onwards asks for first.
struct K8sDiscovery: Sendable {
    /// One resource of a group version.
    struct Resource: Sendable, Equatable {
        var group: String
        var version: String
        var name: String
        var singular: String
        var kind: String
        var namespaced: Bool
        var verbs: [String]
        var shortNames: [String]
        var categories: [String]
        /// (name, kind as `group/version/Kind` or `Kind`, verbs).
        var subresources: [(name: String, kind: String, verbs: [String])]

        static func == (lhs: Resource, rhs: Resource) -> Bool {
            lhs.group == rhs.group && lhs.version == rhs.version && lhs.name == rhs.name
        }

        var groupVersion: String { self.group.isEmpty ? self.version : "\(self.group)/\(self.version)" }

        /// `pods`, `deployments.apps`: the name errors and records give a resource.
        var qualifiedName: String { self.group.isEmpty ? self.name : "\(self.name).\(self.group)" }

        /// What the API server derives from group, version and kind: base64 of the first 8 bytes of SHA-256.
        var storageVersionHash: String {
            let digest = SHA256.hash(data: Array("\(self.group)/\(self.version)/\(self.kind)".utf8))
            return Data(Array(digest).prefix(8)).base64EncodedString()
        }
    }

    static let standardVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    /// `group/version|plural|singular|Kind|N or C|verbs (std or a,b)|short names|categories|sub:Kind:verbs;…`.
    private static let table = """
        v1|bindings|binding|Binding|N|create|||
        v1|componentstatuses|componentstatus|ComponentStatus|C|get,list|cs||
        v1|configmaps|configmap|ConfigMap|N|std|cm||
        v1|endpoints|endpoints|Endpoints|N|std|ep||
        v1|events|event|Event|N|std|ev||
        v1|limitranges|limitrange|LimitRange|N|std|limits||
        v1|namespaces|namespace|Namespace|C|create,delete,get,list,patch,update,watch|ns||finalize:Namespace:update;status:Namespace:get,patch,update
        v1|nodes|node|Node|C|std|no||proxy:NodeProxyOptions:create,delete,get,patch,update;status:Node:get,patch,update
        v1|persistentvolumeclaims|persistentvolumeclaim|PersistentVolumeClaim|N|std|pvc||status:PersistentVolumeClaim:get,patch,update
        v1|persistentvolumes|persistentvolume|PersistentVolume|C|std|pv||status:PersistentVolume:get,patch,update
        v1|pods|pod|Pod|N|std|po|all|attach:PodAttachOptions:create,get;binding:Binding:create;ephemeralcontainers:Pod:get,patch,update;eviction:policy/v1/Eviction:create;exec:PodExecOptions:create,get;log:Pod:get;portforward:PodPortForwardOptions:create,get;proxy:PodProxyOptions:create,delete,get,patch,update;status:Pod:get,patch,update
        v1|podtemplates|podtemplate|PodTemplate|N|std|||
        v1|replicationcontrollers|replicationcontroller|ReplicationController|N|std|rc|all|scale:autoscaling/v1/Scale:get,patch,update;status:ReplicationController:get,patch,update
        v1|resourcequotas|resourcequota|ResourceQuota|N|std|quota||status:ResourceQuota:get,patch,update
        v1|secrets|secret|Secret|N|std|||
        v1|serviceaccounts|serviceaccount|ServiceAccount|N|std|sa||token:authentication.k8s.io/v1/TokenRequest:create
        v1|services|service|Service|N|std|svc|all|proxy:ServiceProxyOptions:create,delete,get,patch,update;status:Service:get,patch,update
        apiregistration.k8s.io/v1|apiservices|apiservice|APIService|C|std||api-extensions|status:APIService:get,patch,update
        apps/v1|controllerrevisions|controllerrevision|ControllerRevision|N|std|||
        apps/v1|daemonsets|daemonset|DaemonSet|N|std|ds|all|status:DaemonSet:get,patch,update
        apps/v1|deployments|deployment|Deployment|N|std|deploy|all|scale:autoscaling/v1/Scale:get,patch,update;status:Deployment:get,patch,update
        apps/v1|replicasets|replicaset|ReplicaSet|N|std|rs|all|scale:autoscaling/v1/Scale:get,patch,update;status:ReplicaSet:get,patch,update
        apps/v1|statefulsets|statefulset|StatefulSet|N|std|sts|all|scale:autoscaling/v1/Scale:get,patch,update;status:StatefulSet:get,patch,update
        events.k8s.io/v1|events|event|Event|N|std|ev||
        authentication.k8s.io/v1|selfsubjectreviews|selfsubjectreview|SelfSubjectReview|C|create|||
        authentication.k8s.io/v1|tokenreviews|tokenreview|TokenReview|C|create|||
        authorization.k8s.io/v1|localsubjectaccessreviews|localsubjectaccessreview|LocalSubjectAccessReview|N|create|||
        authorization.k8s.io/v1|selfsubjectaccessreviews|selfsubjectaccessreview|SelfSubjectAccessReview|C|create|||
        authorization.k8s.io/v1|selfsubjectrulesreviews|selfsubjectrulesreview|SelfSubjectRulesReview|C|create|||
        authorization.k8s.io/v1|subjectaccessreviews|subjectaccessreview|SubjectAccessReview|C|create|||
        autoscaling/v2|horizontalpodautoscalers|horizontalpodautoscaler|HorizontalPodAutoscaler|N|std|hpa|all|status:HorizontalPodAutoscaler:get,patch,update
        autoscaling/v1|horizontalpodautoscalers|horizontalpodautoscaler|HorizontalPodAutoscaler|N|std|hpa|all|status:HorizontalPodAutoscaler:get,patch,update
        batch/v1|cronjobs|cronjob|CronJob|N|std|cj|all|status:CronJob:get,patch,update
        batch/v1|jobs|job|Job|N|std||all|status:Job:get,patch,update
        certificates.k8s.io/v1|certificatesigningrequests|certificatesigningrequest|CertificateSigningRequest|C|std|csr||approval:CertificateSigningRequest:get,patch,update;status:CertificateSigningRequest:get,patch,update
        networking.k8s.io/v1|ingressclasses|ingressclass|IngressClass|C|std|||
        networking.k8s.io/v1|ingresses|ingress|Ingress|N|std|ing||status:Ingress:get,patch,update
        networking.k8s.io/v1|networkpolicies|networkpolicy|NetworkPolicy|N|std|netpol||
        policy/v1|poddisruptionbudgets|poddisruptionbudget|PodDisruptionBudget|N|std|pdb||status:PodDisruptionBudget:get,patch,update
        rbac.authorization.k8s.io/v1|clusterrolebindings|clusterrolebinding|ClusterRoleBinding|C|std|||
        rbac.authorization.k8s.io/v1|clusterroles|clusterrole|ClusterRole|C|std|||
        rbac.authorization.k8s.io/v1|rolebindings|rolebinding|RoleBinding|N|std|||
        rbac.authorization.k8s.io/v1|roles|role|Role|N|std|||
        storage.k8s.io/v1|csidrivers|csidriver|CSIDriver|C|std|||
        storage.k8s.io/v1|csinodes|csinode|CSINode|C|std|||
        storage.k8s.io/v1|csistoragecapacities|csistoragecapacity|CSIStorageCapacity|N|std|||
        storage.k8s.io/v1|storageclasses|storageclass|StorageClass|C|std|sc||
        storage.k8s.io/v1|volumeattachments|volumeattachment|VolumeAttachment|C|std|||status:VolumeAttachment:get,patch,update
        admissionregistration.k8s.io/v1|mutatingwebhookconfigurations|mutatingwebhookconfiguration|MutatingWebhookConfiguration|C|std||api-extensions|
        admissionregistration.k8s.io/v1|validatingwebhookconfigurations|validatingwebhookconfiguration|ValidatingWebhookConfiguration|C|std||api-extensions|
        apiextensions.k8s.io/v1|customresourcedefinitions|customresourcedefinition|CustomResourceDefinition|C|std|crd,crds|api-extensions|status:CustomResourceDefinition:get,patch,update
        scheduling.k8s.io/v1|priorityclasses|priorityclass|PriorityClass|C|std|pc||
        coordination.k8s.io/v1|leases|lease|Lease|N|std|||
        node.k8s.io/v1|runtimeclasses|runtimeclass|RuntimeClass|C|std|||
        discovery.k8s.io/v1|endpointslices|endpointslice|EndpointSlice|N|std|||
        flowcontrol.apiserver.k8s.io/FLOW|flowschemas|flowschema|FlowSchema|C|std|||status:FlowSchema:get,patch,update
        flowcontrol.apiserver.k8s.io/FLOW|prioritylevelconfigurations|prioritylevelconfiguration|PriorityLevelConfiguration|C|std|||status:PriorityLevelConfiguration:get,patch,update
        """

    let release: K8sRelease
    let resources: [Resource]
    /// Groups in the order `/apis` lists them, each with its versions, preferred first.
    let groups: [(name: String, versions: [String])]

    init(release: K8sRelease) {
        self.release = release
        // flowcontrol went GA in 1.29; before, v1beta3 was served.
        let flow = release.minor >= 29 ? "v1" : "v1beta3"
        var resources: [Resource] = []
        var groups: [(name: String, versions: [String])] = []
        for line in Self.table.split(separator: "\n") {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 9 else { continue }
            let groupVersion = fields[0].replacingOccurrences(of: "FLOW", with: flow)
            let slash = groupVersion.lastIndex(of: "/")
            let group = slash.map { String(groupVersion[..<$0]) } ?? ""
            let version = slash.map { String(groupVersion[groupVersion.index(after: $0)...]) } ?? groupVersion
            if release.minor < 28 && fields[1] == "selfsubjectreviews" { continue }
            let subresources = fields[8].split(separator: ";").compactMap { item -> (String, String, [String])? in
                let parts = item.split(separator: ":").map(String.init)
                guard parts.count == 3 else { return nil }
                return (parts[0], parts[1], parts[2].split(separator: ",").map(String.init))
            }
            resources.append(
                Resource(
                    group: group,
                    version: version,
                    name: fields[1],
                    singular: fields[2],
                    kind: fields[3],
                    namespaced: fields[4] == "N",
                    verbs: fields[5] == "std" ? Self.standardVerbs : fields[5].split(separator: ",").map(String.init),
                    shortNames: fields[6].split(separator: ",").map(String.init),
                    categories: fields[7].split(separator: ",").map(String.init),
                    subresources: subresources.map { (name: $0.0, kind: $0.1, verbs: $0.2) }
                )
            )
            if !group.isEmpty {
                if let index = groups.firstIndex(where: { $0.name == group }) {
                    if !groups[index].versions.contains(version) { groups[index].versions.append(version) }
                } else {
                    groups.append((group, [version]))
                }
            }
        }
        self.resources = resources
        self.groups = groups
    }

    /// The resource named `name` (plural, singular or short name) in `group`/`version`.
    func resource(group: String, version: String, name: String) -> Resource? {
        self.resources.first { $0.group == group && $0.version == version && $0.name == name }
    }

    func resources(group: String, version: String) -> [Resource] {
        self.resources.filter { $0.group == group && $0.version == version }
    }

    func servesGroupVersion(_ group: String, _ version: String) -> Bool {
        self.resources.contains { $0.group == group && $0.version == version }
    }

    // MARK: Legacy discovery

    /// `/api`.
    func apiVersions(serverAddress: String) -> K8sJSON {
        .object([
            ("kind", "APIVersions"), ("versions", .strings(["v1"])),
            (
                "serverAddressByClientCIDRs",
                .array([.object([("clientCIDR", "0.0.0.0/0"), ("serverAddress", .string(serverAddress))])])
            ),
        ])
    }

    private func groupDocument(_ name: String, _ versions: [String]) -> [(String, K8sJSON)] {
        let entries = versions.map {
            K8sJSON.object([("groupVersion", .string("\(name)/\($0)")), ("version", .string($0))])
        }
        return [("name", .string(name)), ("versions", .array(entries)), ("preferredVersion", entries[0])]
    }

    /// `/apis`.
    var apiGroupList: K8sJSON {
        .object([
            ("kind", "APIGroupList"), ("apiVersion", "v1"),
            ("groups", .array(self.groups.map { .object(self.groupDocument($0.name, $0.versions)) })),
        ])
    }

    /// `/apis/<group>`.
    func apiGroup(_ name: String) -> K8sJSON? {
        guard let group = self.groups.first(where: { $0.name == name }) else { return nil }
        return .object([("kind", "APIGroup"), ("apiVersion", "v1")] + self.groupDocument(group.name, group.versions))
    }

    /// `/api/v1`, `/apis/<group>/<version>`: every resource, its subresources after it, sorted by name.
    func resourceList(group: String, version: String) -> K8sJSON? {
        let resources = self.resources(group: group, version: version)
        guard !resources.isEmpty else { return nil }
        var entries: [(String, K8sJSON)] = []
        for resource in resources {
            var fields: [(String, K8sJSON)] = [
                ("name", .string(resource.name)), ("singularName", .string(resource.singular)),
                ("namespaced", .bool(resource.namespaced)), ("kind", .string(resource.kind)),
                ("verbs", .strings(resource.verbs)),
            ]
            if !resource.shortNames.isEmpty { fields.append(("shortNames", .strings(resource.shortNames))) }
            if !resource.categories.isEmpty { fields.append(("categories", .strings(resource.categories))) }
            if resource.verbs.contains("list") {
                fields.append(("storageVersionHash", .string(resource.storageVersionHash)))
            }
            entries.append((resource.name, .object(fields)))
            for sub in resource.subresources {
                let (subGroup, subVersion, subKind) = Self.split(kind: sub.kind)
                var subFields: [(String, K8sJSON)] = [
                    ("name", .string("\(resource.name)/\(sub.name)")), ("singularName", ""),
                    ("namespaced", .bool(resource.namespaced)),
                ]
                if let subGroup, let subVersion {
                    subFields += [("group", .string(subGroup)), ("version", .string(subVersion))]
                }
                subFields += [("kind", .string(subKind)), ("verbs", .strings(sub.verbs))]
                entries.append(("\(resource.name)/\(sub.name)", .object(subFields)))
            }
        }
        let sorted = entries.sorted { $0.0 < $1.0 }.map(\.1)
        var document: [(String, K8sJSON)] = [("kind", "APIResourceList")]
        if !group.isEmpty { document.append(("apiVersion", "v1")) }
        document += [
            ("groupVersion", .string(group.isEmpty ? version : "\(group)/\(version)")), ("resources", .array(sorted)),
        ]
        return .object(document)
    }

    /// `policy/v1/Eviction` → ("policy", "v1", "Eviction"); `Pod` → (nil, nil, "Pod").
    static func split(kind: String) -> (String?, String?, String) {
        let parts = kind.split(separator: "/").map(String.init)
        guard parts.count == 3 else { return (nil, nil, kind) }
        return (parts[0], parts[1], parts[2])
    }

    // MARK: Aggregated discovery

    /// `/api` (`core`) or `/apis` as an `APIGroupDiscoveryList` of `version` (`v2beta1`, `v2`).
    func aggregated(core: Bool, version: String) -> K8sJSON {
        var items: [K8sJSON] = []
        if core {
            items.append(
                .object([
                    ("metadata", .object([("creationTimestamp", .null)])),
                    ("versions", .array([self.discoveryVersion("", "v1")])),
                ])
            )
        } else {
            for group in self.groups {
                items.append(
                    .object([
                        ("metadata", .object([("name", .string(group.name)), ("creationTimestamp", .null)])),
                        ("versions", .array(group.versions.map { self.discoveryVersion(group.name, $0) })),
                    ])
                )
            }
        }
        return .object([
            ("kind", "APIGroupDiscoveryList"), ("apiVersion", .string("apidiscovery.k8s.io/\(version)")),
            ("metadata", .empty), ("items", .array(items)),
        ])
    }

    private func discoveryVersion(_ group: String, _ version: String) -> K8sJSON {
        let resources = self.resources(group: group, version: version).sorted { $0.name < $1.name }.map { resource in
            var fields: [(String, K8sJSON)] = [
                ("resource", .string(resource.name)),
                ("responseKind", .object([("group", ""), ("version", ""), ("kind", .string(resource.kind))])),
                ("scope", resource.namespaced ? "Namespaced" : "Cluster"),
                ("singularResource", .string(resource.singular)), ("verbs", .strings(resource.verbs)),
            ]
            if !resource.shortNames.isEmpty { fields.append(("shortNames", .strings(resource.shortNames))) }
            if !resource.categories.isEmpty { fields.append(("categories", .strings(resource.categories))) }
            if !resource.subresources.isEmpty {
                fields.append(
                    (
                        "subresources",
                        .array(
                            resource.subresources.map { sub in
                                let (subGroup, subVersion, subKind) = Self.split(kind: sub.kind)
                                return .object([
                                    ("subresource", .string(sub.name)),
                                    (
                                        "responseKind",
                                        .object([
                                            ("group", .string(subGroup ?? "")), ("version", .string(subVersion ?? "")),
                                            ("kind", .string(subKind)),
                                        ])
                                    ),
                                    ("verbs", .strings(sub.verbs)),
                                ])
                            }
                        )
                    )
                )
            }
            return K8sJSON.object(fields)
        }
        return .object([("version", .string(version)), ("resources", .array(resources)), ("freshness", "Current")])
    }

    // MARK: OpenAPI v3

    /// `/openapi/v3`: where each group version's document is, as kubectl's schema and field-validation checks
    /// look it up.
    var openAPIIndex: K8sJSON {
        var entries: [(String, K8sJSON)] = []
        var groupVersions = [("", "v1")]
        for group in self.groups { groupVersions += group.versions.map { (group.name, $0) } }
        for (group, version) in groupVersions {
            let path = group.isEmpty ? "api/\(version)" : "apis/\(group)/\(version)"
            let hash = Self.openAPIHash(self.openAPIDocument(group: group, version: version))
            entries.append((path, .object([("serverRelativeURL", .string("/openapi/v3/\(path)?hash=\(hash)"))])))
        }
        for path in ["api", "apis", "version", ".well-known/openid-configuration", "openid/v1/jwks", "logs"] {
            entries.append(
                (
                    path,
                    .object([
                        ("serverRelativeURL", .string("/openapi/v3/\(path)?hash=\(Self.openAPIHash(.string(path)))"))
                    ])
                )
            )
        }
        return .object([("paths", .object(entries.sorted { $0.0 < $1.0 }))])
    }

    static func openAPIHash(_ document: K8sJSON) -> String {
        SHA512.hash(data: document.encoded).map { String(format: "%02X", $0) }.joined()
    }

    /// A group version's OpenAPI v3 document: each resource's item path with its operations, tagged with the
    /// group-version-kind and the query parameters (fieldValidation, dryRun, fieldManager) the server takes.
    func openAPIDocument(group: String, version: String) -> K8sJSON {
        let prefix = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        let parameters: K8sJSON = .array(
            ["dryRun", "fieldManager", "fieldValidation", "pretty"].map {
                .object([
                    ("name", .string($0)), ("in", "query"),
                    ("schema", .object([("type", "string"), ("uniqueItems", true)])),
                ])
            }
        )
        var paths: [(String, K8sJSON)] = []
        for resource in self.resources(group: group, version: version) where resource.verbs.contains("patch") {
            let path =
                resource.namespaced
                ? "\(prefix)/namespaces/{namespace}/\(resource.name)/{name}" : "\(prefix)/\(resource.name)/{name}"
            let gvk = K8sJSON.object([
                ("group", .string(group)), ("version", .string(version)), ("kind", .string(resource.kind)),
            ])
            func operation(_ verb: String) -> K8sJSON {
                .object([
                    (
                        "tags",
                        .strings([
                            group.isEmpty
                                ? "core_\(version)"
                                : "\(group.replacingOccurrences(of: ".k8s.io", with: "").replacingOccurrences(of: ".", with: ""))_\(version)"
                        ])
                    ),
                    ("operationId", .string("\(verb)\(resource.kind)")), ("parameters", parameters),
                    ("responses", .object([("200", .object([("description", "OK")]))])),
                    ("x-kubernetes-action", .string(verb == "read" ? "get" : verb)),
                    ("x-kubernetes-group-version-kind", gvk),
                ])
            }
            paths.append(
                (path, .object([("get", operation("read")), ("put", operation("put")), ("patch", operation("patch"))]))
            )
        }
        return .object([
            ("openapi", "3.0.0"),
            ("info", .object([("title", "Kubernetes"), ("version", .string(self.release.gitVersion))])),
            ("paths", .object(paths)),
        ])
    }

    /// The aggregated discovery version an `Accept` header asks for first that this release serves, if any.
    func aggregatedVersion(accept: String) -> String? {
        for item in accept.split(separator: ",") {
            let parameters = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parameters.contains("as=APIGroupDiscoveryList"), parameters.contains("g=apidiscovery.k8s.io"),
                let version = parameters.first(where: { $0.hasPrefix("v=") }).map({ String($0.dropFirst(2)) })
            else { continue }
            if self.release.servesAggregatedDiscovery(version) { return version }
        }
        return nil
    }
}
