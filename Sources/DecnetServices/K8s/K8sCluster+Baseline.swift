import Foundation

/// The objects a kubeadm cluster a few months old holds.
struct K8sBaseline {
    let objects: K8sObjects
    let release: K8sRelease
    let nodes: [(name: String, ip: String)]
    let caPEM: String
    var resourceVersion: Int
    var stored: [K8sCluster.Stored] = []

    init(
        objects: K8sObjects,
        release: K8sRelease,
        nodes: [(name: String, ip: String)],
        caPEM: String,
        resourceVersion: Int
    ) {
        self.objects = objects
        self.release = release
        self.nodes = nodes
        self.caPEM = caPEM
        self.resourceVersion = resourceVersion
    }

    var born: Int {
        self.objects.now - self.objects.number("age", 45...320) * 86_400 - self.objects.number("hour", 0...80_000)
    }

    mutating func add(
        _ group: String,
        _ resource: String,
        _ namespace: String?,
        _ name: String,
        _ created: Int,
        _ object: K8sJSON
    ) {
        self.stored.append(
            K8sCluster.Stored(
                group: group,
                resource: resource,
                namespace: namespace,
                name: name,
                created: created,
                object: object
            )
        )
    }

    /// Stores an object as the API server returns it: kind, apiVersion (`v1`, or the group's `v1`), metadata
    /// with the next resourceVersion, then `fields`.
    mutating func add(
        _ group: String,
        _ resource: String,
        kind: String,
        _ namespace: String?,
        _ name: String,
        _ created: Int,
        labels: [String: String] = [:],
        annotations: [String: String] = [:],
        _ fields: [(String, K8sJSON)] = []
    ) {
        let metadata = self.objects.metadata(
            name,
            namespace: namespace,
            created: created,
            resourceVersion: self.rv(),
            labels: labels,
            annotations: annotations
        )
        let head: [(String, K8sJSON)] = [
            ("kind", .string(kind)), ("apiVersion", .string(group.isEmpty ? "v1" : "\(group)/v1")),
            ("metadata", metadata),
        ]
        self.add(group, resource, namespace, name, created, .object(head + fields))
    }

    mutating func rv() -> Int {
        self.resourceVersion += self.objects.number("step \(self.resourceVersion)", 1...40)
        return self.resourceVersion
    }

