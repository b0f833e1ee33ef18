// Every call of this module throws swift-system's `Errno`. That one type is re-exported, so
// `import KQueue` is enough to write `catch Errno.invalidArgument`, with no dependency on
// swift-system in the caller's manifest; the rest of SystemPackage stays out of the caller's
// scope, and a caller that imports SystemPackage too sees the same type, not a second one.
@_exported import struct SystemPackage.Errno
