#if !os(Linux) || KQUEUE_LIBKQUEUE
#if KQUEUE_LIBKQUEUE
internal import CLibkqueue
#else
internal import CKQueueShims
#endif
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
@preconcurrency import Glibc
#endif
import Synchronization
import SystemPackage

/// The system's kqueue(2), mapped directly: macOS, the BSDs, or libkqueue on Linux.
final class NativeQueue: Sendable {
    private let fd: Atomic<CInt>

    init() throws(Errno) {
        let fd = kqueue()
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        self.fd = Atomic(fd)
    }

    deinit {
        close()
    }

    var descriptor: CInt {
        fd.load(ordering: .acquiring)
    }

    func close() {
        let old = fd.exchange(-1, ordering: .acquiringAndReleasing)
        #if canImport(Darwin)
        if old >= 0 { _ = Darwin.close(old) }
        #else
        if old >= 0 { _ = Glibc.close(old) }
        #endif
    }

    /// - Parameter timeout: nanoseconds, already validated; nil waits forever.
    func kevent(changes: [KEvent], events: inout [KEvent], timeout: Int64?) throws(Errno) -> Int {
        let queue = descriptor
        guard queue >= 0 else { throw .badFileDescriptor }
        let input = changes.map(Self.system)
        var output = [CKEvent](repeating: CKEvent(), count: events.count)
        var spec = timespec()
        if let timeout {
            spec.tv_sec = .init(timeout / 1_000_000_000)
            spec.tv_nsec = .init(timeout % 1_000_000_000)
        }
        let result = input.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                withUnsafePointer(to: &spec) { spec in
                    ckq_kevent(
                        queue,
                        input.baseAddress,
                        CInt(input.count),
                        output.baseAddress,
                        CInt(output.count),
                        timeout == nil ? nil : spec
                    )
                }
            }
        }
        guard result >= 0 else { throw Errno(rawValue: errno) }
        for index in 0..<Int(result) {
            events[index] = Self.swift(output[index])
        }
        return Int(result)
    }

    private typealias CKEvent = ckq_kevent_t

    private static func system(_ event: KEvent) -> CKEvent {
        var raw = CKEvent()
        raw.ident = .init(event.ident)
        raw.filter = .init(event.filter.rawValue)
        raw.flags = .init(event.flags.rawValue)
        raw.fflags = .init(event.fflags.rawValue)
        raw.data = .init(event.data)
        raw.udata = UnsafeMutableRawPointer(bitPattern: event.udata)
        return raw
    }

    private static func swift(_ raw: CKEvent) -> KEvent {
        KEvent(
            ident: UInt(raw.ident),
            filter: KEvent.Filter(rawValue: Int16(raw.filter)),
            flags: KEvent.Flags(rawValue: UInt16(truncatingIfNeeded: raw.flags)),
            fflags: KEvent.FilterFlags(rawValue: UInt32(raw.fflags)),
            data: Int(raw.data),
            udata: UInt(bitPattern: raw.udata)
        )
    }
}
#endif
