#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueue
import TestSupport
import Testing

/// The project's lock (issue 10, fault 12).
@Suite("Locked", .blocking)
struct LockedTests {
    /// A value that is not Sendable: it can go into a lock and be reached from several threads
    /// only because `Locked` takes it as `sending` and hands it out only inside `withLock`.
    final class Counter {
        var count = 0
    }

    @Test("threads that take turns see every update (run under ThreadSanitizer too)")
    func threadsTakeTurns() throws {
        let lock = Locked(Counter())
        let threads = 4
        let rounds = 20_000
        let workers = (0..<threads).map { _ in
            TestThread {
                for _ in 0..<rounds { lock.withLock { $0.count += 1 } }
            }
        }
        for worker in workers { #expect(worker.join(limit: .seconds(120))) }
        #expect(lock.withLock { $0.count } == threads * rounds)
    }

    @Test("withLock passes errors and non-copyable results through")
    func errorsAndResults() throws {
        struct Failure: Error {}
        let lock = Locked([1, 2, 3])
        #expect(throws: Failure.self) { try lock.withLock { (_) throws(Failure) in throw Failure() } }
        struct Token: ~Copyable { var value: Int }
        let token = lock.withLock { Token(value: $0.count) }
        #expect(token.value == 3)
        // The lock was released by the throw: taking it again does not block.
        #expect(lock.withLock { $0.reduce(0, +) } == 6)
    }

    @Test(
        "re-entering withLock on the same thread traps with a message instead of deadlocking (debug builds)",
        .enabled(if: Locked<Int>.detectsReentry, "release builds use the adaptive mutex, which cannot tell")
    )
    func reentryTraps() async {
        await #expect(processExitsWith: .failure) {
            let lock = Locked(0)
            lock.withLock { _ in lock.withLock { $0 += 1 } }
        }
    }
}
