#if canImport(Glibc)
import Glibc
#endif

/// How other threads wake a layer's thread that waits in poll(2) on its packet descriptors: a non-blocking pipe
/// whose read end is polled with them. `signal` from any thread; `drain` on the waiting thread when it fires.
final class WakePipe: Sendable {
    let readEnd: Int32
    let writeEnd: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        }
        self.readEnd = fds[0]
        self.writeEnd = fds[1]
    }

    deinit {
        Glibc.close(self.readEnd)
        Glibc.close(self.writeEnd)
    }

    /// The entry for poll(2).
    var pollEntry: pollfd { pollfd(fd: self.readEnd, events: Int16(POLLIN), revents: 0) }

    func signal() {
        var byte: UInt8 = 1
        _ = Glibc.write(self.writeEnd, &byte, 1)
    }

    func drain() {
        var drained = [UInt8](repeating: 0, count: 64)
        while Glibc.read(self.readEnd, &drained, drained.count) > 0 {}
    }
}
