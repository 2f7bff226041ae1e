/// The `/topology` operations and schemas (MazeNET, docs/mazenet.md).
extension OpenAPIDocument {
    /// A topology's id (or its name, which lookups also take).
    static var topologyReference: [String: Any] { ["type": "string", "minLength": 1, "maxLength": 64] }

    static var topologyOperations: [Operation] {
        let id = [path("id", topologyReference)]
        return [
            Operation(
                method: "get",
                path: "/api/v1/topology",
                id: "listTopologies",
                summary: "MazeNET topologies, oldest first, each with its last mutation",
                tag: "topology",
                success: (200, array(ref("TopologySummary")), "application/json")
            ),
            Operation(
                method: "post",
                path: "/api/v1/topology",
                id: "createTopology",
                summary: "Create a topology from a topology file (admin); every problem by line and key",
                tag: "topology",
                body: "NewTopologyRequest",
                success: (201, ref("Topology"), "application/json"),
                errors: [400]
            ),
            Operation(
                method: "get",
                path: "/api/v1/topology/{id}",
                id: "getTopology",
                summary:
                    "A topology: segments, routers and deckies (live state when deployed here), positions, mutations, attackers' paths",
                tag: "topology",
                parameters: id,
                success: (200, ref("Topology"), "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "put",
                path: "/api/v1/topology/{id}/positions",
                id: "setTopologyPositions",
                summary: "Keep the canvas positions of nodes (admin)",
                tag: "topology",
                parameters: id,
                body: "PositionsRequest",
                success: (200, ref("Positions"), "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "get",
                path: "/api/v1/topology/{id}/mutations/latest",
                id: "latestTopologyMutation",
                summary: "The topology's latest mutation (create, deploy, teardown) and its state",
                tag: "topology",
                parameters: id,
                success: (200, ref("TopologyMutation"), "application/json"),
                errors: [400, 404]
            ),
            Operation(
                method: "post",
                path: "/api/v1/topology/{id}/deploy",
                id: "deployTopology",
                summary:
                    "Deploy the topology as this host's fleet (admin); answers at once, progress at mutations/latest",
                tag: "topology",
                parameters: id,
                success: (202, ref("TopologyMutation"), "application/json"),
                errors: [400, 403, 404, 409]
            ),
            Operation(
                method: "post",
                path: "/api/v1/topology/{id}/teardown",
                id: "teardownTopology",
                summary: "Tear the topology down (admin); answers at once, progress at mutations/latest",
                tag: "topology",
                parameters: id,
                success: (202, ref("TopologyMutation"), "application/json"),
                errors: [400, 403, 404, 409]
            ),
        ]
    }

    static var topologySchemas: [String: Any] {
        let mutationState: [String: Any] = ["type": "string", "enum": ["pending", "running", "done", "failed"]]
        let position = object(["x": number, "y": number])
        let leg = object(["segment": string, "ip": string])
        let node = object(
            [
                "name": string, "ip": string, "segment": string, "router": boolean, "legs": array(leg),
                "services": array(string), "state": string,
            ],
            required: ["name", "ip", "segment", "router", "legs", "services"]
        )
        return [
            "TopologyMutation": object([
                "topology": string, "id": string,
                "operation": ["type": "string", "enum": ["create", "deploy", "teardown"]], "state": mutationState,
                "message": string, "started": dateTime, "finished": nullable(dateTime),
            ]),
            "TopologySummary": object([
                "id": string, "name": string, "status": string, "created": dateTime,
                "last_mutation": nullable(ref("TopologyMutation")),
            ]),
            "Positions": ["type": "object", "additionalProperties": position],
            "TopologyPath": object([
                "attacker_ip": string, "first_seen": dateTime, "last_seen": dateTime, "deckies": array(string),
                "segments": array(string), "crossings": array(array(string)), "route": array(string),
            ]),
            "Topology": object([
                "id": string, "name": string, "status": string, "created": dateTime, "entry": string,
                "segments": array(object(["name": string, "subnet": string])), "deckies": array(node),
                "attacker": object(["segment": string, "ip": string]), "positions": ref("Positions"),
                "mutations": array(ref("TopologyMutation")), "paths": array(ref("TopologyPath")),
            ]),
            "NewTopologyRequest": object(
                [
                    "name": ["type": "string", "minLength": 1, "maxLength": 64],
                    "config": ["type": "string", "maxLength": 524_288],
                ]
            ),
            "PositionsRequest": object([
                "positions": [
                    "type": "object",
                    "additionalProperties": object([
                        "x": ["type": "number", "minimum": -100_000, "maximum": 100_000],
                        "y": ["type": "number", "minimum": -100_000, "maximum": 100_000],
                    ]),
                ]
            ]),
        ]
    }
}
