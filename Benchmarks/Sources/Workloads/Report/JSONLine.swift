import Foundation

/// The public JSON line of a result: `workload`, `impl`, `n`, then the keys of Benchmarks/README.md in
/// their order. Errors, notes and the curve stay out of it.
enum JSONLine {
    static func format(_ result: WorkloadResult) -> String {
        var fields = [
            "\"workload\":\"\(result.workload.rawValue)\"",
            "\"impl\":\"\(result.impl)\"",
            "\"n\":\(result.n)",
        ]
        for key in result.workload.keys {
            guard let figure = result.figures.first(where: { $0.key == key }) else { continue }
            fields.append("\"\(key)\":\(number(figure.value, decimals: figure.decimals))")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func number(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return "null" }
        return decimals == 0 ? String(Int(value.rounded())) : String(format: "%.\(decimals)f", value)
    }
}
