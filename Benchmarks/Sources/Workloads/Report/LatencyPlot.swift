import Foundation

/// `--plot FILE.svg`: the lateness distributions of `precision` and `fleet`, one panel each, one curve
/// per implementation. x: percentile on the usual "nines" scale (0, 90, 99, 99.9 … %, then max);
/// y: lateness in µs on a log scale. Hand-written SVG, no dependencies.
struct LatencyPlot {
    var results: [WorkloadResult]

    private static let palette = [
        "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    ]
    private static let panelWidth = 520.0
    private static let panelHeight = 450.0
    /// The bottom margin holds the x axis' labels and up to three rows of legend.
    private static let margin = (left: 70.0, right: 20.0, top: 40.0, bottom: 100.0)

    func write(to path: String) throws {
        try render().write(toFile: path, atomically: true, encoding: .utf8)
    }

    func render() -> String {
        let workloads = WorkloadName.allCases.filter(\.isPlotted)
        let width = Self.panelWidth * Double(workloads.count)
        let height = Self.panelHeight
        var svg = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" "
                + "viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\" font-size=\"12\">",
            SVG.element("rect", ["width": "100%", "height": "100%", "fill": "white"]),
        ]
        for (index, workload) in workloads.enumerated() {
            let curves = results.filter { $0.workload == workload && !($0.curve ?? []).isEmpty }
            svg.append("<g transform=\"translate(\(Double(index) * Self.panelWidth),0)\">")
            svg += Panel(workload: workload, curves: curves, color: color).render()
            svg.append("</g>")
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// The same colour for an implementation in every panel.
    private func color(_ implementation: String) -> String {
        let names = Implementations.all.map { $0.name }
        return Self.palette[(names.firstIndex(of: implementation) ?? names.count) % Self.palette.count]
    }

    private struct Panel {
        var workload: WorkloadName
        var curves: [WorkloadResult]
        var color: (String) -> String

        let left = LatencyPlot.margin.left
        let top = LatencyPlot.margin.top
        let width = LatencyPlot.panelWidth - LatencyPlot.margin.left - LatencyPlot.margin.right
        let height = LatencyPlot.panelHeight - LatencyPlot.margin.top - LatencyPlot.margin.bottom
        var bottom: Double { top + height }

        /// Decades of the nines scale shown (90% = 1, 99% = 2, ...) and the log10 range of µs shown.
        var maxNines = 2.0
        var lowDecade = 0.0
        var highDecade = 1.0

        init(workload: WorkloadName, curves: [WorkloadResult], color: @escaping (String) -> String) {
            self.workload = workload
            self.curves = curves
            self.color = color
            let points = curves.flatMap { $0.curve ?? [] }
            let nines = points.filter { $0[0] < 100 }.map { Self.nines($0[0]) }
            maxNines = max(2, min(6, ceil(nines.max() ?? 2)))
            let values = points.map { max($0[1], 1) }
            lowDecade = floor(log10(values.min() ?? 1))
            highDecade = max(lowDecade + 1, ceil(log10(values.max() ?? 10)))
        }

        static func nines(_ percentile: Double) -> Double {
            log10(100 / max(100 - percentile, 1e-9))
        }

        /// x of a percentile; 100 (the maximum) is drawn a little right of the last decade.
        func x(_ percentile: Double) -> Double {
            let end = maxNines + 0.6
            return left + width * (percentile >= 100 ? end : min(Self.nines(percentile), maxNines)) / end
        }

        func y(_ microseconds: Double) -> Double {
            top + height * (1 - (log10(max(microseconds, 1)) - lowDecade) / (highDecade - lowDecade))
        }

        /// The `n` of the curves: one number when they agree.
        var sizes: String {
            let sizes = curves.map { String($0.n) }
            return Set(sizes).count == 1 ? sizes[0] : sizes.joined(separator: "/")
        }

        func render() -> [String] {
            let center = LatencyPlot.panelWidth / 2
            var out = [
                SVG.text(
                    "\(workload.rawValue): timer lateness distribution (n = \(sizes))",
                    ["x": center, "y": 20, "text-anchor": "middle", "font-size": 14, "font-weight": "bold"]
                )
            ]
            guard !curves.isEmpty else {
                return out + [SVG.text("(not run)", ["x": center, "y": top + height / 2, "text-anchor": "middle"])]
            }
            out.append(
                SVG.element(
                    "rect",
                    ["x": left, "y": top, "width": width, "height": height, "fill": "none", "stroke": "#333"]
                )
            )
            out += xAxis() + yAxis()
            for (index, result) in curves.enumerated() {
                out += curve(result, legendRow: index)
            }
            return out
        }

        private func xAxis() -> [String] {
            var out: [String] = []
            var ticks = (0...Int(maxNines)).map { nine -> (Double, String) in
                let percentile = 100 - 100 / pow(10, Double(nine))
                return (percentile, nine == 0 ? "0%" : String(format: "%g%%", percentile))
            }
            ticks.append((100, "max"))
            for (percentile, label) in ticks {
                let x = x(percentile)
                out.append(SVG.element("line", ["x1": x, "y1": top, "x2": x, "y2": bottom, "stroke": "#ddd"]))
                out.append(SVG.text(label, ["x": x, "y": bottom + 16, "text-anchor": "middle"]))
            }
            out.append(
                SVG.text(
                    "percentile (log scale of 1 − p)",
                    ["x": left + width / 2, "y": bottom + 34, "text-anchor": "middle"]
                )
            )
            return out
        }

        private func yAxis() -> [String] {
            var out: [String] = []
            for decade in Int(lowDecade)...Int(highDecade) {
                let value = pow(10, Double(decade))
                let label =
                    value >= 1e6
                    ? "\(Int(value / 1e6)) s" : value >= 1e3 ? "\(Int(value / 1e3)) ms" : "\(Int(value)) µs"
                let y = y(value)
                out.append(SVG.element("line", ["x1": left, "y1": y, "x2": left + width, "y2": y, "stroke": "#ddd"]))
                out.append(SVG.text(label, ["x": left - 6, "y": y + 4, "text-anchor": "end"]))
            }
            out.append(
                SVG.text(
                    "lateness (log scale; below 1 µs drawn at 1 µs)",
                    ["transform": "translate(16,\(top + height / 2)) rotate(-90)", "text-anchor": "middle"]
                )
            )
            return out
        }

        /// The curve, and its legend entry in a row under the x axis.
        private func curve(_ result: WorkloadResult, legendRow: Int) -> [String] {
            let stroke = color(result.impl)
            let points = (result.curve ?? []).map { "\(x($0[0])),\(y($0[1]))" }.joined(separator: " ")
            // Three columns leave room for the longest names (`scheduler-spin`, `concurrency`).
            let columns = 3
            let legendX = left + Double(legendRow % columns) * (width / Double(columns))
            let legendY = bottom + 54 + Double(legendRow / columns) * 16
            return [
                SVG.element("polyline", ["fill": "none", "stroke": stroke, "stroke-width": 2, "points": points]),
                SVG.element(
                    "line",
                    [
                        "x1": legendX, "y1": legendY - 4, "x2": legendX + 20, "y2": legendY - 4, "stroke": stroke,
                        "stroke-width": 2,
                    ]
                ),
                SVG.text(result.impl, ["x": legendX + 26, "y": legendY]),
            ]
        }
    }
}
