#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The soft limit on open descriptors, raised to the hard limit: the kqueue emulation may keep a
/// descriptor per timer (kevent), and an echo run opens a socket per connection on each side.
enum DescriptorLimit {
    /// Raises the soft limit to the hard one; returns the soft limit in effect afterwards.
    @discardableResult
    static func raise() -> Int {
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(resource, &limit)
        }
        return Int(limit.rlim_cur)
    }
}
