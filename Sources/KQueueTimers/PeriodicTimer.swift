/// A periodic timer on a scheduler or manual clock: its grid, its callback and the wheel
/// entry of its next tick.
final class PeriodicTimer: @unchecked Sendable {
    // @unchecked: `grid`, `timer` and `isCancelled` are read and written only under the
    // lock of the owning TimerCore; `body` never changes.
    let body: @Sendable (_ deadline: Int64, _ missed: Int) -> Void
    var grid: TickGrid
    /// The wheel entry of the next tick.
    var timer = TimerID(index: .max, generation: .max)
    var isCancelled = false

    init(grid: TickGrid, body: @escaping @Sendable (_ deadline: Int64, _ missed: Int) -> Void) {
        self.grid = grid
        self.body = body
    }
}
