// What the echo workload needs from Linux that Swift's Glibc module does not show: epoll, and
// the CPU affinity calls (which need _GNU_SOURCE, defined only for shims.c). Empty elsewhere.
#ifndef CBENCHMARKSHIMS_H
#define CBENCHMARKSHIMS_H

#if defined(__linux__)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

// Flags that import inconsistently (as enum members or as Int) get plain C spellings.
static const uint32_t cbench_EPOLLIN = EPOLLIN;
static const uint32_t cbench_EPOLLOUT = EPOLLOUT;
static const uint32_t cbench_EPOLLERR = EPOLLERR;
static const uint32_t cbench_EPOLLHUP = EPOLLHUP;
static const int cbench_EPOLL_CLOEXEC = EPOLL_CLOEXEC;
static const int cbench_SOCK_STREAM_NONBLOCK = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
static const int cbench_MSG_NOSIGNAL = MSG_NOSIGNAL;
static const int cbench_TCP_NODELAY = TCP_NODELAY;

/// The size of a `cpu_set_t`, for a buffer that `cbench_get_affinity` fills.
size_t cbench_cpu_set_size(void);
/// `sched_getaffinity` of the calling thread into `set` (`cbench_cpu_set_size()` bytes).
int cbench_get_affinity(void *set);
/// `sched_setaffinity` of the calling thread from `set`, as `cbench_get_affinity` filled it.
int cbench_set_affinity(const void *set);
/// Restricts the calling thread to the one CPU `cpu` (`CPU_SET`, `sched_setaffinity`).
int cbench_pin_to_cpu(int cpu);
#endif

#endif
