import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// The other end of a connected unix socket: its inode (from the kernel's sock_diag, as
/// `ss -x` finds it), the name it is bound to, and the process and descriptor holding it.
public struct SocketPeer: Sendable, Equatable, Encodable {
    public let inode: UInt64
    /// The peer's bound name (a listener's path, for a client's peer; "@name" when abstract).
    public var path: String?
    /// The process holding the peer (its /proc/PID/comm) and the descriptor there, when found.
    public var pid: Int32?
    public var command: String?
    public var fd: Int32?

    /// "/run/x.sock (pid 42 server fd 7)", "socket:[123]".
    public var summary: String {
        let name = path ?? "socket:[\(inode)]"
        guard let pid else { return name }
        return name + " (pid \(pid)" + (command.map { " " + $0 } ?? "") + (fd.map { " fd \($0)" } ?? "") + ")"
    }
}

/// Unix sockets through NETLINK_SOCK_DIAG: one exact request per inode (UNIX_DIAG_PEER and
/// UNIX_DIAG_NAME), each reply awaited a bounded time. It fails soft: a kernel without
/// unix_diag, a socket in another network namespace or an inode past 32 bits is simply not
/// described.
package enum UnixSocketDiag {
    /// Sockets asked about in one call, at most.
    static let maxQueries = 4096
    /// How long one reply is awaited, and all of one call's at most.
    static let replyTimeout = timeval(tv_sec: 0, tv_usec: 250_000)
    static let callBudgetNanoseconds: UInt64 = 2_000_000_000

    package struct Info: Equatable {
        package var peer: UInt64?
        package var name: String?
    }

    static let netlinkSockDiag: Int32 = 4
    static let sockDiagByFamily: UInt16 = 20
    static let nlmsgError: UInt16 = 2
    static let nlmFRequest: UInt16 = 1
    static let showName: UInt32 = 1, showPeer: UInt32 = 4
    static let attributeName: UInt16 = 0, attributePeer: UInt16 = 2

    /// What the kernel says about each of `inodes` (sockets it does not know are left out).
    /// `received` sees every reply datagram as it came (the fuzz target's seeds are real ones).
    package static func query(_ inodes: [UInt64], received: (([UInt8]) -> Void)? = nil) -> [UInt64: Info] {
        let wanted = inodes.filter { $0 > 0 && $0 <= UInt64(UInt32.max) }.prefix(maxQueries)
        guard !wanted.isEmpty else { return [:] }
        let fd = socket(AF_NETLINK, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), netlinkSockDiag)
        guard fd >= 0 else { return [:] }
        defer { close(fd) }
        var timeout = replyTimeout
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0 else { return [:] }
        var result: [UInt64: Info] = [:]
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = monotonicNanoseconds() &+ callBudgetNanoseconds
        for (index, inode) in wanted.enumerated() {
            guard monotonicNanoseconds() < deadline else { break }
            let sequence = UInt32(index + 1)
            let request = Self.request(inode: UInt32(inode), sequence: sequence)
            let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard sent == request.count else { return result }
            // Replies to earlier requests that timed out may still come: skip them, a few at most.
            for _ in 0..<4 {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                let datagram = Array(buffer[0..<count])
                received?(datagram)
                let reply = Self.parse(datagram, sequence: sequence, inode: UInt32(inode))
                if case let .answer(info)? = reply { result[inode] = info }
                if reply != nil { break }
            }
        }
        return result
    }

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    /// nlmsghdr + unix_diag_req: every state, this inode, no cookie (~0, ~0: not checked).
    static func request(inode: UInt32, sequence: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        append(UInt32(16 + 24)); append(sockDiagByFamily); append(nlmFRequest); append(sequence); append(UInt32(0))
        append(UInt8(AF_UNIX)); append(UInt8(0)); append(UInt16(0))
        append(UInt32.max) // udiag_states
        append(inode)
        append(showName | showPeer)
        append(UInt32.max); append(UInt32.max) // udiag_cookie
        return bytes
    }

    package enum Reply: Equatable {
        /// The kernel's answer about the inode.
        case answer(Info)
        /// An error for this request (no such socket, no unix_diag).
        case refused
    }

    /// One reply datagram; nil when it answers another request (or is malformed).
    package static func parse(_ bytes: [UInt8], sequence: UInt32, inode: UInt32) -> Reply? {
        func u32(_ offset: Int) -> UInt32? {
            guard offset >= 0, offset + 4 <= bytes.count else { return nil }
            return bytes[offset..<offset + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
        }
        func u16(_ offset: Int) -> UInt16? {
            guard offset >= 0, offset + 2 <= bytes.count else { return nil }
            return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
        }
        guard let length = u32(0).map(Int.init), length >= 16, length <= bytes.count,
              let type = u16(4), u32(8) == sequence else { return nil }
        if type == nlmsgError { return .refused }
        // unix_diag_msg: family, type, state, pad, ino, cookie[2].
        guard type == sockDiagByFamily, length >= 32, bytes[16] == UInt8(AF_UNIX), u32(20) == inode else { return nil }
        var info = Info()
        var offset = 32
        while offset + 4 <= length {
            guard let attributeLength = u16(offset).map(Int.init), let attributeType = u16(offset + 2),
                  attributeLength >= 4, offset + attributeLength <= length else { break }
            let payload = bytes[(offset + 4)..<(offset + attributeLength)]
            switch attributeType {
            case attributePeer where payload.count >= 4:
                info.peer = UInt64(u32(offset + 4) ?? 0)
            case attributeName where !payload.isEmpty:
                // An abstract name starts with a NUL: shown as "@name", as ss and Go print it.
                if payload.first == 0 {
                    info.name = "@" + String(decoding: payload.dropFirst(), as: UTF8.self)
                } else {
                    info.name = String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
                }
            default: break
            }
            offset += (attributeLength + 3) & ~3
        }
        if info.peer == 0 { info.peer = nil }
        return .answer(info)
    }
}

