import Synchronization

/// A periodic timer on a scheduler or manual clock: its grid, its callback and the wheel
/// entry of its next tick.
final class PeriodicTimer: @unchecked Sendable {
    // @unchecked: `grid` and `timer` are read and written only under the lock of the owning
    // TimerCore; `body` never changes; `cancelled` is atomic.
    let body: @Sendable (_ deadline: Int64, _ missed: Int) -> Void
    var grid: TickGrid
    /// The wheel entry of the next tick.
    var timer = TimerID(index: .max, generation: .max)
    private let cancelled = Atomic<Bool>(false)

    /// Set once, under the owner's lock; read without it by the thread about to run a tick.
    var isCancelled: Bool {
        get { cancelled.load(ordering: .acquiring) }
        set { cancelled.store(newValue, ordering: .releasing) }
    }

    init(grid: TickGrid, body: @escaping @Sendable (_ deadline: Int64, _ missed: Int) -> Void) {
        self.grid = grid
        self.body = body
    }
}
