import Foundation
import Testing
@testable import GospyProcess

/// A connected unix socket's peer through NETLINK_SOCK_DIAG: the kernel's answer for a socket
/// pair of this process, and replies that are damaged or answer another request.
@Suite struct UnixSocketPeersTests {
    static func inode(_ fd: Int32) -> UInt64 {
        var info = stat()
        return fstat(fd, &info) == 0 ? UInt64(info.st_ino) : 0
    }

    @Test func aSocketPairsPeerIsTheOtherEndInThisProcess() throws {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let (a, b) = (Self.inode(fds[0]), Self.inode(fds[1]))
        let kernel = UnixSocketDiag.query([a])
        try #require(!kernel.isEmpty, "this kernel answers no unix sock_diag request (no unix_diag)")
        #expect(kernel[a]?.peer == b)
        let peers = ProcFS(pid: getpid()).unixPeers(of: [a, b])
        #expect(peers[a] == SocketPeer(inode: b, pid: getpid(), command: ProcFS(pid: getpid()).command(), fd: fds[1]))
        #expect(peers[b]?.inode == a && peers[b]?.fd == fds[0])
        // An inode no socket has, and one past 32 bits: not described, no error.
        #expect(ProcFS(pid: getpid()).unixPeers(of: [1, 1 << 40]).isEmpty)
    }

    /// A reply with the peer attribute, built as the kernel lays it out.
    static func reply(sequence: UInt32, inode: UInt32, attributes: [(UInt16, [UInt8])], lengthDelta: Int = 0) -> [UInt8] {
        var body: [UInt8] = [UInt8(AF_UNIX), 1, 1, 0]
        withUnsafeBytes(of: inode.littleEndian) { body += $0 }
        body += [UInt8](repeating: 0xff, count: 8)
        for (type, payload) in attributes {
            withUnsafeBytes(of: UInt16(4 + payload.count).littleEndian) { body += $0 }
            withUnsafeBytes(of: type.littleEndian) { body += $0 }
            body += payload + [UInt8](repeating: 0, count: (4 - payload.count % 4) % 4)
        }
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt32(16 + body.count + lengthDelta).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UnixSocketDiag.sockDiagByFamily.littleEndian) { bytes += $0 }
        bytes += [0, 0]
        withUnsafeBytes(of: sequence.littleEndian) { bytes += $0 }
        bytes += [0, 0, 0, 0]
        return bytes + body
    }

    @Test func repliesAreParsedWithinTheirBounds() {
        let peer: [UInt8] = [0x39, 0x30, 0, 0] // 12345
        let good = Self.reply(sequence: 7, inode: 42, attributes: [(2, peer), (0, Array("/run/x.sock".utf8))])
        #expect(UnixSocketDiag.parse(good, sequence: 7, inode: 42) == .answer(.init(peer: 12345, name: "/run/x.sock")))
        // An abstract name.
        let abstract = Self.reply(sequence: 7, inode: 42, attributes: [(0, [0] + Array("bus".utf8))])
        #expect(UnixSocketDiag.parse(abstract, sequence: 7, inode: 42) == .answer(.init(peer: nil, name: "@bus")))
        // Another request's reply, another inode: not this one's.
        #expect(UnixSocketDiag.parse(good, sequence: 8, inode: 42) == nil)
        #expect(UnixSocketDiag.parse(good, sequence: 7, inode: 43) == nil)
        // A length past the datagram, a truncated datagram, an attribute running past the message.
        #expect(UnixSocketDiag.parse(Self.reply(sequence: 7, inode: 42, attributes: [(2, peer)], lengthDelta: 100), sequence: 7, inode: 42) == nil)
        #expect(UnixSocketDiag.parse(Array(good.prefix(20)), sequence: 7, inode: 42) == nil)
        var overrun = Self.reply(sequence: 7, inode: 42, attributes: [(2, peer)])
        overrun[32] = 0xff // the attribute's length
        #expect(UnixSocketDiag.parse(overrun, sequence: 7, inode: 42) == .answer(.init(peer: nil, name: nil)))
        var zero = Self.reply(sequence: 7, inode: 42, attributes: [(2, peer)])
        zero[32] = 0; zero[33] = 0 // a zero-length attribute: the walk stops, no loop
        #expect(UnixSocketDiag.parse(zero, sequence: 7, inode: 42) == .answer(.init(peer: nil, name: nil)))
        #expect(UnixSocketDiag.parse([], sequence: 7, inode: 42) == nil)
    }
}
