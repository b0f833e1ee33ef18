/// Runs one workload for one implementation, in the current (child) process.
enum WorkloadRun {
    /// The result of `workload` for the implementation called `name`; nil if no implementation of
    /// that workload has the name. echo's implementations are servers (`EchoServerImplementation`),
    /// the others' timer implementations.
    static func run(_ workload: WorkloadName, implementationNamed name: String, parameters: WorkloadParameters) throws
        -> WorkloadResult?
    {
        if workload == .echo {
            guard let server = EchoServerImplementation(rawValue: name) else { return nil }
            return try EchoWorkload.run(server, parameters: parameters)
        }
        guard let implementation = Implementations.named(name) else { return nil }
        return try run(workload, implementation, parameters: parameters)
    }

    static func run(
        _ workload: WorkloadName,
        _ implementation: any TimerImplementation.Type,
        parameters: WorkloadParameters
    ) throws -> WorkloadResult {
        switch workload {
        case .churn: try ChurnWorkload.run(implementation, parameters: parameters)
        case .fire: try FireWorkload.run(implementation, parameters: parameters)
        case .precision: try PrecisionWorkload.run(implementation, parameters: parameters)
        case .fleet: try FleetWorkload.run(implementation, parameters: parameters)
        case .idle: try IdleWorkload.run(implementation, parameters: parameters)
        case .kevent: try KEventWorkload.run(implementation, parameters: parameters)
        case .hop: try HopWorkload.run(implementation, parameters: parameters)
        case .sleepers: try SleepersWorkload.run(implementation, parameters: parameters)
        case .echo: preconditionFailure("echo runs servers, not timer implementations")
        }
    }
}
