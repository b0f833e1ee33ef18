#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemPackage

#if os(Linux)
internal import CKQueueShims
#endif

/// Starts `/bin/sh -c script` as a child of the test process; returns its pid.
///
/// The child holds none of the test process's descriptors: its standard input and outputs are
/// /dev/null, and every other descriptor is closed before the shell starts, close-on-exec or
/// not. Suites run in parallel: a child that kept another test's pipe or socket open would keep
/// that test from ever seeing end-of-file (or a reset) when it closes its end, for as long as
/// the child lives; and a child that outlived the test process would keep the runner's output
/// open. dash forks even the lone command of `sh -c`, so a script whose child is killed starts
/// its command with `exec`: the kill then reaches the command, and nothing is left running.
///
/// - Throws: the `Errno` of posix_spawn(3) or of preparing it.
package func spawnShell(_ script: String) throws(Errno) -> Int32 {  // a pid_t
    var pid: pid_t = 0
    let arguments = ["/bin/sh", "-c", script]
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for argument in argv { free(argument) } }
    #if canImport(Darwin)
    var actions: posix_spawn_file_actions_t?
    var attributes: posix_spawnattr_t?
    #else
    var actions = posix_spawn_file_actions_t()
    var attributes = posix_spawnattr_t()
    #endif
    try check(posix_spawn_file_actions_init(&actions))
    defer { posix_spawn_file_actions_destroy(&actions) }
    try check(posix_spawnattr_init(&attributes))
    defer { posix_spawnattr_destroy(&attributes) }
    for (fd, mode) in [(CInt(0), O_RDONLY), (1, O_WRONLY), (2, O_WRONLY)] {
        try check(posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", mode, 0))
    }
    #if os(Linux)
    try check(ckq_posix_spawn_file_actions_addclosefrom(&actions, 3))
    #elseif canImport(Darwin)
    try check(posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_CLOEXEC_DEFAULT)))
    #endif
    try check(posix_spawn(&pid, "/bin/sh", &actions, &attributes, &argv, environ))
    return pid
}

/// posix_spawn(3) and its helpers return the error instead of setting errno.
private func check(_ result: CInt) throws(Errno) {
    if result != 0 { throw Errno(rawValue: result) }
}
