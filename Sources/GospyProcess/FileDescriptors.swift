import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// What one of a process's file descriptors is, as /proc names it: a socket with its endpoints
/// (from /proc/PID/net, the process's own network namespace), a pipe, a file's path, or an
/// anonymous inode.
public struct FileDescription: Sendable, Equatable, Encodable {
    public enum Kind: String, Sendable, Encodable {
        case tcp, tcp6, udp, udp6, unix, socket, pipe, file, anonymous, other
    }

    public let kind: Kind
    /// Where /proc/PID/fd/N points ("socket:[123]", "pipe:[456]", "/var/log/x", "anon_inode:[eventfd]").
    public let link: String
    /// The socket's or pipe's inode.
    public let inode: UInt64?
    /// A socket's local address as Go's String() prints it ("127.0.0.1:80", "[::1]:80", a unix path).
    public let local: String?
    /// A connected socket's peer; nil when unconnected (a listener, an unconnected UDP socket)
    /// or unknown (a unix socket's peer).
    public let remote: String?
    /// A TCP socket's state ("ESTABLISHED", "LISTEN"), a unix socket's type ("STREAM").
    public let state: String?
    /// A connected unix socket's other end (sock_diag's UNIX_DIAG_PEER) and who holds it.
    public var peer: SocketPeer? = nil

    public init(kind: Kind, link: String, inode: UInt64? = nil, local: String? = nil, remote: String? = nil, state: String? = nil) {
        self.kind = kind
        self.link = link
        self.inode = inode
        self.local = local
        self.remote = remote
        self.state = state
    }

    /// One line: "tcp 127.0.0.1:80 -> 10.0.0.2:5555 ESTABLISHED", "pipe:[456]", "/var/log/x".
    public var summary: String {
        switch kind {
        case .tcp, .tcp6, .udp, .udp6, .unix:
            var text = kind.rawValue + " " + (local ?? "?")
            if let remote { text += " -> " + remote } else if let peer { text += " -> " + peer.summary }
            if let state { text += " " + state }
            return text
        default:
            return link
        }
    }
}

/// One file descriptor registered with an epoll instance (a line of /proc/PID/fdinfo/EPFD).
public struct EpollRegistration: Sendable, Equatable {
    public let fd: Int32
    /// epoll_event.data as the registrant set it (Go: its pollDesc, tagged from 1.21).
    public let data: UInt64

    public init(fd: Int32, data: UInt64) {
        self.fd = fd
        self.data = data
    }
}

/// What a thread is doing as /proc/PID/task/TID/syscall says.
public enum ThreadSyscallState: Sendable, Equatable {
    /// Blocked in (or stopped inside) system call `number` with its six arguments.
    case inSyscall(number: Int, arguments: [UInt64])
    /// Running on a CPU: the kernel cannot tell.
    case running
    /// Blocked, but not in a system call (a page fault, a stop).
    case notInSyscall

    /// Parses "NR A1 A2 A3 A4 A5 A6 SP PC", "running" or "-1 SP PC".
    public init?(parsing text: String) {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard let first = fields.first else { return nil }
        if first == "running" { self = .running; return }
        guard let number = Int(first) else { return nil }
        if number < 0 { self = .notInSyscall; return }
        guard fields.count >= 7 else { return nil }
        var arguments: [UInt64] = []
        for field in fields[1...6] {
            guard field.hasPrefix("0x"), let value = UInt64(field.dropFirst(2), radix: 16) else { return nil }
            arguments.append(value)
        }
        self = .inSyscall(number: number, arguments: arguments)
    }
}

extension ProcFS {
    /// Descriptors a process may have that gospy looks at one by one.
    static let maxDescriptors = 1 << 20
    /// Lines of one /proc/PID/net table read (a host with a million sockets is not unusual, but
    /// a larger table is not read).
    static let maxSocketTableBytes = 256 << 20

