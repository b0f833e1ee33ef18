// Declarations Swift cannot import by itself. No logic, no state.
#ifndef CKQUEUESHIMS_H
#define CKQUEUESHIMS_H

#if defined(__linux__)
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

// Flags that import inconsistently (as enum members or as Int) get CInt spellings.
static const int ckq_EPOLLIN = EPOLLIN;
static const int ckq_EPOLLOUT = EPOLLOUT;
static const int ckq_EPOLLERR = EPOLLERR;
static const int ckq_EPOLLHUP = EPOLLHUP;
static const int ckq_EPOLLRDHUP = EPOLLRDHUP;
static const unsigned int ckq_EPOLLET = EPOLLET;
static const int ckq_EPOLLONESHOT = EPOLLONESHOT;
static const int ckq_EPOLL_CLOEXEC = EPOLL_CLOEXEC;
static const int ckq_EFD_CLOEXEC = EFD_CLOEXEC;
static const int ckq_EFD_NONBLOCK = EFD_NONBLOCK;
static const int ckq_TFD_CLOEXEC = TFD_CLOEXEC;
static const int ckq_TFD_NONBLOCK = TFD_NONBLOCK;
static const int ckq_TFD_TIMER_ABSTIME = TFD_TIMER_ABSTIME;
static const int ckq_SFD_CLOEXEC = SFD_CLOEXEC;
static const int ckq_SFD_NONBLOCK = SFD_NONBLOCK;

// pidfd_open(2): glibc 2.36 declares it only with newer headers; the syscall number is stable.
static inline int ckq_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

#endif // __linux__

#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) \
    || defined(__DragonFly__)
#include <errno.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

// In Swift, `kevent` names both the struct and the function; these spellings are unambiguous.
typedef struct kevent ckq_kevent_t;

static inline int ckq_kevent(int kq, const ckq_kevent_t *changes, int nchanges, ckq_kevent_t *events,
                             int nevents, const struct timespec *timeout) {
    return kevent(kq, changes, nchanges, events, nevents, timeout);
}
#endif

#endif // CKQUEUESHIMS_H
