// sched_getaffinity, sched_setaffinity and the CPU_* macros need _GNU_SOURCE (set in
// Benchmarks/Package.swift for this target), which the Swift side cannot define.
#include "CBenchmarkShims.h"

#if defined(__linux__)
#include <sched.h>
#include <string.h>

size_t cbench_cpu_set_size(void) {
    return sizeof(cpu_set_t);
}

int cbench_get_affinity(void *set) {
    return sched_getaffinity(0, sizeof(cpu_set_t), (cpu_set_t *)set);
}

int cbench_set_affinity(const void *set) {
    return sched_setaffinity(0, sizeof(cpu_set_t), (const cpu_set_t *)set);
}

int cbench_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(cpu_set_t), &set);
}
#endif
