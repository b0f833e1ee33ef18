// libkqueue's <sys/event.h>, for the `Libkqueue` trait only: it builds the native kevent(2)
// path on Linux against libkqueue, to compare it with the emulation. The two spellings below
// mirror CKQueueShims' for the system's <sys/event.h>.
#include <sys/types.h>
#include <sys/event.h>
#include <time.h>

typedef struct kevent ckq_kevent_t;

static inline int ckq_kevent(int kq, const ckq_kevent_t *changes, int nchanges, ckq_kevent_t *events,
                             int nevents, const struct timespec *timeout) {
    return kevent(kq, changes, nchanges, events, nevents, timeout);
}
