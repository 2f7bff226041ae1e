import Dispatch
import Foundation
import Synchronization

/// A value that is slow to make, such as an RSA key: one that was kept is read at once; a missing one is made in
/// the background, one at a time at utility priority (`prewarm`), or, when a client needs it first, on a
/// thread of its own while the client waits. Making it never blocks an event loop or the cooperative pool.
final class BackgroundMade<Value: Sendable>: Sendable {
    typealias Waiter = @Sendable (Result<Value, any Error>) -> Void

    private enum State {
        case idle
        case making([Waiter])
        case ready(Value)
        case failed(any Error)
    }

    /// Background making, one value at a time, so it never crowds out serving (`BackgroundKeyGeneration`
    /// suspends it while a fleet comes up).
    static var queue: DispatchQueue { backgroundQueue }

    private enum Next {
        case done(Result<Value, any Error>)
        case wait
        case start
    }

    private let state: Mutex<State>
    private let make: @Sendable () throws -> Value

    init(kept: Value?, make: @escaping @Sendable () throws -> Value) {
        self.state = Mutex(kept.map { .ready($0) } ?? .idle)
        self.make = make
    }

    /// The value when it is made.
    var value: Value? {
        self.state.withLock { state in
            if case .ready(let value) = state { return value }
            return nil
        }
    }

    /// Starts making it in the background unless it is made or under way.
    func prewarm() {
        Self.queue.async {
            let claimed = self.state.withLock { state -> Bool in
                guard case .idle = state else { return false }
                state = .making([])
                return true
            }
            if claimed { self.run() }
        }
    }

    /// Calls `waiter` with the value: now, or when it is made (starting that on a thread of its own if nobody has).
    func request(_ waiter: @escaping Waiter) {
        let next = self.state.withLock { state -> Next in
            switch state {
            case .ready(let value): return .done(.success(value))
            case .failed(let error): return .done(.failure(error))
            case .making(var waiting):
                waiting.append(waiter)
                state = .making(waiting)
                return .wait
            case .idle:
                state = .making([waiter])
                return .start
            }
        }
        switch next {
        case .done(let result): waiter(result)
        case .wait: break
        case .start: Thread { self.run() }.start()
        }
    }

    /// The value, waiting for it without holding a thread.
    func get() async throws -> Value {
        if let value = self.value { return value }
        return try await withCheckedThrowingContinuation { continuation in
            self.request { continuation.resume(with: $0) }
        }
    }

    private func run() {
        let result = Result { try self.make() }
        let waiting = self.state.withLock { state -> [Waiter] in
            guard case .making(let waiting) = state else { return [] }
            switch result {
            case .success(let value): state = .ready(value)
            case .failure(let error): state = .failed(error)
            }
            return waiting
        }
        for waiter in waiting { waiter(result) }
    }
}

private let backgroundQueue = DispatchQueue(label: "decnet.background-keys", qos: .utility)

/// Lets the engine hold background key making while it brings a fleet up (a thousand RSA keys would take a core
/// for a minute and slow the deploy), and release it once every decky is served. A key a client needs is still
/// made at once.
public enum BackgroundKeyGeneration {
    private static let held = Mutex(0)

    public static func hold() {
        let first = Self.held.withLock { count -> Bool in
            count += 1
            return count == 1
        }
        if first { backgroundQueue.suspend() }
    }

    public static func release() {
        let last = Self.held.withLock { count -> Bool in
            guard count > 0 else { return false }
            count -= 1
            return count == 0
        }
        if last { backgroundQueue.resume() }
    }
}