extension ProcFS {
    /// Processes and descriptors looked at, at most, finding who holds some peers.
    static let maxPeerSearchProcesses = 1 << 16
    static let maxPeerSearchDescriptors = 1 << 18

    /// The unix sockets among `inodes`: each one's peer, the peer's name and who holds it
    /// (this process first, then every process /proc lets gospy see). Bounded, failing soft.
    public func unixPeers(of inodes: [UInt64]) -> [UInt64: SocketPeer] {
        let infos = UnixSocketDiag.query(inodes)
        var peerOf: [UInt64: UInt64] = [:]
        for (inode, info) in infos { if let peer = info.peer { peerOf[inode] = peer } }
        guard !peerOf.isEmpty else { return [:] }
        let names = UnixSocketDiag.query(Array(Set(peerOf.values)))
        let holding = holders(ofSockets: Set(peerOf.values))
        var result: [UInt64: SocketPeer] = [:]
        for (inode, peer) in peerOf {
            let holder = holding[peer]
            result[inode] = SocketPeer(inode: peer, path: names[peer]?.name, pid: holder?.pid,
                                       command: holder.flatMap { ProcFS(pid: $0.pid, root: root).command() }, fd: holder?.fd)
        }
        return result
    }

    /// Which process and descriptor hold each socket inode: this process first, then the others.
    func holders(ofSockets inodes: Set<UInt64>) -> [UInt64: (pid: Int32, fd: Int32)] {
        var found: [UInt64: (pid: Int32, fd: Int32)] = [:]
        var budget = Self.maxPeerSearchDescriptors
        func search(_ process: ProcFS) {
            for fd in process.descriptorNumbers() {
                guard budget > 0 else { return }
                budget -= 1
                if let link = process.descriptorLink(fd), let inode = Self.bracketedInode(link, prefix: "socket:["),
                   inodes.contains(inode), found[inode] == nil {
                    found[inode] = (process.pid, fd)
                    if found.count == inodes.count { return }
                }
            }
        }
        search(self)
        guard found.count < inodes.count,
              let entries = try? FileManager.default.contentsOfDirectory(atPath: root) else { return found }
        for name in entries.prefix(Self.maxPeerSearchProcesses) {
            guard found.count < inodes.count, budget > 0 else { break }
            guard let other = Int32(name), other != pid else { continue }
            search(ProcFS(pid: other, root: root))
        }
        return found
    }

    /// /proc/PID/comm, nil when unreadable.
    func command() -> String? {
        guard let text = try? readBounded("comm", limit: 4096) else { return nil }
        let trimmed = text.hasSuffix("\n") ? String(text.dropLast()) : text
        return trimmed.isEmpty ? nil : trimmed
    }
}
