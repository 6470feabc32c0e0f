import GospyProcess
#if canImport(Glibc)
import Glibc
#endif

/// The NETLINK_SOCK_DIAG reply parser `gospy waits` uses for unix socket peers
/// (UnixSocketDiag.parse). The kernel writes the replies, but no bytes may make it trap.
enum SockDiagTarget {
    /// Input: one reply datagram. Parsed as the answer to the request it names (its own
    /// sequence number and inode, so a reply gets past the match) and to another one.
    static func run(_ data: [UInt8]) {
        var input = InputCursor(data)
        _ = input.take(8)
        let sequence = input.u32()
        _ = input.take(8)
        let inode = input.u32()
        _ = UnixSocketDiag.parse(data, sequence: sequence, inode: inode)
        _ = UnixSocketDiag.parse(data, sequence: sequence &+ 1, inode: 0)
    }

    /// Real replies from this machine's kernel: for a socket pair's end (its peer), for the two
    /// ends of a connection to a listener with an abstract name (peer and name), and for an
    /// inode no socket has (an error). Empty when the kernel has no unix_diag.
    static func seeds() -> [(name: String, bytes: [UInt8])] {
        var replies: [[UInt8]] = []
        func query(_ inodes: [UInt64]) { _ = UnixSocketDiag.query(inodes) { replies.append($0) } }
        var pair: [Int32] = [-1, -1]
        if socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 {
            query([inode(pair[0])])
            close(pair[0]); close(pair[1])
        }
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let client = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let name = Array("gospy-fuzz-\(getpid())".utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { path in path.copyBytes(from: [0] + name) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + name.count)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(listener, address, length) == 0 && listen(listener, 1) == 0 && connect(client, address, length) == 0
            }
        }
        if connected {
            let accepted = accept(listener, nil, nil)
            query([inode(client), inode(accepted), inode(listener)])
            close(accepted)
        }
        close(client); close(listener)
        query([1])
        return replies.enumerated().map { ("reply\($0.offset)", $0.element) }
    }

    static func inode(_ fd: Int32) -> UInt64 {
        var info = stat()
        return fstat(fd, &info) == 0 ? UInt64(info.st_ino) : 0
    }
}
