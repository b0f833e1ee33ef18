import KQueue
import Synchronization
import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A group of ``KQueueLoop``s, one per core by default, each on its own thread: what a server
/// spreads its connections over.
///
/// ```swift
/// let group = try KQueueLoopGroup()              // one loop per core
/// let loop = group.next()                        // round-robin
/// Task(executorPreference: loop) { await serve(connection, on: loop) }
/// ```
///
/// The loops are independent: each has its own queue, timers and tasks. A task started on one
/// stays there (its waits and timers are that loop's), so work handed out with ``next()`` runs
/// without locks between the loops.
public final class KQueueLoopGroup: Sendable {
    /// The loops, in the order ``next()`` hands them out.
    public let loops: [KQueueLoop]
    private let cursor = Atomic<Int>(0)

    /// The number of cores online.
    public static var coreCount: Int {
         max(Int(sysconf(CInt(_SC_NPROCESSORS_ONLN))), 1)
    }

    /// Starts `count` loops.
    ///
    /// - Parameters:
    ///   - count: how many loops; at least 1. Defaults to ``coreCount``.
    ///   - tolerance: each loop's default timer tolerance (see ``KQueueLoop/init(tolerance:spin:)``).
    /// - Throws: `Errno.invalidArgument` for a count below 1; `Errno` if a loop cannot be
    ///   started (the loops started already are shut down).
    public init(count: Int = KQueueLoopGroup.coreCount, tolerance: Duration = .microseconds(100)) throws(Errno) {
        guard count >= 1 else { throw .invalidArgument }
        var loops: [KQueueLoop] = []
        loops.reserveCapacity(count)
        do throws(Errno) {
            for _ in 0..<count { loops.append(try KQueueLoop(tolerance: tolerance)) }
        } catch {
            for loop in loops { loop.shutdown() }
            throw error
        }
        self.loops = loops
    }

    /// The next loop, round-robin. O(1), from any thread.
    public func next() -> KQueueLoop {
        let index = cursor.wrappingAdd(1, ordering: .relaxed).oldValue
        return loops[Int(UInt(bitPattern: index) % UInt(loops.count))]
    }

    /// The loop the caller runs on, if it is one of the group's.
    public var current: KQueueLoop? {
        loops.first { $0.isCurrent }
    }

    /// Shuts every loop down (see ``KQueueLoop/shutdown()``); from a loop of the group, the
    /// others are joined and that one stops when its current job returns.
    public func shutdown() {
        for loop in loops { loop.shutdown() }
    }
}
