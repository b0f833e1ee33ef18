/// Runs one workload for one implementation, in the current (child) process.
enum WorkloadRun {
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
        }
    }
}
