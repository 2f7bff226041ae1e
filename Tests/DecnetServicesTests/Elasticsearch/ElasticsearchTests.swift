import DecnetCore
import DecnetServiceKit
import Foundation
import Synchronization
import Testing

@testable import DecnetServices

/// Elasticsearch's REST API: the root document nmap reads, `_cat` tables, searches, the ransom pattern (dump,
/// delete, note) and credentials with security on and off.
@Suite struct ElasticsearchTests {
    static func api(version: String = "8.12.2", security: Bool = false) -> ElasticsearchAPI {
        ElasticsearchAPI(
            configuration: ElasticsearchAPI.Configuration(
                version: version,
                clusterName: "corp-logs",
                nodeName: "es01",
                security: security,
                users: AcceptedCredentials("elastic:changeme")
            ),
            store: ElasticsearchStore(domain: "corp.local")
        )
    }

    static func call(
        _ api: ElasticsearchAPI,
        _ method: String,
        _ uri: String,
        _ body: String = "",
        auth: String? = nil
    )
        -> (ElasticsearchAPI.Response, [(EventID, EventFields)])
    {
        api.respond(
            method: method,
            uri: uri,
            headers: auth.map { [("Authorization", $0)] } ?? [],
            body: Array(body.utf8)
        )
    }

    static func object(_ response: ElasticsearchAPI.Response) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [String: Any] ?? [:]
    }

    @Test func theRootDocumentIsPrettyAndNamesTheVersion() {
        let (root, _) = Self.call(Self.api(), "GET", "/")
        #expect(root.status == 200 && root.headers.first ?? ("", "") == ("X-elastic-product", "Elasticsearch"))
        #expect(root.body.hasPrefix("{\n  \"name\" : \"es01\",\n  \"cluster_name\" : \"corp-logs\",\n"))
        #expect(root.body.contains("\"number\" : \"8.12.2\"") && root.body.contains("\"lucene_version\" : \"9.9.2\""))
        #expect(root.body.hasSuffix("  \"tagline\" : \"You Know, for Search\"\n}\n"))
        let (old, _) = Self.call(Self.api(version: "7.10.2"), "GET", "/")
        #expect(old.headers.map(\.0) == ["content-type"] && old.headers.first?.1 == "application/json; charset=UTF-8")
    }

    @Test func theRansomPatternIsRecordedEndToEnd() throws {
        let api = Self.api()
        let (table, _) = Self.call(api, "GET", "/_cat/indices?v")
        let lines = table.body.split(separator: "\n")
        #expect(lines.first?.hasPrefix("health status index") == true && lines.count == 4, "\(table.body)")
        #expect(table.body.contains("customers"))
        let (dump, _) = Self.call(api, "GET", "/customers/_search?size=100")
        let hits = (Self.object(dump)["hits"] as? [String: Any])?["hits"] as? [[String: Any]]
        #expect(hits?.count == 24)
        let (deleted, events) = Self.call(api, "DELETE", "/customers,orders")
        #expect(deleted.status == 200 && deleted.body == #"{"acknowledged":true}"#)
        #expect(
            events.contains {
                $0.0 == .commandInput && $0.1.fields.contains { $0.name == "deleted" && $0.value == "customers,orders" }
            }
        )
        let note = #"{"message":"All your data is backed up. Send 0.05 BTC to bc1qxyz to restore it."}"#
        let (created, noted) = Self.call(api, "POST", "/read_me/_doc/1", note)
        #expect(created.status == 201 && (Self.object(created)["result"] as? String) == "created")
        #expect(
            noted.contains {
                $0.0 == .payloadReceived
                    && $0.1.fields.contains { $0.name == "preview" && $0.value.contains("0.05 BTC") }
            }
        )
        let (after, _) = Self.call(api, "GET", "/_cat/indices")
        #expect(!after.body.contains("customers") && after.body.contains("read_me"))
        let (missing, _) = Self.call(api, "GET", "/customers/_search")
        #expect(missing.status == 404 && missing.body.contains("index_not_found_exception"))
    }

    @Test func credentialsAreCapturedAndSecurityRefusesAsElasticsearch() {
        let open = Self.call(Self.api(), "GET", "/", auth: "Basic " + Data("admin:admin".utf8).base64EncodedString())
        #expect(open.0.status == 200)
        #expect(
            open.1.contains {
                $0.0 == .loginSuccess && $0.1.fields.contains { $0.name == "password" && $0.value == "admin" }
            }
        )
        let secured = Self.api(security: true)
        let (anonymous, _) = Self.call(secured, "GET", "/_cat/indices")
        #expect(
            anonymous.status == 401
                && anonymous.headers.first ?? ("", "") == (
                    "WWW-Authenticate", "Basic realm=\"security\" charset=\"UTF-8\""
                )
        )
        #expect(anonymous.body.contains("missing authentication credentials for REST request [/_cat/indices]"))
        let (wrong, events) = Self.call(
            secured,
            "GET",
            "/",
            auth: "Basic " + Data("elastic:elastic".utf8).base64EncodedString()
        )
        #expect(wrong.status == 401 && wrong.body.contains("unable to authenticate user [elastic]"))
        #expect(events.contains { $0.0 == .loginFailed })
        let (right, _) = Self.call(
            secured,
            "GET",
            "/",
            auth: "Basic " + Data("elastic:changeme".utf8).base64EncodedString()
        )
        #expect(right.status == 200)
        let (key, keyEvents) = Self.call(
            secured,
            "GET",
            "/",
            auth: "ApiKey " + Data("VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw".utf8).base64EncodedString()
        )
        #expect(
            key.status == 401
                && keyEvents.contains {
                    $0.0 == .loginFailed && $0.1.fields.contains { $0.name == "method" && $0.value == "api-key" }
                }
        )
    }

    @Test func hostileRequestsGetElasticsearchsErrors() {
        let api = Self.api()
        #expect(Self.call(api, "POST", "/x/_doc", "{not json").0.status == 400)
        #expect(Self.call(api, "GET", "/_nope/x/y").0.status == 400)
        #expect(Self.call(api, "GET", "/", auth: "Basic !!!").0.status == 200)
        #expect(
            Self.call(api, "POST", "/_bulk", "{\"index\":{\"_index\":\"a\"}}\n{\"x\":1}\n{broken\n").0.status == 200
        )
        for index in 0..<100 { _ = Self.call(api, "PUT", "/flood-\(index)") }
        #expect(api.store.indices.withLock { $0.count } <= ElasticsearchStore.maximumIndices)
    }
}
