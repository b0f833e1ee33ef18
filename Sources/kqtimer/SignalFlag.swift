import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Records SIGINT and SIGTERM so a blocking loop can end cleanly: the signal interrupts the
/// wait (EINTR) and the loop checks ``interrupted``.
enum SignalFlag {
    private static let flag = Atomic<Bool>(false)

    static var interrupted: Bool {
        flag.load(ordering: .relaxed)
    }

    static func installInterruptHandler() {
        // No SA_RESTART: the wait must return EINTR.
        Platform.setSignalHandler(SIGINT) { _ in SignalFlag.flag.store(true, ordering: .relaxed) }
        Platform.setSignalHandler(SIGTERM) { _ in SignalFlag.flag.store(true, ordering: .relaxed) }
    }
}