    mutating func build() {
        let born = self.born
        let o = self.objects
        let cp = self.nodes[0]
        let (coredns, etcd, _) = self.release.addOns
        let version = self.release.gitVersion
        let namespaces = ["default", "kube-flannel", "kube-node-lease", "kube-public", "kube-system", "monitoring"]
        for (index, name) in namespaces.enumerated() {
            let created = name == "monitoring" || name == "kube-flannel" ? born + 3_600 + index * 60 : born + 5
            self.add(
                "",
                "namespaces",
                kind: "Namespace",
                nil,
                name,
                created,
                labels: ["kubernetes.io/metadata.name": name],
                [
                    ("spec", .object([("finalizers", .strings(["kubernetes"]))])),
                    ("status", .object([("phase", "Active")])),
                ]
            )
            self.configMap(name, "kube-root-ca.crt", created + 20, ["ca.crt": self.caPEM])
            self.serviceAccount(name, "default", created + 20)
        }
        for (index, node) in self.nodes.enumerated() {
            self.node(
                node.name,
                node.ip,
                controlPlane: index == 0,
                created: born + index * 1_500,
                podCIDR: "10.244.\(index).0/24"
            )
        }
        // The control plane's static pods and add-ons.
        let staticPods: [(String, String, [String])] = [
            (
                "etcd", "registry.k8s.io/etcd:\(etcd)",
                [
                    "etcd", "--advertise-client-urls=https://\(cp.ip):2379",
                    "--cert-file=/etc/kubernetes/pki/etcd/server.crt", "--data-dir=/var/lib/etcd",
                    "--listen-client-urls=https://127.0.0.1:2379,https://\(cp.ip):2379", "--name=\(cp.name)",
                ]
            ),
            (
                "kube-apiserver", "registry.k8s.io/kube-apiserver:\(version)",
                [
                    "kube-apiserver", "--advertise-address=\(cp.ip)", "--allow-privileged=true",
                    "--authorization-mode=Node,RBAC", "--client-ca-file=/etc/kubernetes/pki/ca.crt",
                    "--enable-admission-plugins=NodeRestriction", "--etcd-servers=https://127.0.0.1:2379",
                    "--secure-port=6443", "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    "--service-cluster-ip-range=10.96.0.0/12", "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
                ]
            ),
            (
                "kube-controller-manager", "registry.k8s.io/kube-controller-manager:\(version)",
                [
                    "kube-controller-manager", "--allocate-node-cidrs=true", "--cluster-cidr=10.244.0.0/16",
                    "--kubeconfig=/etc/kubernetes/controller-manager.conf", "--leader-elect=true",
                    "--service-account-private-key-file=/etc/kubernetes/pki/sa.key",
                    "--use-service-account-credentials=true",
                ]
            ),
            (
                "kube-scheduler", "registry.k8s.io/kube-scheduler:\(version)",
                ["kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"]
            ),
        ]
        for (name, image, command) in staticPods {
            let pod = K8sObjects.PodSpec(
                name: "\(name)-\(cp.name)",
                namespace: "kube-system",
                node: cp.name,
                hostIP: cp.ip,
                podIP: cp.ip,
                containers: [(name, image, command)],
                labels: ["component": name, "tier": "control-plane"],
                owner: ("Node", "v1", cp.name),
                hostNetwork: true,
                created: born + 30,
                restarts: o.number("restarts \(name)", 0...3),
                serviceAccount: "default",
                priorityClass: "system-node-critical"
            )
            self.pod(pod)
        }
        let corednsHash = o.suffix("coredns rs", length: 10)
        for index in 0..<2 {
            let pod = K8sObjects.PodSpec(
                name: "coredns-\(corednsHash)-\(o.suffix("coredns \(index)", length: 5))",
                namespace: "kube-system",
                node: cp.name,
                hostIP: cp.ip,
                podIP: "10.244.0.\(2 + index)",
                containers: [("coredns", "registry.k8s.io/coredns/coredns:\(coredns)", [])],
                labels: ["k8s-app": "kube-dns", "pod-template-hash": corednsHash],
                owner: ("ReplicaSet", "apps/v1", "coredns-\(corednsHash)"),
                created: born + 90,
                serviceAccount: "coredns",
                priorityClass: "system-cluster-critical"
            )
            self.pod(pod)
        }
        for (index, node) in self.nodes.enumerated() {
            self.pod(
                K8sObjects.PodSpec(
                    name: "kube-proxy-\(o.suffix("proxy \(index)", length: 5))",
                    namespace: "kube-system",
                    node: node.name,
                    hostIP: node.ip,
                    podIP: node.ip,
                    containers: [
                        (
                            "kube-proxy", "registry.k8s.io/kube-proxy:\(version)",
                            [
                                "/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                                "--hostname-override=$(NODE_NAME)",
                            ]
                        )
                    ],
                    labels: ["k8s-app": "kube-proxy"],
                    owner: ("DaemonSet", "apps/v1", "kube-proxy"),
                    hostNetwork: true,
                    created: born + 60 + index * 1_500,
                    serviceAccount: "kube-proxy",
                    priorityClass: "system-node-critical"
                )
            )
            self.pod(
                K8sObjects.PodSpec(
                    name: "kube-flannel-ds-\(o.suffix("flannel \(index)", length: 5))",
                    namespace: "kube-flannel",
                    node: node.name,
                    hostIP: node.ip,
                    podIP: node.ip,
                    containers: [
                        (
                            "kube-flannel", "docker.io/flannel/flannel:v0.24.2",
                            ["/opt/bin/flanneld", "--ip-masq", "--kube-subnet-mgr"]
                        )
                    ],
                    labels: ["app": "flannel", "k8s-app": "flannel", "tier": "node"],
                    owner: ("DaemonSet", "apps/v1", "kube-flannel-ds"),
                    hostNetwork: true,
                    created: born + 3_700 + index * 1_500,
                    restarts: o.number("flannel restarts \(index)", 0...2),
                    serviceAccount: "flannel",
                    priorityClass: "system-node-critical"
                )
            )
        }
        // Applications.
        let appsBorn = self.objects.now - o.number("apps age", 6...40) * 86_400
        let apps: [(String, String, String, Int, [String: String])] = [
            ("default", "web", "nginx:1.25.4", 2, ["app": "web"]),
            ("default", "redis", "redis:7.2.4", 1, ["app": "redis"]),
            (
                "monitoring", "prometheus-server", "quay.io/prometheus/prometheus:v2.50.1", 1,
                ["app.kubernetes.io/name": "prometheus"]
            ),
            ("monitoring", "grafana", "docker.io/grafana/grafana:10.3.3", 1, ["app.kubernetes.io/name": "grafana"]),
        ]
        var podNumber = 2
        for (appIndex, app) in apps.enumerated() {
            let hash = o.suffix("rs \(app.1)", length: 10)
            for replica in 0..<app.3 {
                let node = self.nodes[1 + (appIndex + replica) % 2]
                podNumber += 1
                self.pod(
                    K8sObjects.PodSpec(
                        name: "\(app.1)-\(hash)-\(o.suffix("pod \(app.1) \(replica)", length: 5))",
                        namespace: app.0,
                        node: node.name,
                        hostIP: node.ip,
                        podIP: "10.244.\(1 + (appIndex + replica) % 2).\(podNumber)",
                        containers: [(app.1.components(separatedBy: "-").first ?? app.1, app.2, [])],
                        labels: app.4.merging(["pod-template-hash": hash]) { a, _ in a },
                        owner: ("ReplicaSet", "apps/v1", "\(app.1)-\(hash)"),
                        created: appsBorn + appIndex * 600,
                        restarts: o.number("app restarts \(app.1) \(replica)", 0...1),
                        serviceAccount: app.0 == "monitoring" ? app.1 : "default"
                    )
                )
            }
            self.deployment(
                app.0,
                app.1,
                image: app.2,
                replicas: app.3,
                labels: app.4,
                created: appsBorn + appIndex * 600
            )
        }
        self.pod(
            K8sObjects.PodSpec(
                name: "postgres-0",
                namespace: "default",
                node: self.nodes[2].name,
                hostIP: self.nodes[2].ip,
                podIP: "10.244.2.\(podNumber + 1)",
                containers: [("postgres", "postgres:15.6", [])],
                labels: ["app": "postgres", "statefulset.kubernetes.io/pod-name": "postgres-0"],
                owner: ("StatefulSet", "apps/v1", "postgres"),
                created: appsBorn + 300
            )
        )
        self.deployment(
            "kube-system",
            "coredns",
            image: "registry.k8s.io/coredns/coredns:\(coredns)",
            replicas: 2,
            labels: ["k8s-app": "kube-dns"],
            created: born + 80
        )
        // Services.
        func clusterIP(_ label: String) -> String {
            "10.\(96 + o.number("svc \(label) a", 0...15)).\(o.number("svc \(label) b", 0...255)).\(o.number("svc \(label) c", 1...254))"
        }
        let services: [(String, String, String, [(String, Int, String)], [String: String])] = [
            ("default", "kubernetes", "10.96.0.1", [("https", 443, "TCP")], [:]),
            (
                "kube-system", "kube-dns", "10.96.0.10",
                [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")], ["k8s-app": "kube-dns"]
            ),
            ("default", "web", clusterIP("web"), [("http", 80, "TCP")], ["app": "web"]),
            ("default", "redis", clusterIP("redis"), [("redis", 6379, "TCP")], ["app": "redis"]),
            ("default", "postgres", clusterIP("postgres"), [("postgres", 5432, "TCP")], ["app": "postgres"]),
            (
                "monitoring", "grafana", clusterIP("grafana"), [("http", 3000, "TCP")],
                ["app.kubernetes.io/name": "grafana"]
            ),
        ]
        for service in services {
            let created = service.1 == "kubernetes" || service.1 == "kube-dns" ? born + 20 : appsBorn
            let ports: [K8sJSON] = service.3.map { port in
                .object([
                    ("name", .string(port.0)), ("protocol", .string(port.2)), ("port", .int(port.1)),
                    ("targetPort", .int(port.1 == 443 ? 6443 : port.1)),
                ])
            }
            var spec: [(String, K8sJSON)] = [("ports", .array(ports))]
            if !service.4.isEmpty { spec.append(("selector", .map(service.4))) }
            spec += [
                ("clusterIP", .string(service.2)), ("clusterIPs", .strings([service.2])), ("type", "ClusterIP"),
                ("sessionAffinity", "None"), ("ipFamilies", .strings(["IPv4"])), ("ipFamilyPolicy", "SingleStack"),
                ("internalTrafficPolicy", "Cluster"),
            ]
            var labels = service.1 == "kubernetes" ? ["component": "apiserver", "provider": "kubernetes"] : service.4
            if service.1 == "kube-dns" {
                labels["kubernetes.io/cluster-service"] = "true"
                labels["kubernetes.io/name"] = "CoreDNS"
            }
            self.add(
                "",
                "services",
                kind: "Service",
                service.0,
                service.1,
                created,
                labels: labels,
                [("spec", .object(spec)), ("status", .object([("loadBalancer", .empty)]))]
            )
        }
        // Bait secrets and config maps, unique to this decky.
        let domain = "\(cp.name.split(separator: "-").first ?? "corp").internal"
        let registryAuth = "ci-deploy:\(o.secret("registry", length: 24))"
        let dockerConfig =
            "{\"auths\":{\"registry.\(domain)\":{\"username\":\"ci-deploy\",\"password\":\"\(registryAuth.dropFirst(10))\",\"auth\":\"\(Data(registryAuth.utf8).base64EncodedString())\"}}}"
        self.secret(
            "default",
            "db-credentials",
            "Opaque",
            appsBorn,
            [
                "username": "app", "password": o.secret("db", length: 20), "host": "postgres.default.svc.cluster.local",
                "database": "app",
            ]
        )
        self.secret(
            "default",
            "regcred",
            "kubernetes.io/dockerconfigjson",
            appsBorn,
            [".dockerconfigjson": dockerConfig]
        )
        self.secret(
            "kube-system",
            "etcd-backup-s3",
            "Opaque",
            born + 7_200,
            [
                "AWS_ACCESS_KEY_ID": "AKIA"
                    + o.secret("aws id", length: 16).uppercased().replacingOccurrences(of: "0", with: "Q"),
                "AWS_SECRET_ACCESS_KEY": o.secret("aws secret", length: 40), "BUCKET": "s3://\(cp.name)-etcd-backups",
            ]
        )
        self.secret(
            "monitoring",
            "grafana",
            "Opaque",
            appsBorn + 1_800,
            ["admin-user": "admin", "admin-password": o.secret("grafana", length: 18)]
        )
        let server = "https://\(cp.ip):6443"
        let caData = Data(self.caPEM.utf8).base64EncodedString()
        self.configMap(
            "kube-public",
            "cluster-info",
            born + 40,
            [
                "kubeconfig":
                    "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: \(caData)\n    server: \(server)\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {}\nusers: null\n"
            ]
        )
        self.configMap(
            "kube-system",
            "coredns",
            born + 60,
            [
                "Corefile":
                    ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n"
            ]
        )
        self.configMap(
            "kube-system",
            "kubeadm-config",
            born + 40,
            [
                "ClusterConfiguration":
                    "apiServer:\n  extraArgs:\n    authorization-mode: Node,RBAC\n  timeoutForControlPlane: 4m0s\napiVersion: kubeadm.k8s.io/v1beta3\ncertificatesDir: /etc/kubernetes/pki\nclusterName: kubernetes\ncontrolPlaneEndpoint: \(cp.ip):6443\ncontrollerManager: {}\ndns: {}\netcd:\n  local:\n    dataDir: /var/lib/etcd\nimageRepository: registry.k8s.io\nkind: ClusterConfiguration\nkubernetesVersion: \(version)\nnetworking:\n  dnsDomain: cluster.local\n  podSubnet: 10.244.0.0/16\n  serviceSubnet: 10.96.0.0/12\nscheduler: {}\n"
            ]
        )
        self.configMap(
            "default",
            "app-config",
            appsBorn,
            [
                "DATABASE_URL": "postgres://app@postgres.default.svc.cluster.local:5432/app",
                "REDIS_URL": "redis://redis.default.svc.cluster.local:6379/0", "LOG_LEVEL": "info",
            ]
        )
        for (namespace, name) in [
            ("kube-system", "coredns"), ("kube-system", "kube-proxy"), ("kube-flannel", "flannel"),
            ("monitoring", "grafana"), ("monitoring", "prometheus-server"),
        ] {
            self.serviceAccount(namespace, name, born + 60)
        }
        for (name, subject) in [
            ("cluster-admin", "Group/system:masters"), ("kubeadm:cluster-admins", "Group/kubeadm:cluster-admins"),
            ("system:basic-user", "Group/system:authenticated"), ("system:discovery", "Group/system:authenticated"),
            ("system:public-info-viewer", "Group/system:unauthenticated"),
            ("flannel", "ServiceAccount/kube-flannel/flannel"),
        ] {
            let parts = subject.split(separator: "/").map(String.init)
            var subjectFields: [(String, K8sJSON)] = [("kind", .string(parts[0]))]
            if parts[0] != "ServiceAccount" { subjectFields.append(("apiGroup", "rbac.authorization.k8s.io")) }
            subjectFields.append(("name", .string(parts.last!)))
            if parts.count == 3 { subjectFields.append(("namespace", .string(parts[1]))) }
            self.add(
                "rbac.authorization.k8s.io",
                "clusterrolebindings",
                kind: "ClusterRoleBinding",
                nil,
                name,
                born + 10,
                labels: name.hasPrefix("system:") || name == "cluster-admin"
                    ? ["kubernetes.io/bootstrapping": "rbac-defaults"] : [:],
                [
                    (
                        "roleRef",
                        .object([
                            ("apiGroup", "rbac.authorization.k8s.io"), ("kind", "ClusterRole"), ("name", .string(name)),
                        ])
                    ),
                    ("subjects", .array([.object(subjectFields)])),
                ]
            )
        }
    }

    mutating func pod(_ spec: K8sObjects.PodSpec) {
        let object = self.objects.pod(spec, resourceVersion: self.rv())
        self.add("", "pods", spec.namespace, spec.name, spec.created, object)
    }

    mutating func node(_ name: String, _ ip: String, controlPlane: Bool, created: Int, podCIDR: String) {
        var labels = [
            "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
        ]
        if controlPlane {
            labels["node-role.kubernetes.io/control-plane"] = ""
            labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        }
        let o = self.objects
        let capacity: K8sJSON = .object([
            ("cpu", "4"), ("ephemeral-storage", "102626232Ki"), ("hugepages-1Gi", "0"), ("hugepages-2Mi", "0"),
            ("memory", "8129304Ki"), ("pods", "110"),
        ])
        let allocatable: K8sJSON = .object([
            ("cpu", "4"), ("ephemeral-storage", "94580335255"), ("hugepages-1Gi", "0"), ("hugepages-2Mi", "0"),
            ("memory", "8026904Ki"), ("pods", "110"),
        ])
        let heartbeat = K8sTime.iso(o.now - o.number("heartbeat \(name)", 5...280))
        let conditions: [K8sJSON] = [
            ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ].map {
            .object([
                ("type", .string($0.0)), ("status", .string($0.1)), ("lastHeartbeatTime", .string(heartbeat)),
                ("lastTransitionTime", .string(K8sTime.iso(created + 120))), ("reason", .string($0.2)),
                ("message", .string($0.3)),
            ])
        }
        var spec: [(String, K8sJSON)] = [("podCIDR", .string(podCIDR)), ("podCIDRs", .strings([podCIDR]))]
        if controlPlane {
            spec.append(
                (
                    "taints",
                    .array([.object([("key", "node-role.kubernetes.io/control-plane"), ("effect", "NoSchedule")])])
                )
            )
        }
        let fields: [(String, K8sJSON)] = [
            ("spec", .object(spec)),
            (
                "status",
                .object([
                    ("capacity", capacity), ("allocatable", allocatable), ("conditions", .array(conditions)),
                    (
                        "addresses",
                        .array([
                            .object([("type", "InternalIP"), ("address", .string(ip))]),
                            .object([("type", "Hostname"), ("address", .string(name))]),
                        ])
                    ),
                    ("daemonEndpoints", .object([("kubeletEndpoint", .object([("Port", 10250)]))])),
                    (
                        "nodeInfo",
                        .object([
                            ("machineID", .string(String(o.hex("machine \(name)").prefix(32)))),
                            ("systemUUID", .string(o.uid("system \(name)"))),
                            ("bootID", .string(o.uid("boot \(name)"))), ("kernelVersion", "6.1.0-18-amd64"),
                            ("osImage", "Debian GNU/Linux 12 (bookworm)"),
                            ("containerRuntimeVersion", "containerd://1.6.28"),
                            ("kubeletVersion", .string(self.release.gitVersion)),
                            ("kubeProxyVersion", .string(self.release.gitVersion)), ("operatingSystem", "linux"),
                            ("architecture", "amd64"),
                        ])
                    ),
                ])
            ),
        ]
        self.add(
            "",
            "nodes",
            kind: "Node",
            nil,
            name,
            created,
            labels: labels,
            annotations: [
                "flannel.alpha.coreos.com/public-ip": ip,
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            ],
            fields
        )
    }

    mutating func deployment(
        _ namespace: String,
        _ name: String,
        image: String,
        replicas: Int,
        labels: [String: String],
        created: Int
    ) {
        let template: K8sJSON = .object([
            ("metadata", .object([("creationTimestamp", .null), ("labels", .map(labels))])),
            (
                "spec",
                .object([
                    (
                        "containers",
                        .array([
                            .object([
                                ("name", .string(name.components(separatedBy: "-").first ?? name)),
                                ("image", .string(image)), ("resources", .empty), ("imagePullPolicy", "IfNotPresent"),
                            ])
                        ])
                    ), ("restartPolicy", "Always"), ("dnsPolicy", "ClusterFirst"),
                ])
            ),
        ])
        let fields: [(String, K8sJSON)] = [
            (
                "spec",
                .object([
                    ("replicas", .int(replicas)), ("selector", .object([("matchLabels", .map(labels))])),
                    ("template", template), ("strategy", .object([("type", "RollingUpdate")])),
                    ("revisionHistoryLimit", 10), ("progressDeadlineSeconds", 600),
                ])
            ),
            (
                "status",
                .object([
                    ("observedGeneration", 1), ("replicas", .int(replicas)), ("updatedReplicas", .int(replicas)),
                    ("readyReplicas", .int(replicas)), ("availableReplicas", .int(replicas)),
                ])
            ),
        ]
        self.add(
            "apps",
            "deployments",
            kind: "Deployment",
            namespace,
            name,
            created,
            labels: labels,
            annotations: ["deployment.kubernetes.io/revision": "1"],
            fields
        )
    }

    mutating func secret(_ namespace: String, _ name: String, _ type: String, _ created: Int, _ data: [String: String])
    {
        let encoded = data.mapValues { Data($0.utf8).base64EncodedString() }
        self.add(
            "",
            "secrets",
            kind: "Secret",
            namespace,
            name,
            created,
            [("data", .map(encoded)), ("type", .string(type))]
        )
    }

    mutating func configMap(_ namespace: String, _ name: String, _ created: Int, _ data: [String: String]) {
        let annotations =
            name == "kube-root-ca.crt"
            ? [
                "kubernetes.io/description":
                    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
            ] : [String: String]()
        self.add(
            "",
            "configmaps",
            kind: "ConfigMap",
            namespace,
            name,
            created,
            annotations: annotations,
            [("data", .map(data))]
        )
    }

    mutating func serviceAccount(_ namespace: String, _ name: String, _ created: Int) {
        self.add("", "serviceaccounts", kind: "ServiceAccount", namespace, name, created)
    }
}
