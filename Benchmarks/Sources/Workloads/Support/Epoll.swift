#if os(Linux)
import CBenchmarkShims
import Glibc

/// The few epoll calls of the echo load generator, straight to the kernel: the generator measures
/// the project's kqueue servers, so its own readiness does not go through the project's emulation.
/// Level-triggered; each registration carries a connection's index as its data.
struct Epoll: ~Copyable {
    let descriptor: CInt

    init() throws(EpollError) {
        descriptor = epoll_create1(cbench_EPOLL_CLOEXEC)
        if descriptor < 0 { throw EpollError(call: "epoll_create1", errno: errno) }
    }

    deinit {
        close(descriptor)
    }

    func add(_ fd: CInt, events: UInt32, index: Int) throws(EpollError) {
        try control(EPOLL_CTL_ADD, fd, events: events, index: index)
    }

    func modify(_ fd: CInt, events: UInt32, index: Int) throws(EpollError) {
        try control(EPOLL_CTL_MOD, fd, events: events, index: index)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and fills `events`; returns how many it
    /// filled (0 on timeout or EINTR).
    func wait(into events: inout [epoll_event], timeoutMilliseconds: CInt) throws(EpollError) -> Int {
        let count = events.withUnsafeMutableBufferPointer {
            epoll_wait(descriptor, $0.baseAddress, CInt($0.count), timeoutMilliseconds)
        }
        if count < 0 {
            if errno == EINTR { return 0 }
            throw EpollError(call: "epoll_wait", errno: errno)
        }
        return Int(count)
    }

    private func control(_ operation: CInt, _ fd: CInt, events: UInt32, index: Int) throws(EpollError) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(index)
        if epoll_ctl(descriptor, operation, fd, &event) < 0 {
            throw EpollError(call: "epoll_ctl", errno: errno)
        }
    }
}

struct EpollError: Error, CustomStringConvertible {
    var call: String
    var errno: CInt

    var description: String { "\(call): \(String(cString: strerror(errno)))" }
}
#endif
