import DecnetCore
import DecnetRuntime
import Foundation
import Hummingbird

/// The fleet as the API sees it: the state file (what was planned) and, when the engine runs, what it serves.
struct FleetAccess: Sendable {
    let stateDirectory: String
    let deployer: (@Sendable (_ arguments: [String]) async throws -> (ok: Bool, output: [String]))?

    enum Action: String, CaseIterable { case start, stop, restart }

    func state() throws -> FleetState? {
        do {
            return try FleetState.read(fromDirectory: self.stateDirectory)
        } catch {
            throw APIError(.serviceUnavailable, "the fleet state cannot be read: \(error)")
        }
    }

    var engineRunning: Bool { EngineLock.runningPID(stateDirectory: self.stateDirectory) != nil }

    /// Every decky: live from the engine when it runs, else as planned.
    func snapshot() async throws -> FleetBody {
        guard let state = try self.state() else {
            return FleetBody(deployed: false, driver: nil, engineRunning: false, deckies: [])
        }
        var live: [String: DeckyStatus] = [:]
        let running = state.driver == "native" && self.engineRunning
        if running,
            let status = try? await EngineClient.send(
                EngineRequest(.status, brief: true),
                stateDirectory: self.stateDirectory
            ).status
        {
            for decky in status.deckies { live[decky.name] = decky }
        }
        let deckies = state.fleet.deckies.map { decky in
            live[decky.name].map(Self.body) ?? Self.planned(decky, deployed: state.deployed)
        }
        return FleetBody(deployed: state.deployed, driver: state.driver, engineRunning: running, deckies: deckies)
    }

    static func body(_ status: DeckyStatus) -> DeckyBody {
        DeckyBody(
            name: status.name,
            state: status.state.rawValue,
            ip: status.ip,
            mac: status.mac,
            hostname: status.hostname,
            osFamily: status.osFamily,
            distro: status.distro,
            archetype: status.archetype,
            services: status.services.map {
                ServiceBody(
                    service: $0.service,
                    port: $0.port,
                    listening: $0.listening,
                    openConnections: $0.openConnections,
                    totalConnections: $0.totalConnections,
                    note: $0.note
                )
            },
            error: status.error
        )
    }

    static func planned(_ decky: Decky, deployed: Bool) -> DeckyBody {
        DeckyBody(
            name: decky.name,
            state: deployed ? "stopped" : "planned",
            ip: decky.ip.description,
            mac: decky.mac.description,
            hostname: decky.hostname,
            osFamily: decky.osFamily.rawValue,
            distro: decky.distro,
            archetype: decky.archetype,
            services: decky.services.flatMap { service in
                service.ports.map {
                    ServiceBody(
                        service: service.kind.rawValue,
                        port: Int($0.number),
                        listening: false,
                        openConnections: 0,
                        totalConnections: 0,
                        note: nil
                    )
                }
            },
            error: nil
        )
    }

    /// Starts, stops or restarts one decky through the running engine.
    func act(_ action: Action, on name: String) async throws -> ActionBody {
        guard let state = try self.state(), state.driver == "native" else {
            throw APIError.conflict("no native fleet is deployed here")
        }
        guard state.fleet.deckies.contains(where: { $0.name == name }) else {
            throw APIError.notFound("no decky named '\(name)'")
        }
        guard self.engineRunning else {
            throw APIError.conflict("the engine is not running; run `decnet reconcile` on the host")
        }
        let operation: EngineRequest.Operation =
            switch action {
            case .start: .start
            case .stop: .stop
            case .restart: .restart
            }
        let response: EngineResponse
        do {
            response = try await EngineClient.send(
                EngineRequest(operation, decky: name),
                stateDirectory: self.stateDirectory
            )
        } catch {
            throw APIError(.serviceUnavailable, "the engine did not answer: \(error)")
        }
        return ActionBody(
            ok: response.ok,
            report: (response.report ?? []).filter { $0.hasPrefix(name + ":") } + (response.error.map { [$0] } ?? []),
            decky: response.status?.deckies.first { $0.name == name }.map(Self.body)
        )
    }
}

extension APIServer {
    /// `/deckies`: fleet state for everyone; deploy and lifecycle actions for admins.
    func addDeckies(to group: RouterGroup<APIRequestContext>) {
        group.get("deckies") { request, _ -> Response in
            try await self.cache.json(request.uri.description) { try await self.fleet.snapshot() }
        }
        group.get("deckies/:name") { _, context -> DeckyBody in
            let name = try context.parameters.require("name")
            guard let decky = try await self.fleet.snapshot().deckies.first(where: { $0.name == name }) else {
                throw APIError.notFound("no decky named '\(name.prefix(64))'")
            }
            return decky
        }
        group.post("deckies/deploy") { request, context -> ActionBody in
            _ = try context.requireAdmin()
            let deploy = try await request.decode(as: DeployRequest.self, context: context)
            guard let deployer = self.fleet.deployer else {
                throw APIError.forbidden(
                    "deploying through the API is off on this host (--no-deploy); use `decnet deploy`"
                )
            }
            guard !deploy.config.isEmpty, deploy.config.utf8.count <= 512 * 1024 else {
                throw APIError.badRequest("config must be an INI fleet file of at most 512 KiB")
            }
            let directory = (self.settings.stateDirectory as NSString).appendingPathComponent("api-deploys")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let file = (directory as NSString).appendingPathComponent("deploy-\(UUID().uuidString.lowercased()).ini")
            try Data(deploy.config.utf8).write(to: URL(fileURLWithPath: file))
            var arguments = ["--config", file]
            switch deploy.network ?? .config {
            case .config: break
            case .lab: arguments.append("--lab")
            case .loopback: arguments.append("--loopback")
            }
            let (ok, output) = try await deployer(arguments)
            guard ok else { throw APIError.badRequest(output.suffix(20).joined(separator: "\n")) }
            return ActionBody(ok: true, report: output, decky: nil)
        }
        group.post("deckies/:name/:action") { _, context -> ActionBody in
            _ = try context.requireAdmin()
            let name = try context.parameters.require("name")
            guard let action = FleetAccess.Action(rawValue: try context.parameters.require("action")) else {
                throw APIError.badRequest("the action must be start, stop or restart")
            }
            return try await self.fleet.act(action, on: name)
        }
    }
}
