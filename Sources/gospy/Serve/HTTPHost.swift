import FlyingFox
import FlyingSocks
import Foundation

/// The HTTP side of `gospy serve`, on FlyingFox: one route that hands every request to the
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

    /// Serves until the process is killed. `ready` gets the bound address (the port chosen when
    /// --listen gave 0).
    static func run(address: Address, router: ServeRouter, ready: @escaping @Sendable (String) -> Void) async throws {
        let server: HTTPServer
        // The handler timeout covers the longest pprof `seconds` plus a snapshot.
        let timeout = TimeInterval(PprofEndpoint.maxSeconds + 30)
        if address.isIPv6 {
            server = HTTPServer(config: .init(address: try sockaddr_in6.inet6(ip6: address.host, port: address.port),
                                              timeout: timeout, logger: .disabled))
        } else {
            server = HTTPServer(config: .init(address: try sockaddr_in.inet(ip4: address.host, port: address.port),
                                              timeout: timeout, logger: .disabled))
        }
        await server.appendRoute("*") { request in
            let response = await router.handle(.init(
                method: request.method.rawValue, path: request.path,
                query: request.query.map { (name: $0.name, value: $0.value) },
                header: { request.headers[HTTPHeader($0)] }))
            var headers: HTTPHeaders = [.contentType: response.contentType]
            for (name, value) in response.headers { headers[HTTPHeader(name)] = value }
            return HTTPResponse(statusCode: HTTPStatusCode(response.status, phrase: Self.phrase(response.status)),
                                headers: headers, body: request.method == .HEAD ? Data() : response.body)
        }
        let task = Task { try await server.run() }
        try await server.waitUntilListening(timeout: 10)
        if case let .ip4(host, port)? = await server.listeningAddress {
            ready("http://\(host):\(port)")
        } else if case let .ip6(host, port)? = await server.listeningAddress {
            ready("http://[\(host)]:\(port)")
        } else {
            ready(address.url)
        }
        try await task.value
    }

    static func phrase(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 503: return "Service Unavailable"
        default: return "Internal Server Error"
        }
    }
}
