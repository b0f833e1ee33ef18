#if KQ_EXPERIMENTAL_EXECUTORS
import Foundation
@_spi(ExperimentalScheduling) import KQueueTimers
import Testing

@Suite("ExperimentalExecutors trait")
struct ExperimentalExecutorsTests {
    @Test("A plain Task.sleep in a task on the loop is a timer on the loop's wheel, and resumes on the loop")
    func taskSleepOnTheWheel() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let sleeping = Task(executorPreference: loop) { () -> Bool in
            try await Task.sleep(for: .seconds(60))
            return loop.isCurrent
        }
        #expect(await schedulerEventually { loop.pendingCount == 1 })
        sleeping.cancel()
        await #expect(throws: CancellationError.self) { try await sleeping.value }
        let short = Task(executorPreference: loop) { () -> Bool in
            let start = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(10), clock: .suspending)
            return loop.isCurrent && ContinuousClock.now - start >= .milliseconds(10)
        }
        #expect(try await short.value)
    }

    #if os(Linux)
    // The check program is built next to the test binary, which /proc/self/exe names.
    @Test("A loop installed as the global executor serves every task and every Task.sleep (a process of its own)")
    func globalExecutor() throws {
        let tests = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let executable = tests.deletingLastPathComponent().appendingPathComponent("GlobalExecutorCheck")
        let process = Process()
        process.executableURL = executable
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(process.terminationStatus == 0, "GlobalExecutorCheck: \(text)")
        #expect(!text.contains("false"), "\(text)")
        #expect(text.contains("task runs on the shared loop: true"), "\(text)")
    }
    #endif
}
#endif
