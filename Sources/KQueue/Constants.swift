// The numeric values behind the public names, in one place.
//
// Native builds read the system's <sys/event.h>; the values differ between macOS and the
// BSDs, which is why the public API exposes names only. The Linux emulation follows the
// darwin profile and uses macOS's values.

#if os(Linux) && !KQUEUE_LIBKQUEUE

// Filters (macOS <sys/event.h>).
let _EVFILT_READ: Int16 = -1
let _EVFILT_WRITE: Int16 = -2
let _EVFILT_VNODE: Int16 = -4
let _EVFILT_PROC: Int16 = -5
let _EVFILT_SIGNAL: Int16 = -6
let _EVFILT_TIMER: Int16 = -7
let _EVFILT_USER: Int16 = -10

// Flags.
let _EV_ADD: UInt16 = 0x0001
let _EV_DELETE: UInt16 = 0x0002
let _EV_ENABLE: UInt16 = 0x0004
let _EV_DISABLE: UInt16 = 0x0008
let _EV_ONESHOT: UInt16 = 0x0010
let _EV_CLEAR: UInt16 = 0x0020
let _EV_RECEIPT: UInt16 = 0x0040
let _EV_DISPATCH: UInt16 = 0x0080
let _EV_SYSFLAGS: UInt16 = 0xF000
let _EV_ERROR: UInt16 = 0x4000
let _EV_EOF: UInt16 = 0x8000

// Timer units.
let _NOTE_SECONDS: UInt32 = 0x0000_0001
let _NOTE_USECONDS: UInt32 = 0x0000_0002
let _NOTE_NSECONDS: UInt32 = 0x0000_0004
let _NOTE_ABSOLUTE: UInt32 = 0x0000_0008

// User events.
let _NOTE_FFNOP: UInt32 = 0x0000_0000
let _NOTE_FFAND: UInt32 = 0x4000_0000
let _NOTE_FFOR: UInt32 = 0x8000_0000
let _NOTE_FFCOPY: UInt32 = 0xC000_0000
let _NOTE_FFCTRLMASK: UInt32 = 0xC000_0000
let _NOTE_FFLAGSMASK: UInt32 = 0x00FF_FFFF
let _NOTE_TRIGGER: UInt32 = 0x0100_0000

// Descriptors and processes.
let _NOTE_LOWAT: UInt32 = 0x0000_0001
let _NOTE_EXIT: UInt32 = 0x8000_0000
let _NOTE_EXITSTATUS: UInt32 = 0x0400_0000

// File system objects (EVFILT_VNODE).
let _NOTE_DELETE: UInt32 = 0x0000_0001
let _NOTE_WRITE: UInt32 = 0x0000_0002
let _NOTE_EXTEND: UInt32 = 0x0000_0004
let _NOTE_ATTRIB: UInt32 = 0x0000_0008
let _NOTE_LINK: UInt32 = 0x0000_0010
let _NOTE_RENAME: UInt32 = 0x0000_0020
let _NOTE_REVOKE: UInt32 = 0x0000_0040

#else

#if KQUEUE_LIBKQUEUE
internal import CLibkqueue
#else
internal import CKQueueShims
#endif

let _EVFILT_READ = Int16(EVFILT_READ)
let _EVFILT_WRITE = Int16(EVFILT_WRITE)
let _EVFILT_VNODE = Int16(EVFILT_VNODE)
let _EVFILT_PROC = Int16(EVFILT_PROC)
let _EVFILT_SIGNAL = Int16(EVFILT_SIGNAL)
let _EVFILT_TIMER = Int16(EVFILT_TIMER)
let _EVFILT_USER = Int16(EVFILT_USER)

let _EV_ADD = UInt16(EV_ADD)
let _EV_DELETE = UInt16(EV_DELETE)
let _EV_ENABLE = UInt16(EV_ENABLE)
let _EV_DISABLE = UInt16(EV_DISABLE)
let _EV_ONESHOT = UInt16(EV_ONESHOT)
let _EV_CLEAR = UInt16(EV_CLEAR)
let _EV_RECEIPT = UInt16(EV_RECEIPT)
let _EV_DISPATCH = UInt16(EV_DISPATCH)
let _EV_SYSFLAGS = UInt16(EV_SYSFLAGS)
let _EV_ERROR = UInt16(EV_ERROR)
let _EV_EOF = UInt16(EV_EOF)

let _NOTE_SECONDS = UInt32(NOTE_SECONDS)
let _NOTE_USECONDS = UInt32(NOTE_USECONDS)
let _NOTE_NSECONDS = UInt32(NOTE_NSECONDS)
#if os(macOS) || os(iOS) || os(tvOS) || os(watchOS) || os(visionOS) || KQUEUE_LIBKQUEUE
let _NOTE_ABSOLUTE = UInt32(NOTE_ABSOLUTE)
#else
let _NOTE_ABSOLUTE = UInt32(NOTE_ABSTIME)
#endif

let _NOTE_FFNOP = UInt32(NOTE_FFNOP)
let _NOTE_FFAND = UInt32(NOTE_FFAND)
let _NOTE_FFOR = UInt32(NOTE_FFOR)
let _NOTE_FFCOPY = UInt32(NOTE_FFCOPY)
let _NOTE_FFCTRLMASK = UInt32(NOTE_FFCTRLMASK)
let _NOTE_FFLAGSMASK = UInt32(NOTE_FFLAGSMASK)
let _NOTE_TRIGGER = UInt32(NOTE_TRIGGER)

let _NOTE_LOWAT = UInt32(NOTE_LOWAT)
let _NOTE_EXIT = UInt32(bitPattern: Int32(truncatingIfNeeded: NOTE_EXIT))
#if (os(macOS) || os(iOS) || os(tvOS) || os(watchOS) || os(visionOS)) && !KQUEUE_LIBKQUEUE
let _NOTE_EXITSTATUS = UInt32(NOTE_EXITSTATUS)
#else
let _NOTE_EXITSTATUS: UInt32 = 0  // the status is always reported
#endif

let _NOTE_DELETE = UInt32(NOTE_DELETE)
let _NOTE_WRITE = UInt32(NOTE_WRITE)
let _NOTE_EXTEND = UInt32(NOTE_EXTEND)
let _NOTE_ATTRIB = UInt32(NOTE_ATTRIB)
let _NOTE_LINK = UInt32(NOTE_LINK)
let _NOTE_RENAME = UInt32(NOTE_RENAME)
let _NOTE_REVOKE = UInt32(NOTE_REVOKE)

#endif
