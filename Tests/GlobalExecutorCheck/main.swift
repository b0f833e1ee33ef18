// A program that makes a KQueueLoop its global executor, for the test that must run in a
// process of its own (the runtime reads its executors once, before the first task).
//
// It prints one line per check and exits 0 when all hold; without the ExperimentalExecutors
// trait it says so and exits 0.
#if KQ_EXPERIMENTAL_EXECUTORS
@_spi(ExperimentalCustomExecutors) import KQueueTimers
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

KQueueLoop.installAsGlobalExecutor()

let done = DispatchSemaphore(value: 0)
nonisolated(unsafe) var failures = 0
// Detached: top-level code is on the main actor, whose executor needs this thread, which waits.
Task.detached {
    // A plain task and a plain Task.sleep: both on the shared loop, the sleep on its wheel.
    let onLoop = KQueueLoop.shared.isCurrent
    print("task runs on the shared loop: \(onLoop)")
    let start = ContinuousClock.now
    try? await Task.sleep(for: .milliseconds(20))
    let slept = ContinuousClock.now - start
    print("Task.sleep(for: 20 ms) returned after at least 20 ms: \(slept >= .milliseconds(20))")
    print("still on the shared loop: \(KQueueLoop.shared.isCurrent)")
    let sleeping = Task.detached { try await Task.sleep(for: .seconds(60)) }
    try? await Task.sleep(for: .milliseconds(5))
    let pending = KQueueLoop.shared.pendingCount
    print("a sleeping task's sleep is a timer on the wheel: \(pending >= 1)")
    sleeping.cancel()
    if !onLoop || slept < .milliseconds(20) || !KQueueLoop.shared.isCurrent || pending < 1 { failures += 1 }
    done.signal()
}
done.wait()
exit(failures == 0 ? 0 : 1)
#else
print("the ExperimentalExecutors trait is off")
#endif
