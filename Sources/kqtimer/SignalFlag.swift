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
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = { _ in SignalFlag.flag.store(true, ordering: .relaxed) }
        #else
        action.__sigaction_u.__sa_handler = { _ in SignalFlag.flag.store(true, ordering: .relaxed) }
        #endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: the wait must return EINTR
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
    }
}
