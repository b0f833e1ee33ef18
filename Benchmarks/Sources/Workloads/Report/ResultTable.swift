/// The human table of one workload: one row per implementation, each figure followed by its ratio
/// to the project's reference (`loop` if it ran, else `scheduler`, else `kqueue`, else no ratios).
struct ResultTable {
    /// Keys that say how an implementation was set up rather than how it did: no ratio.
    static let settingKeys: Set<String> = ["tolerance_us"]

    var workload: WorkloadName
    var results: [WorkloadResult]

    var reference: WorkloadResult? {
        for name in Implementations.referencePreference {
            if let result = results.first(where: { $0.impl == name && $0.errors.isEmpty }) { return result }
        }
        return nil
    }

    func render() -> String {
        let reference = reference
        let title = "\(workload.rawValue): \(workload.summary)"
        let ratioNote = reference.map { "(×r) = value / \($0.impl)'s" } ?? "no project implementation ran: no ratios"
        var rows: [[String]] = [["impl", "n"] + workload.keys]
        for result in results {
            var row = [result.impl + (result.errors.isEmpty ? "" : " (ERROR)"), String(result.n)]
            for key in workload.keys {
                guard let figure = result.figures.first(where: { $0.key == key }) else {
                    row.append("-")
                    continue
                }
                var cell = JSONLine.number(figure.value, decimals: figure.decimals)
                // Ratios of signed figures (drift), against zero, or of a setting (tolerance_us) mean
                // nothing: leave them out.
                if let reference, reference.impl != result.impl, let base = reference.value(key), base > 0,
                    figure.value >= 0, !Self.settingKeys.contains(key)
                {
                    cell += " (×" + JSONLine.number(figure.value / base, decimals: 2) + ")"
                }
                row.append(cell)
            }
            rows.append(row)
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = [title, ratioNote]
        for (index, row) in rows.enumerated() {
            let cells = row.enumerated().map { column, cell in
                column == 0 ? cell.padding(to: widths[column]) : cell.padding(left: widths[column])
            }
            lines.append(cells.joined(separator: "  "))
            if index == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        for result in results {
            lines += result.notes.map { "  note \(result.impl): \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        self + String(repeating: " ", count: max(0, width - count))
    }

    fileprivate func padding(left width: Int) -> String {
        String(repeating: " ", count: max(0, width - count)) + self
    }
}
