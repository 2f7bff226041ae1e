/// What a kube-apiserver release reports at `/version`, and the add-on versions kubeadm installs with it.
/// Commits, build dates and Go versions are those of the official linux/amd64 server builds (the images on
/// registry.k8s.io); a version not in the table borrows the nearest entry's, with its own gitVersion.
struct K8sRelease: Sendable, Equatable {
    var gitVersion: String
    var gitCommit: String
    var buildDate: String
    var goVersion: String

    /// `1.29.2` → (1, 29, 2); a leading `v` and any `-suffix` are ignored.
    static func numbers(_ version: String) -> (major: Int, minor: Int, patch: Int) {
        let core = version.drop { $0 == "v" || $0 == "V" }.prefix { $0 != "-" && $0 != "+" }
        let parts = core.split(separator: ".").map { Int($0) ?? 0 }
        return (parts.first ?? 1, parts.count > 1 ? parts[1] : 29, parts.count > 2 ? parts[2] : 0)
    }

    var major: Int { Self.numbers(self.gitVersion).major }
    var minor: Int { Self.numbers(self.gitVersion).minor }

    /// Known server builds: gitVersion → (commit, build date, Go).
    static let known: [String: (String, String, String)] = [
        "v1.23.0": ("ab69524f795c42094a6630298ff53f3c3ebab7f4", "2021-12-07T18:09:57Z", "go1.17.3"),
        "v1.24.0": ("4ce5a8954017644c5420bae81d72b09b735c21f0", "2022-05-03T13:38:19Z", "go1.18.1"),
        "v1.25.0": ("a866cbe2e5bbaa01cfd5e969aa3e033f3282a8a2", "2022-08-23T17:38:15Z", "go1.19"),
        "v1.26.1": ("8f94681cd294aa8cfd3407b8191f6c70214973a4", "2023-01-18T15:51:25Z", "go1.19.5"),
        "v1.27.4": ("fa3d7990104d7c1f16943a67f11b154b71f6a132", "2023-07-19T12:14:49Z", "go1.20.6"),
        "v1.28.2": ("89a4ea3e1e4ddd7f7572286090359983e0387b2f", "2023-09-13T09:29:07Z", "go1.20.8"),
        "v1.29.2": ("4b8e819355d791d96b7e9d9efe4cbafae2311c88", "2024-02-14T10:32:40Z", "go1.21.7"),
        "v1.30.0": ("7c48c2bd72b9bf5c44d21d7338cc7bea77d0ad2a", "2024-04-17T17:27:03Z", "go1.22.2"),
        "v1.31.0": ("9edcffcde5595e8a5b1a35f88c421764e575afce", "2024-08-13T07:28:49Z", "go1.22.5"),
        "v1.32.0": ("70d3cc986aa8221cd1dfb1121852688902d3bf53", "2024-12-11T17:59:15Z", "go1.23.3"),
    ]

    /// The release for a persona's `k8s_version` (`v1.29.2`, `1.29.2`).
    init(persona version: String) {
        let (major, minor, patch) = Self.numbers(version)
        let gitVersion = "v\(major).\(minor).\(patch)"
        self.gitVersion = gitVersion
        if let entry = Self.known[gitVersion] {
            (self.gitCommit, self.buildDate, self.goVersion) = entry
            return
        }
        // Same minor, nearest patch (else the nearest minor): its Go; a commit that cannot be checked against
        // a tag is the tell a real cluster would not have, so the nearest real one is reused.
        let candidates = Self.known.keys.map { ($0, Self.numbers($0)) }
        let nearest = candidates.min { lhs, rhs in
            let l = (abs(lhs.1.minor - minor), abs(lhs.1.patch - patch))
            let r = (abs(rhs.1.minor - minor), abs(rhs.1.patch - patch))
            return l < r || (l == r && lhs.0 < rhs.0)
        }
        let entry = Self.known[nearest?.0 ?? "v1.29.2"]!
        (self.gitCommit, self.buildDate, self.goVersion) = entry
    }

    /// The `/version` document (the server pretty-prints it).
    var versionDocument: K8sJSON {
        .object([
            ("major", .string(String(self.major))), ("minor", .string(String(self.minor))),
            ("gitVersion", .string(self.gitVersion)), ("gitCommit", .string(self.gitCommit)),
            ("gitTreeState", "clean"), ("buildDate", .string(self.buildDate)),
            ("goVersion", .string(self.goVersion)), ("compiler", "gc"), ("platform", "linux/amd64"),
        ])
    }

    /// The CoreDNS, etcd and pause images kubeadm of this minor deploys.
    var addOns: (coredns: String, etcd: String, pause: String) {
        switch self.minor {
        case ..<26: ("v1.9.3", "3.5.6-0", "3.8")
        case 26: ("v1.9.3", "3.5.6-0", "3.9")
        case 27: ("v1.10.1", "3.5.7-0", "3.9")
        case 28: ("v1.10.1", "3.5.9-0", "3.9")
        case 29: ("v1.11.1", "3.5.10-0", "3.9")
        case 30: ("v1.11.1", "3.5.12-0", "3.9")
        case 31: ("v1.11.3", "3.5.15-0", "3.10")
        default: ("v1.11.3", "3.5.16-0", "3.10")
        }
    }

    /// Which aggregated discovery versions the server answers (`apidiscovery.k8s.io`): v2beta1 from 1.27 (on by
    /// default) until its removal in 1.33, v2 from 1.30.
    func servesAggregatedDiscovery(_ version: String) -> Bool {
        switch version {
        case "v2beta1": self.minor >= 27 && self.minor < 33
        case "v2": self.minor >= 30
        default: false
        }
    }
}
