#if os(Linux) && !KQUEUE_LIBKQUEUE

/// A pidfd in a queue's epoll set: the knote it belongs to and the generation in its
/// ``EpollToken``.
struct ProcessRegistration {
    var knote: Int32
    var generation: UInt32
}
#endif
