// libkqueue's <sys/event.h>, for the `Libkqueue` trait only: it builds the native kevent(2)
// path on Linux against libkqueue, to type-check it and compare it with the emulation. The two
// spellings below mirror CKQueueShims' for the system's <sys/event.h>.
//
// SwiftPM enables every trait when it extracts symbol graphs (the API documentation), so this
// module must also compile where libkqueue is not installed. Then it declares the part of
// libkqueue's API the native path uses, with libkqueue's values, and `kqueue()` and
// `ckq_kevent()` fail with ENOSYS: such a build compiles and links, and every queue it makes
// refuses to open. Install libkqueue (Debian: libkqueue-dev) for a working native path.
#ifndef CLIBKQUEUE_H
#define CLIBKQUEUE_H

#include <sys/types.h>
#include <time.h>

#if __has_include(<sys/event.h>)

#include <sys/event.h>

typedef struct kevent ckq_kevent_t;

static inline int ckq_kevent(int kq, const ckq_kevent_t *changes, int nchanges, ckq_kevent_t *events,
                             int nevents, const struct timespec *timeout) {
    return kevent(kq, changes, nchanges, events, nevents, timeout);
}

#else

#warning "libkqueue's <sys/event.h> was not found: the Libkqueue trait builds a queue that fails with ENOSYS"

#include <errno.h>
#include <stdint.h>

typedef struct ckq_kevent {
    uintptr_t ident;
    short filter;
    unsigned short flags;
    unsigned int fflags;
    intptr_t data;
    void *udata;
} ckq_kevent_t;

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_VNODE (-4)
#define EVFILT_PROC (-5)
#define EVFILT_SIGNAL (-6)
#define EVFILT_TIMER (-7)
#define EVFILT_USER (-11)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_RECEIPT 0x0040
#define EV_DISPATCH 0x0080
#define EV_SYSFLAGS 0xF000
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

#define NOTE_SECONDS 0x0001
#define NOTE_USECONDS 0x0002
#define NOTE_NSECONDS 0x0004
#define NOTE_ABSOLUTE 0x0008

#define NOTE_FFNOP 0x00000000
#define NOTE_FFAND 0x40000000
#define NOTE_FFOR 0x80000000
#define NOTE_FFCOPY 0xc0000000
#define NOTE_FFCTRLMASK 0xc0000000
#define NOTE_FFLAGSMASK 0x00ffffff
#define NOTE_TRIGGER 0x01000000

#define NOTE_LOWAT 0x0001
#define NOTE_EXIT 0x80000000

#define NOTE_DELETE 0x0001
#define NOTE_WRITE 0x0002
#define NOTE_EXTEND 0x0004
#define NOTE_ATTRIB 0x0008
#define NOTE_LINK 0x0010
#define NOTE_RENAME 0x0020
#define NOTE_REVOKE 0x0040

static inline int kqueue(void) {
    errno = ENOSYS;
    return -1;
}

static inline int ckq_kevent(int kq, const ckq_kevent_t *changes, int nchanges, ckq_kevent_t *events,
                             int nevents, const struct timespec *timeout) {
    (void)kq, (void)changes, (void)nchanges, (void)events, (void)nevents, (void)timeout;
    errno = ENOSYS;
    return -1;
}

#endif
#endif