    /// The process's open descriptor numbers, from /proc/PID/fd (empty when unreadable).
    public func descriptorNumbers() -> [Int32] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/fd") else { return [] }
        return names.prefix(Self.maxDescriptors).compactMap { Int32($0) }.sorted()
    }

    /// Where /proc/PID/fd/N points, nil when it is closed or unreadable.
    public func descriptorLink(_ fd: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = readlink("\(directory)/fd/\(fd)", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Every registration of every epoll instance the process holds: the netpoller's
    /// descriptors and what it tagged each with.
    public func epollRegistrations() -> [EpollRegistration] {
        var registrations: [EpollRegistration] = []
        for fd in descriptorNumbers() where descriptorLink(fd) == "anon_inode:[eventpoll]" {
            guard let info = try? readBounded("fdinfo/\(fd)", limit: Self.maxSocketTableBytes) else { continue }
            registrations += Self.parseEpollInfo(info)
            if registrations.count >= Self.maxDescriptors { break }
        }
        return Array(registrations.prefix(Self.maxDescriptors))
    }

    /// The "tfd: N events: X data: D ..." lines of an epoll instance's fdinfo.
    public static func parseEpollInfo(_ text: String) -> [EpollRegistration] {
        var registrations: [EpollRegistration] = []
        for line in text.split(separator: "\n") where line.hasPrefix("tfd:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let tfd = fields.firstIndex(of: "tfd:"), tfd + 1 < fields.count, let fd = Int32(fields[tfd + 1]),
                  let data = fields.firstIndex(of: "data:"), data + 1 < fields.count,
                  let value = UInt64(fields[data + 1], radix: 16) else { continue }
            registrations.append(EpollRegistration(fd: fd, data: value))
        }
        return registrations
    }

    /// What thread `tid` of this process is doing, nil when it is gone or unreadable.
    public func syscallState(thread tid: Int64) -> ThreadSyscallState? {
        guard tid > 0, tid <= Int64(Int32.max), let text = try? read("task/\(tid)/syscall") else { return nil }
        return ThreadSyscallState(parsing: text)
    }

    /// Describes each of `fds` that is open: the socket tables are read once, and only
    /// when a socket is among them, and only until every socket's inode was found.
    public func describe(_ fds: Set<Int32>) -> [Int32: FileDescription] {
        var links: [Int32: String] = [:]
        for fd in fds { links[fd] = descriptorLink(fd) }
        var sockets: [UInt64: Int32] = [:]
        for (fd, link) in links {
            if let inode = Self.bracketedInode(link, prefix: "socket:[") { sockets[inode] = fd }
        }
        var endpoints: [UInt64: FileDescription] = [:]
        if !sockets.isEmpty {
            for table in SocketTable.allCases {
                guard endpoints.count < sockets.count else { break }
                guard let text = try? readBounded("net/\(table.rawValue)", limit: Self.maxSocketTableBytes) else { continue }
                for (inode, description) in table.parse(text) where sockets[inode] != nil && endpoints[inode] == nil {
                    endpoints[inode] = description
                }
            }
        }
        var result: [Int32: FileDescription] = [:]
        // A connected unix socket's peer, from the kernel (/proc/net/unix names none).
        let unixSockets = endpoints.filter { $0.value.kind == .unix }.map(\.key)
        let peers = unixSockets.isEmpty ? [:] : unixPeers(of: unixSockets)
        for (fd, link) in links {
            if let inode = Self.bracketedInode(link, prefix: "socket:[") {
                result[fd] = endpoints[inode].map {
                    var description = FileDescription(kind: $0.kind, link: link, inode: inode, local: $0.local, remote: $0.remote, state: $0.state)
                    description.peer = peers[inode]
                    return description
                } ?? FileDescription(kind: .socket, link: link, inode: inode)
            } else if let inode = Self.bracketedInode(link, prefix: "pipe:[") {
                result[fd] = FileDescription(kind: .pipe, link: link, inode: inode)
            } else if link.hasPrefix("anon_inode:") {
                result[fd] = FileDescription(kind: .anonymous, link: link)
            } else if link.hasPrefix("/") {
                result[fd] = FileDescription(kind: .file, link: link)
            } else {
                result[fd] = FileDescription(kind: .other, link: link)
            }
        }
        return result
    }

    /// A /proc file read to its end with read(2) (its size is 0 to stat, and a single read
    /// returns one page of a table), refused past `limit` bytes.
    func readBounded(_ name: String, limit: Int) throws -> String {
        let path = "\(directory)/\(name)"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ProcessError.unreadable(pid: pid, what: path) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw ProcessError.unreadable(pid: pid, what: path) }
            if count == 0 { break }
            bytes += chunk[0..<count]
            guard bytes.count <= limit else { throw ProcessError.unreadable(pid: pid, what: "\(path) (over \(limit) bytes)") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// 123 from "socket:[123]".
    static func bracketedInode(_ link: String, prefix: String) -> UInt64? {
        guard link.hasPrefix(prefix), link.hasSuffix("]") else { return nil }
        return UInt64(link.dropFirst(prefix.count).dropLast())
    }
}

/// The socket tables of /proc/PID/net, in the order they are searched.
enum SocketTable: String, CaseIterable {
    case tcp, tcp6, udp, udp6, unix

    var kind: FileDescription.Kind {
        switch self {
        case .tcp: return .tcp
        case .tcp6: return .tcp6
        case .udp: return .udp
        case .udp6: return .udp6
        case .unix: return .unix
        }
    }

    /// Each socket's endpoints by inode.
    func parse(_ text: String) -> [(UInt64, FileDescription)] {
        var rows: [(UInt64, FileDescription)] = []
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if self == .unix {
                // Num RefCount Protocol Flags Type St Inode [Path]
                guard fields.count >= 7, let inode = UInt64(fields[6]) else { continue }
                let path = fields.count > 7 ? fields[7...].joined(separator: " ") : nil
                let type = UInt32(fields[4], radix: 16).flatMap { [1: "STREAM", 2: "DGRAM", 5: "SEQPACKET"][$0] }
                rows.append((inode, FileDescription(kind: .unix, link: "", local: path, state: type)))
                continue
            }
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            guard fields.count >= 10, let inode = UInt64(fields[9]),
                  let local = Self.address(fields[1]), let remote = Self.address(fields[2]),
                  let state = UInt8(fields[3], radix: 16) else { continue }
            let unconnected = remote.hasSuffix(":0") && (remote.hasPrefix("0.0.0.0:") || remote.hasPrefix("[::]:"))
            let stateName = self == .tcp || self == .tcp6 ? Self.tcpStates[Int(state)] : nil
            rows.append((inode, FileDescription(kind: kind, link: "", local: local, remote: unconnected ? nil : remote,
                                                state: stateName)))
        }
        return rows
    }

    static let tcpStates: [Int: String] = [
        1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE",
        8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV",
    ]

    /// "0100007F:1F90" -> "127.0.0.1:8080"; a 32-digit address -> "[::1]:8080". The kernel
    /// prints each 32-bit word of the address in host (little-endian) order.
    static func address(_ field: Substring) -> String? {
        let parts = field.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1], radix: 16) else { return nil }
        let hex = parts[0]
        guard hex.count == 8 || hex.count == 32 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 8)
            guard let word = UInt32(hex[index..<next], radix: 16) else { return nil }
            bytes += [UInt8(word & 0xff), UInt8(word >> 8 & 0xff), UInt8(word >> 16 & 0xff), UInt8(word >> 24)]
            index = next
        }
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") + ":\(port)" }
        // An IPv4-mapped address prints as IPv4, as Go's net.IP.String does.
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            return bytes[12...].map(String.init).joined(separator: ".") + ":\(port)"
        }
        return "[" + ipv6Text(bytes) + "]:\(port)"
    }

    /// RFC 5952 text: lowercase, the longest run of two or more zero groups as "::".
    static func ipv6Text(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var best = (start: -1, length: 0)
        var run = (start: -1, length: 0)
        for (i, group) in groups.enumerated() {
            if group == 0 {
                if run.start < 0 { run = (i, 0) }
                run.length += 1
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        if best.length < 2 { return groups.map { String($0, radix: 16) }.joined(separator: ":") }
        let head = groups[..<best.start].map { String($0, radix: 16) }.joined(separator: ":")
        let tail = groups[(best.start + best.length)...].map { String($0, radix: 16) }.joined(separator: ":")
        return head + "::" + tail
    }
}
