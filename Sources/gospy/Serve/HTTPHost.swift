import Dispatch
import FoundationEssentials
import GospyProcess
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP side of `gospy serve`: a small HTTP/1.1 server that hands every request to the
/// router and turns its answer into a response.
enum HTTPHost {
    /// Where to listen, parsed from --listen: "HOST:PORT", "[V6]:PORT" or ":PORT" (every
    /// interface).
    struct Address: Equatable {
        let host: String
        let port: UInt16
        let isIPv6: Bool

        static func parse(_ text: String) -> Address? {
            var host: Substring
            var portText: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
                host = text[text.index(after: text.startIndex)..<close]
                portText = text[text.index(close, offsetBy: 2)...]
            } else {
                guard let colon = text.lastIndex(of: ":") else { return nil }
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            }
            guard let port = UInt16(portText) else { return nil }
            if host.isEmpty { host = "0.0.0.0" }
            if host == "localhost" { host = "127.0.0.1" }
            let isIPv6 = host.contains(":")
            // Only numeric addresses: a name would need a resolver and could name anything.
            var probe4 = in_addr(), probe6 = in6_addr()
            guard isIPv6 ? inet_pton(AF_INET6, String(host), &probe6) == 1 : inet_pton(AF_INET, String(host), &probe4) == 1 else {
                return nil
            }
            return Address(host: String(host), port: port, isIPv6: isIPv6)
        }

        /// 127.0.0.0/8 or ::1: reachable from this host only.
        var isLoopback: Bool { isIPv6 ? host == "::1" : host.hasPrefix("127.") }

