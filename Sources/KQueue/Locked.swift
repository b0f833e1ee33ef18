#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a pthread mutex, in one allocation: the mutex and the value live in
/// the same heap object (a `ManagedBuffer` whose header is the mutex), whose address never
/// changes, as a pthread mutex requires.
///
/// The project's lock. It is used instead of `Synchronization.Mutex` for ThreadSanitizer:
/// TSan intercepts pthread_mutex_lock and pthread_mutex_unlock and sees every hand-over of a
/// pthread mutex. `Mutex` on Linux is a futex word; an uncontended lock or unlock is an atomic
/// operation TSan sees, but the contended slow path hands ownership to the waiter inside the
/// kernel (FUTEX_LOCK_PI / FUTEX_UNLOCK_PI), where TSan cannot see it. So TSan reports the
/// accesses made under a contended `Mutex` as races, which would hide real ones.
///
/// Release builds use an adaptive mutex on Linux, which spins briefly before it sleeps: the
/// critical sections here are a few hundred nanoseconds, shorter than a futex sleep and
/// wake-up. Debug builds use an error-checking mutex, so re-entering ``withLock(_:)`` on the
/// thread that holds the lock traps with a message instead of deadlocking.
///
/// Like `Mutex`, it is `Sendable` whatever the value: the value comes in as `sending` and is
/// reached only inside ``withLock(_:)``, whose body gets it as `inout sending` and whose
/// result goes out as `sending`, so no reference into it can leave the lock. A copy of a
/// `Locked` is the same lock.
package struct Locked<Value: ~Copyable>: @unchecked Sendable {
    @usableFromInline
    final class Storage: ManagedBuffer<pthread_mutex_t, Value> {
        deinit {
            withUnsafeMutablePointers { mutex, value in
                value.deinitialize(count: 1)
                let result = pthread_mutex_destroy(mutex)
                precondition(result == 0, "pthread_mutex_destroy failed with error \(result): a Locked value was destroyed while locked")
            }
        }
    }

    @usableFromInline let storage: Storage

    /// Whether re-entering ``withLock(_:)`` on the same thread traps (debug builds) rather
    /// than deadlocks.
    package static var detectsReentry: Bool {
        #if KQ_INTERNAL_CHECKS
        return true
        #else
        return false
        #endif
    }

    package init(_ value: consuming sending Value) {
        storage = unsafeDowncast(Storage.create(minimumCapacity: 1) { _ in pthread_mutex_t() }, to: Storage.self)
        let mutex = storage.withUnsafeMutablePointerToHeader { $0 }
        var attributes = pthread_mutexattr_t()
        var result = pthread_mutexattr_init(&attributes)
        precondition(result == 0, "pthread_mutexattr_init failed with error \(result)")
        defer { _ = pthread_mutexattr_destroy(&attributes) }
        #if KQ_INTERNAL_CHECKS
        result = pthread_mutexattr_settype(&attributes, CInt(PTHREAD_MUTEX_ERRORCHECK))
        #elseif os(Linux)
        result = pthread_mutexattr_settype(&attributes, CInt(PTHREAD_MUTEX_ADAPTIVE_NP))
        #endif
        precondition(result == 0, "pthread_mutexattr_settype failed with error \(result)")
        result = pthread_mutex_init(mutex, &attributes)
        precondition(result == 0, "pthread_mutex_init failed with error \(result)")
        storage.withUnsafeMutablePointerToElements { $0 }.initialize(to: value)
    }

    /// Runs `body` with exclusive access to the value, as `Mutex.withLock` does.
    ///
    /// - Precondition: the calling thread does not hold the lock already (debug builds trap;
    ///   release builds deadlock).
    @inlinable @inline(__always)
    package func withLock<Result: ~Copyable, Failure: Error>(
        _ body: (inout sending Value) throws(Failure) -> sending Result
    ) throws(Failure) -> sending Result {
        let mutex = storage.withUnsafeMutablePointerToHeader { $0 }
        let locked = pthread_mutex_lock(mutex)
        if locked != 0 { Self.failed("pthread_mutex_lock", locked) }
        defer {
            let unlocked = pthread_mutex_unlock(mutex)
            if unlocked != 0 { Self.failed("pthread_mutex_unlock", unlocked) }
        }
        return try body(&storage.withUnsafeMutablePointerToElements { $0 }.pointee)
    }

    /// Runs `body` with exclusive access to a `Sendable` value. Nothing reachable from such a
    /// value needs a region of its own, so `body` may be any closure, also one that is not
    /// written for `sending` (a closure passed on from a caller's parameter).
    @inlinable @inline(__always)
    package func withLock<Result: ~Copyable, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result where Value: Sendable {
        let mutex = storage.withUnsafeMutablePointerToHeader { $0 }
        let locked = pthread_mutex_lock(mutex)
        if locked != 0 { Self.failed("pthread_mutex_lock", locked) }
        defer {
            let unlocked = pthread_mutex_unlock(mutex)
            if unlocked != 0 { Self.failed("pthread_mutex_unlock", unlocked) }
        }
        return try body(&storage.withUnsafeMutablePointerToElements { $0 }.pointee)
    }

    @usableFromInline
    static func failed(_ call: StaticString, _ result: CInt) -> Never {
        if result == EDEADLK {
            preconditionFailure("\(call) failed with EDEADLK: Locked.withLock was re-entered on the thread that holds the lock")
        }
        preconditionFailure("\(call) failed with error \(result)")
    }
}
