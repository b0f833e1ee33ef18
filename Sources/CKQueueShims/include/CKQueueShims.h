// Declarations Swift cannot import by itself. No logic, no state.
#ifndef CKQUEUESHIMS_H
#define CKQUEUESHIMS_H

#if defined(__linux__)
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
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
// Linux-only values that <poll.h> and <fcntl.h> show only under _GNU_SOURCE, which the
// importing Swift module does not define.
static const short ckq_POLLRDHUP = 0x2000;    // POLLRDHUP
static const int ckq_F_GETPIPE_SZ = 1024 + 8;  // F_GETPIPE_SZ = F_LINUX_SPECIFIC_BASE + 8
static const unsigned long ckq_SIOCINQ = SIOCINQ;
static const unsigned long ckq_SIOCOUTQ = SIOCOUTQ;
static const int ckq_P_PIDFD = 3;  // <sys/wait.h> of glibc 2.36 lacks it; the value is the kernel's
// inotify(7): the flags of inotify_init1(2) (an enum in glibc) and the event bits, as
// unsigned values.
static const int ckq_IN_CLOEXEC = IN_CLOEXEC;
static const int ckq_IN_NONBLOCK = IN_NONBLOCK;
static const unsigned int ckq_IN_MODIFY = IN_MODIFY;
static const unsigned int ckq_IN_ATTRIB = IN_ATTRIB;
static const unsigned int ckq_IN_MOVED_FROM = IN_MOVED_FROM;
static const unsigned int ckq_IN_MOVED_TO = IN_MOVED_TO;
static const unsigned int ckq_IN_CREATE = IN_CREATE;
static const unsigned int ckq_IN_DELETE = IN_DELETE;
static const unsigned int ckq_IN_DELETE_SELF = IN_DELETE_SELF;
static const unsigned int ckq_IN_MOVE_SELF = IN_MOVE_SELF;
static const unsigned int ckq_IN_UNMOUNT = IN_UNMOUNT;
static const unsigned int ckq_IN_Q_OVERFLOW = IN_Q_OVERFLOW;
static const unsigned int ckq_IN_IGNORED = IN_IGNORED;
static const unsigned int ckq_IN_ISDIR = IN_ISDIR;
// The file system of anonymous pipes (fstatfs(2) f_type), which EVFILT_VNODE refuses.
static const long ckq_PIPEFS_MAGIC = 0x50495045;

// Variadic C functions Swift cannot call, as fixed-argument forwarders.
static inline int ckq_ioctl_int(int fd, unsigned long request, int *value) {
    return ioctl(fd, request, value);
}

static inline int ckq_fcntl(int fd, int command) {
    return fcntl(fd, command);
}

// prctl(PR_SET_TIMERSLACK): how late the kernel may end the calling thread's timed waits
// (50 µs by default), so that it can group wake-ups.
static inline int ckq_set_timer_slack(unsigned long nanoseconds) {
    return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0);
}

// siginfo_t's union members, which Swift cannot name portably.
static inline int ckq_siginfo_code(const siginfo_t *info) { return info->si_code; }
static inline int ckq_siginfo_status(const siginfo_t *info) { return info->si_status; }
static inline pid_t ckq_siginfo_pid(const siginfo_t *info) { return info->si_pid; }

// pidfd_open(2): glibc 2.36 declares it only with newer headers; the syscall number is stable.
static inline int ckq_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

// ppoll(2) as the system call, without a signal mask: <poll.h> declares ppoll only under
// _GNU_SOURCE, which the importing Swift module does not define. The kernel writes the time
// left back into *timeout.
static inline int ckq_ppoll(struct pollfd *fds, unsigned long count, struct timespec *timeout) {
    return (int)syscall(SYS_ppoll, fds, count, timeout, NULL, 0);
}

// Names the calling thread (prctl PR_SET_NAME: 15 bytes and a NUL at most); glibc declares
// pthread_setname_np only under _GNU_SOURCE, which the importing Swift module does not define.
static inline int ckq_name_current_thread(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

// posix_spawn_file_actions_addclosefrom_np(3) (glibc 2.34): the child closes every descriptor
// from `from` up before it runs the program. <spawn.h> declares it only under _GNU_SOURCE, which
// the importing Swift module does not define, and this module does not include <spawn.h> (the
// Glibc module has it), so the actions are a plain pointer to a posix_spawn_file_actions_t.
extern int posix_spawn_file_actions_addclosefrom_np(void *actions, int from);
static inline int ckq_posix_spawn_file_actions_addclosefrom(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
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
