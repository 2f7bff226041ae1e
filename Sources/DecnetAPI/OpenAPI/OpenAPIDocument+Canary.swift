/// The `/canary` and `/webhooks` operations and schemas. Their bodies write `null` for an absent value (see
/// CanaryModels.swift), so those keys are required and nullable here.
extension OpenAPIDocument {
    /// A canary token's id as the path holds it (lookups ignore its letter case).
    static var canaryID: [String: Any] { ["type": "string", "pattern": "^[A-Za-z2-7]{20}$"] }

    static var canaryOperations: [Operation] {
        [
            Operation(
                method: "get",
                path: "/api/v1/canary",
                id: "listCanaryTokens",
                summary: "Canary tokens, newest first, each with how often it fired",
                tag: "canary",
                parameters: paging,
                success: (200, ref("CanaryTokenPage"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "post",
                path: "/api/v1/canary",
                id: "plantCanaryToken",
                summary: "Plant a canary token on a decky, or mint one to place elsewhere (admin)",
                tag: "canary",
                body: "NewCanaryRequest",
                success: (201, ref("CanaryToken"), "application/json"),
                errors: [400, 503]
            ),
            Operation(
                method: "get",
                path: "/api/v1/canary/triggers",
                id: "listCanaryTriggers",
                summary: "Canary triggers of every token, newest first",
                tag: "canary",
                parameters: paging,
                success: (200, ref("CanaryTriggerPage"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "get",
                path: "/api/v1/canary/{id}",
                id: "getCanaryToken",
                summary: "One canary token with its latest 100 triggers",
                tag: "canary",
                parameters: [path("id", canaryID)],
                success: (200, ref("CanaryDetail"), "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "delete",
                path: "/api/v1/canary/{id}",
                id: "revokeCanaryToken",
                summary: "Revoke a canary token: its file leaves the decky and it is silent from now on (admin)",
                tag: "canary",
                parameters: [path("id", canaryID)],
                success: (200, ref("CanaryToken"), "application/json"),
                errors: [400, 404]
            ),
        ]
    }

    static var webhookOperations: [Operation] {
        [
            Operation(
                method: "get",
                path: "/api/v1/webhooks",
                id: "listWebhooks",
                summary: "Webhook subscriptions, secrets left out (admin: a chat webhook's URL is a credential)",
                tag: "webhooks",
                success: (200, array(ref("Webhook")), "application/json")
            ),
            Operation(
                method: "post",
                path: "/api/v1/webhooks",
                id: "createWebhook",
                summary: "Add a webhook subscription (admin); the answer holds its signing secret, shown this once",
                tag: "webhooks",
                body: "NewWebhookRequest",
                success: (201, ref("CreatedWebhook"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "delete",
                path: "/api/v1/webhooks/{uuid}",
                id: "deleteWebhook",
                summary: "Remove a webhook subscription and its delivery log (admin)",
                tag: "webhooks",
                parameters: [path("uuid", uuidPattern)],
                success: (204, [:], ""),
                errors: [400, 404]
            ),
            Operation(
                method: "post",
                path: "/api/v1/webhooks/{uuid}/test",
                id: "testWebhook",
                summary: "Send one signed test delivery now, without retries, and log it (admin)",
                tag: "webhooks",
                parameters: [path("uuid", uuidPattern)],
                success: (200, ref("WebhookTestResult"), "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "get",
                path: "/api/v1/webhooks/{uuid}/deliveries",
                id: "webhookDeliveries",
                summary: "A subscription's delivery log: its latest 200 attempts, newest first",
                tag: "webhooks",
                parameters: [path("uuid", uuidPattern)],
                success: (200, array(ref("WebhookAttempt")), "application/json"),
                errors: [400, 404]
            ),
        ]
    }

    static var canarySchemas: [String: Any] {
        let kinds: [String: Any] = ["type": "string", "enum": ["url", "dns", "document", "image", "email"]]
        return [
            "CanaryToken": object([
                "id": string, "type": kinds, "decky": nullable(string), "path": nullable(string), "label": string,
                "url": nullable(string), "hostname": nullable(string), "created": dateTime,
                "revoked": nullable(dateTime), "active": boolean, "triggers": integer,
            ]),
            "CanaryTokenPage": page("CanaryToken"),
            "CanaryTrigger": object([
                "time": dateTime, "token": string, "label": string, "type": string,
                "via": string, "source": string, "decky": string, "planted_decky": nullable(string),
                "planted_path": nullable(string), "method": nullable(string), "url": nullable(string),
                "user_agent": nullable(string), "referer": nullable(string), "qname": nullable(string),
                "qtype": nullable(string),
            ]),
            "CanaryTriggerPage": page("CanaryTrigger"),
            "CanaryDetail": object(["token": ref("CanaryToken"), "triggers": array(ref("CanaryTrigger"))]),
            "NewCanaryRequest": object(
                [
                    "type": kinds, "label": ["type": "string", "minLength": 1, "maxLength": 200],
                    "decky": ["type": "string", "maxLength": 64], "path": ["type": "string", "maxLength": 1024],
                    "base_url": ["type": "string", "maxLength": 2048], "zone": ["type": "string", "maxLength": 253],
                ],
                required: ["type", "label"]
            ),
        ]
    }

    static var webhookSchemas: [String: Any] {
        let formats: [String: Any] = ["type": "string", "enum": ["json", "slack", "discord", "teams"]]
        var webhook: [String: [String: Any]] = [
            "uuid": string, "name": string, "url": string, "format": formats, "topics": array(string),
            "enabled": boolean, "created": dateTime,
        ]
        let listed = object(webhook)
        webhook["secret"] = string
        return [
            "Webhook": listed,
            "CreatedWebhook": object(webhook),
            "NewWebhookRequest": object(
                [
                    "name": ["type": "string", "minLength": 1, "maxLength": 200],
                    "url": ["type": "string", "maxLength": 2048],
                    "topics": [
                        "type": "array", "minItems": 1, "maxItems": 32,
                        "items": ["type": "string", "maxLength": 256],
                    ],
                    "format": formats,
                ],
                required: ["name", "url", "topics"]
            ),
            "WebhookAttempt": object([
                "id": string, "subject": string, "attempt": integer, "status": nullable(integer),
                "error": nullable(string), "time": dateTime, "delivered": boolean,
            ]),
            "WebhookTestResult": object([
                "delivered": boolean, "status": nullable(integer), "error": nullable(string), "id": string,
            ]),
        ]
    }

    static var swarmOperations: [Operation] {
        [
            Operation(
                method: "get",
                path: "/api/v1/swarm/hosts",
                id: "listSwarmHosts",
                summary: "The swarm's agent hosts: pinned certificate, last heard, up or down (decnet swarm list)",
                tag: "swarm",
                success: (200, array(ref("SwarmHost")), "application/json"),
                errors: [503]
            ),
            Operation(
                method: "post",
                path: "/api/v1/swarm/hosts",
                id: "addSwarmHost",
                summary:
                    "Add an agent host (admin): its identity issued from the CA and its certificate pinned (decnet swarm add)",
                tag: "swarm",
                body: "NewSwarmHostRequest",
                success: (201, ref("NewSwarmHost"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "delete",
                path: "/api/v1/swarm/hosts/{name}",
                id: "removeSwarmHost",
                summary: "Remove an agent host (admin): its certificate is refused from now on (decnet swarm remove)",
                tag: "swarm",
                parameters: [path("name", ["type": "string", "minLength": 1, "maxLength": 63])],
                success: (200, ref("SwarmHost"), "application/json"),
                errors: [404]
            ),
        ]
    }

    static var swarmSchemas: [String: Any] {
        [
            "SwarmHost": object([
                "name": string, "address": string, "fingerprint": string, "subject": string, "added": dateTime,
                "last_seen": nullable(dateTime),
                "state": ["type": "string", "enum": ["up", "down", "connected", "never seen", "unknown", "removed"]],
                "heartbeat_seconds": nullable(["type": "number"]),
            ]),
            "NewSwarmHostRequest": object([
                "name": ["type": "string", "minLength": 1, "maxLength": 63],
                "address": ["type": "string", "minLength": 1, "maxLength": 255],
            ]),
            "NewSwarmHost": object(["host": ref("SwarmHost"), "identity": string]),
        ]
    }
}