        var url: String { isIPv6 ? "http://[\(host)]:\(port)" : "http://\(host):\(port)" }
    }

    /// A request head larger than this is refused (431): nothing unbounded is read.
    static let maxHeadBytes = 16 * 1024
    /// Connections served at once; past it a connection gets 503 and is closed.
    static let maxConnections = 64
    /// A client that sends or reads nothing for this long is dropped.
    static let socketTimeoutSeconds = PprofEndpoint.maxSeconds + 30

    /// Serves until the process is killed. `ready` gets the bound address (the port chosen when
    /// --listen gave 0). HTTP/1.1 on plain sockets, one request per connection (Connection:
    /// close), GET and HEAD only: all that scrapers, pprof and a browser need, with every size
    /// and wait bounded. (A library server would pull full Foundation, its ICU and libcurl into
    /// the static binary.)
    static func run(address: Address, router: ServeRouter, ready: @escaping @Sendable (String) -> Void) async throws {
        let listener = try listen(on: address)
        ready(boundURL(listener, address))
        let connections = ConnectionCount()
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE { continue }
                throw HTTPHostError.system("accept", errno)
            }
            guard connections.enter(limit: maxConnections) else {
                respond(client, ServeResponse.failure(ServeFailure(status: 503, message: "too many connections; retry later")),
                        head: false)
                close(client)
                continue
            }
            OSThread.start(name: "gospy-http") {
                serve(client, router: router)
                close(client)
                connections.leave()
            }
        }
    }

    /// bind(2) with any sockaddr_* structure.
    private static func bind<SocketAddress>(_ fd: Int32, to address: SocketAddress) -> Int32 {
        withUnsafePointer(to: address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<SocketAddress>.size)) }
        }
    }

    private static func listen(on address: Address) throws -> Int32 {
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPHostError.system("socket", errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound: Int32
        if address.isIPv6 {
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = address.port.bigEndian
            inet_pton(AF_INET6, address.host, &socketAddress.sin6_addr)
            bound = bind(fd, to: socketAddress)
        } else {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = address.port.bigEndian
            inet_pton(AF_INET, address.host, &socketAddress.sin_addr)
            bound = bind(fd, to: socketAddress)
        }
        guard bound == 0 else {
            let error = errno
            close(fd)
            throw HTTPHostError.system("bind", error)
        }
        guard Glibc.listen(fd, 128) == 0 else {
            let error = errno
            close(fd)
            throw HTTPHostError.system("listen", error)
        }
        return fd
    }

    /// The URL with the port the kernel chose (when --listen gave 0).
    private static func boundURL(_ fd: Int32, _ address: Address) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard status == 0 else { return address.url }
        let port: UInt16 = withUnsafePointer(to: &storage) { pointer in
            address.isIPv6
                ? pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
                : pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        return Address(host: address.host, port: port, isIPv6: address.isIPv6).url
    }

    /// One request on `client`: read its head (bounded in size and time), route it, answer.
    private static func serve(_ client: Int32, router: ServeRouter) {
        var timeout = timeval(tv_sec: socketTimeoutSeconds, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !head.containsHeadEnd {
            guard head.count < maxHeadBytes else {
                respond(client, .failure(ServeFailure(status: 431, message: "request head larger than \(maxHeadBytes) bytes")), head: false)
                return
            }
            let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return } // closed, timed out or failed: nothing to answer
            head.append(contentsOf: chunk[0..<count])
        }
        guard let request = parse(head) else {
            respond(client, .failure(ServeFailure(status: 400, message: "malformed HTTP request")), head: false)
            return
        }
        // The router is async (snapshots are); this connection's thread waits for its answer.
        let answer = ResponseBox()
        let done = DispatchSemaphore(value: 0)
        Task {
            answer.response = await router.handle(request)
            done.signal()
        }
        done.wait()
        respond(client, answer.response ?? .failure(ServeFailure(status: 500, message: "no response")),
                head: request.method == "HEAD")
    }

    /// The request line and headers (no body: gospy serve answers GET and HEAD).
    static func parse(_ bytes: [UInt8]) -> ServeRouter.Request? {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { return nil }
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: true)
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1."), requestLine[1].hasPrefix("/") else { return nil }
        var headers: [String: String] = [:]
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = line[..<colon].lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingSpaces()
        }
        let target = requestLine[1]
        let pathPart = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        guard let path = percentDecoded(pathPart[0], plusIsSpace: false) else { return nil }
        var query: [(name: String, value: String)] = []
        if pathPart.count == 2 {
            for pair in pathPart[1].split(separator: "&", omittingEmptySubsequences: true) {
                let nameValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = percentDecoded(nameValue[0], plusIsSpace: true),
                      let value = percentDecoded(nameValue.count == 2 ? nameValue[1] : "", plusIsSpace: true) else { return nil }
                query.append((name: name, value: value))
            }
        }
        let frozen = headers
        return ServeRouter.Request(method: String(requestLine[0]), path: path, query: query,
                                   header: { frozen[$0.lowercased()] })
    }

    /// %XX escapes (and '+' as a space in queries, as Go's url.ParseQuery reads them).
    static func percentDecoded(_ text: Substring, plusIsSpace: Bool) -> String? {
        var bytes: [UInt8] = []
        var utf8 = text.utf8.makeIterator()
        while let byte = utf8.next() {
            switch byte {
            case UInt8(ascii: "%"):
                guard let high = utf8.next().flatMap(hexValue), let low = utf8.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            case UInt8(ascii: "+") where plusIsSpace: bytes.append(UInt8(ascii: " "))
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func respond(_ client: Int32, _ response: ServeResponse, head: Bool) {
        var text = "HTTP/1.1 \(response.status) \(phrase(response.status))\r\n"
        text += "Content-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\nConnection: close\r\n"
        for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        var bytes = Array(text.utf8)
        if !head { bytes.append(contentsOf: response.body) }
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return }
            sent += count
        }
    }

    static func phrase(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 431: return "Request Header Fields Too Large"
        case 503: return "Service Unavailable"
        default: return "Internal Server Error"
        }
    }
}

enum HTTPHostError: Error, CustomStringConvertible {
    case system(String, Int32)
    var description: String {
        switch self {
        case let .system(call, code): return "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}

/// Connections being served, bounded.
final class ConnectionCount: Sendable {
    private let count = Mutex(0)

    func enter(limit: Int) -> Bool {
        count.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func leave() { count.withLock { $0 -= 1 } }
}

final class ResponseBox: @unchecked Sendable {
    var response: ServeResponse?
}

extension Array where Element == UInt8 {
    /// Whether the bytes hold the blank line that ends an HTTP head.
    var containsHeadEnd: Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4) where self[i] == 13 && self[i + 1] == 10 && self[i + 2] == 13 && self[i + 3] == 10 {
            return true
        }
        return false
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
