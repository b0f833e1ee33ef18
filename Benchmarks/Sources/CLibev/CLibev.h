// libev for the benchmark peer `libev`. Swift cannot call libev's function-like macros
// (ev_timer_init, ev_timer_set), so the few needed are wrapped here as static inline functions.
#ifndef CLIBEV_H
#define CLIBEV_H

#if !__has_include(<ev.h>)
#error "libev's <ev.h> is not installed: apt-get install libev-dev (Benchmarks/README.md), or build with KQ_BENCH_NO_LIBEV=1"
#endif
#include <ev.h>

typedef void (*clibev_timer_callback)(struct ev_loop *loop, ev_timer *watcher, int revents);

/// `ev_timer_init`: fires `after` seconds after the loop's cached monotonic time, then every `repeat` s (0 = once).
static inline void clibev_timer_init(ev_timer *watcher, clibev_timer_callback callback, ev_tstamp after, ev_tstamp repeat) {
    ev_timer_init(watcher, callback, after, repeat);
}

/// `ev_loop_new(EVFLAG_AUTO)`.
static inline struct ev_loop *clibev_loop_new(void) {
    return ev_loop_new(EVFLAG_AUTO);
}

/// `ev_break(loop, EVBREAK_ALL)`.
static inline void clibev_break_all(struct ev_loop *loop) {
    ev_break(loop, EVBREAK_ALL);
}

#endif
