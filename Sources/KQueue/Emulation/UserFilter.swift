#if os(Linux) && !KQUEUE_LIBKQUEUE
import SystemPackage

/// EVFILT_USER, entirely in software: a trigger bit, 24 user flags and a data word per knote.
///
/// Darwin profile: NOTE_TRIGGER fires even together with the EV_ADD that creates the knote;
/// every change replaces `data` (and the queue replaces `udata`); NOTE_FFAND / NOTE_FFOR /
/// NOTE_FFCOPY combine the low 24 bits into the stored flags; triggers before a retrieval
/// collapse into one event; a trigger while disabled is remembered until EV_ENABLE. Without
/// EV_CLEAR a triggered event stays triggered (it is returned by every call) until it is
/// deleted or disabled.
enum UserFilter: EmulatedFilter {
    static func attach(_ knote: Int32, _ change: KEvent, to queue: inout QueueState) -> Errno? {
        queue.knotes[knote].sfflags = change.fflags.rawValue & KEvent.FilterFlags.fflagsmask.rawValue
        queue.knotes[knote].sdata = change.data
        if change.fflags.contains(.trigger) { queue.knotes[knote].isActive = true }
        return nil
    }

    static func touch(_ knote: Int32, _ change: KEvent, in queue: inout QueueState) -> Errno? {
        let mask = KEvent.FilterFlags.fflagsmask.rawValue
        let low = change.fflags.rawValue & mask
        let stored = queue.knotes[knote].sfflags
        switch KEvent.FilterFlags(rawValue: change.fflags.rawValue & KEvent.FilterFlags.ffctrlmask.rawValue) {
        case .ffand: queue.knotes[knote].sfflags = stored & low
        case .ffor: queue.knotes[knote].sfflags = stored | low
        case .ffcopy: queue.knotes[knote].sfflags = low
        default: break  // NOTE_FFNOP
        }
        queue.knotes[knote].sdata = change.data
        if change.fflags.contains(.trigger) { queue.knotes[knote].isActive = true }
        return nil
    }

    static func update(_ knote: Int32, in queue: inout QueueState) {}

    static func detach(_ knote: Int32, from queue: inout QueueState) {}

    static func deliver(_ knote: Int32, from queue: inout QueueState) -> KEvent? {
        let stored = queue.knotes[knote]
        if stored.flags.contains(.clear) { queue.knotes[knote].isActive = false }
        return KEvent(
            ident: stored.ident,
            filter: .user,
            flags: stored.flags,
            fflags: KEvent.FilterFlags(rawValue: stored.sfflags),
            data: stored.sdata,
            udata: stored.udata
        )
    }
}
#endif
