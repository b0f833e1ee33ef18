#if os(Linux) && !KQUEUE_LIBKQUEUE

/// What an epoll event is about: the 64-bit `epoll_data` of every registration in a queue's
/// epoll set.
///
/// A registration made by a filter carries a generation, so an event that was already
/// harvested, or that comes from a registration that no longer exists, can never be applied
/// to a newer registration of the same descriptor number (the idea of SwiftNIO's
/// `EPollUserData`).
///
/// Layout: bits 0–31 the descriptor, bits 32–61 the generation, bits 62–63 the kind. The
/// queue's own wake-up eventfd and timerfd are registered with the descriptor alone, so they
/// read as ``Kind/queue``.
struct EpollToken: Equatable {
    enum Kind: UInt64 {
        /// The queue's wake-up eventfd or timerfd.
        case queue = 0
        /// A descriptor watched by EVFILT_READ / EVFILT_WRITE.
        case descriptor = 1
        /// A process's pidfd (EVFILT_PROC).
        case process = 2
        /// The process's signalfd or the queue's signal mailbox (EVFILT_SIGNAL).
        case signal = 3
    }

    var kind: Kind
    var descriptor: CInt
    /// 30 bits; wraps around.
    var generation: UInt32

    init(kind: Kind, descriptor: CInt, generation: UInt32) {
        self.kind = kind
        self.descriptor = descriptor
        self.generation = generation & Self.generationMask
    }

    init(rawValue: UInt64) {
        kind = Kind(rawValue: rawValue >> 62)!
        descriptor = CInt(bitPattern: UInt32(truncatingIfNeeded: rawValue))
        generation = UInt32(truncatingIfNeeded: rawValue >> 32) & Self.generationMask
    }

    var rawValue: UInt64 {
        kind.rawValue << 62 | UInt64(generation) << 32 | UInt64(UInt32(bitPattern: descriptor))
    }

    static let generationMask: UInt32 = (1 << 30) - 1
}
#endif
