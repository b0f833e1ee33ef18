#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing

/// A trait for tests that block their thread: they run on threads of their own
/// (``BlockingTestPool``), not on Swift Concurrency's cooperative pool.
///
/// The cooperative pool has one thread per core. A synchronous test holds its thread for as
/// long as it runs (waiting in `kevent`, joining threads, waiting for a child), and so does an
/// async test that computes without suspending. On a two-core machine two such tests, or two
/// serialized suites of them, take the whole pool, and every async test stalls for as long as
/// they last: its timers keep firing on their loops meanwhile, so a 60 s timer that a test
/// expects still pending fires, and a loop held for the test's next step gives up. Suites of
/// blocking tests carry this trait; async tests that suspend stay on the cooperative pool.
package struct BlockingTrait: TestTrait, SuiteTrait, TestScoping {
    package var isRecursive: Bool { true }

    package func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await withTaskExecutorPreference(BlockingTestPool.shared) { try await function() }
    }
}

extension Trait where Self == BlockingTrait {
    /// The test blocks its thread: run it on a thread of ``BlockingTestPool``.
    package static var blocking: Self { BlockingTrait() }
}

/// A task executor of a few threads of its own, for tests that block (see ``BlockingTrait``).
///
/// Jobs run in the order they come, each on the first free thread. Four threads: enough for
/// the serialized suites of blocking tests to run side by side with the rest, few enough that
/// on two cores the tests that measure lateness are not starved of CPU.
package final class BlockingTestPool: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` and `head` are guarded by `mutex`, signalled through `available`.
    package static let shared = BlockingTestPool(threads: 4)

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let available = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs: [UnownedJob] = []
    private var head = 0

    /// The pool lives as long as the process (`shared`): its threads are never joined, and
    /// its mutex and condition are never freed.
    private init(threads: Int) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(available, nil)
        for _ in 0..<threads {
            #if canImport(Glibc)
            var thread = pthread_t()
            #else
            var thread: pthread_t?
            #endif
            let result = pthread_create(&thread, nil, { context in
                Unmanaged<BlockingTestPool>.fromOpaque(context!).takeUnretainedValue().work()
            }, Unmanaged.passUnretained(self).toOpaque())
            precondition(result == 0, "pthread_create failed: \(result)")
            #if canImport(Glibc)
            pthread_detach(thread)
            #else
            pthread_detach(thread!)
            #endif
        }
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(mutex)
        jobs.append(job)
        pthread_cond_signal(available)
        pthread_mutex_unlock(mutex)
    }

    /// A thread of the pool: runs jobs as they come, forever.
    private func work() -> Never {
        while true {
            pthread_mutex_lock(mutex)
            while head == jobs.count { pthread_cond_wait(available, mutex) }
            let job = jobs[head]
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            }
            pthread_mutex_unlock(mutex)
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
