import Foundation

/// A `gospy serve` started by a test on a loopback port it picks, killed when the test ends.
final class GospyServer: @unchecked Sendable {
    let child: Subprocess.Child
    /// "http://127.0.0.1:PORT"
    let url: String
    let port: UInt16

    init(_ arguments: [String]) throws {
        child = try Subprocess.start(Subprocess.gospy, ["serve", "--listen", "127.0.0.1:0"] + arguments, output: true, errors: true)
        // The first line says where it listens.
        let handle = child.output!.fileHandleForReading
        var buffered = Data()
        let deadline = Date().addingTimeInterval(60)
        while !buffered.contains(0x0a) {
            guard Date() < deadline, child.process.isRunning else {
                let errors = String(decoding: child.errors!.fileHandleForReading.availableData, as: UTF8.self)
                child.killAndWait()
                throw ServeTestError.notStarted(errors)
            }
            var poller = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 200) > 0 { buffered.append(handle.availableData) }
        }
        let line = String(decoding: buffered.prefix { $0 != 0x0a }, as: UTF8.self)
        guard let range = line.range(of: "http://"), let colon = line.lastIndex(of: ":"),
              let port = UInt16(line[line.index(after: colon)...]) else {
            child.killAndWait()
            throw ServeTestError.notStarted(line)
        }
        url = String(line[range.lowerBound...])
        self.port = port
    }

    func get(_ path: String, headers: [String: String] = [:]) throws -> HTTPReply {
        try HTTPReply.get(port: port, path: path, headers: headers)
    }

    func stop() { child.killAndWait() }

    /// CPU seconds (user + system) gospy has used so far, from /proc/PID/stat.
    var cpuSeconds: Double {
        guard let text = try? String(contentsOfFile: "/proc/\(child.pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident memory in bytes, from /proc/PID/status.
    var rssBytes: Int {
        guard let text = try? String(contentsOfFile: "/proc/\(child.pid)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        return 0
    }

    enum ServeTestError: Error, CustomStringConvertible {
        case notStarted(String)
        var description: String {
            switch self { case let .notStarted(text): return "gospy serve did not start: \(text)" }
        }
    }
}

/// One HTTP/1.1 GET over a plain loopback socket (no client library between the test and the
/// server's bytes).
struct HTTPReply {
    let status: Int
    let headers: [String: String]
    let body: Data
    var text: String { String(decoding: body, as: UTF8.self) }

    static func get(host: String = "127.0.0.1", port: UInt16, path: String, headers: [String: String] = [:],
                    raw: String? = nil, timeout: Double = 120) throws -> HTTPReply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED) }
        var request = raw ?? "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        if raw == nil {
            for (name, value) in headers { request += "\(name): \(value)\r\n" }
            request += "\r\n"
        }
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw POSIXError(.EPIPE) }
            sent += n
        }
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response.append(contentsOf: buffer[0..<n])
            if let reply = parse(response), reply.complete { return reply.reply }
        }
        guard let reply = parse(response) else { throw POSIXError(.EBADMSG) }
        return reply.reply
    }

    /// The reply once its head and Content-Length bytes of body are in.
    static func parse(_ data: Data) -> (reply: HTTPReply, complete: Bool)? {
        guard let end = data.range(of: Data("\r\n\r\n".utf8)) else { return nil }
        let head = String(decoding: data[data.startIndex..<end.lowerBound], as: UTF8.self).split(separator: "\r\n")
        guard let statusLine = head.first, statusLine.split(separator: " ").count >= 2,
              let status = Int(statusLine.split(separator: " ")[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = data[end.upperBound...]
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            guard let decoded = dechunk(Data(body)) else { return (HTTPReply(status: status, headers: headers, body: Data()), false) }
            return (HTTPReply(status: status, headers: headers, body: decoded), true)
        }
        let length = headers["content-length"].flatMap(Int.init)
        return (HTTPReply(status: status, headers: headers, body: Data(body)), length.map { body.count >= $0 } ?? false)
    }

    /// A chunked body ("SIZE\r\nBYTES\r\n" ... "0\r\n\r\n"), or nil while incomplete.
    static func dechunk(_ data: Data) -> Data? {
        var result = Data()
        var index = data.startIndex
        while true {
            guard let lineEnd = data[index...].range(of: Data("\r\n".utf8)) else { return nil }
            let sizeText = String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            if size == 0 { return result }
            let start = lineEnd.upperBound
            guard data.distance(from: start, to: data.endIndex) >= size + 2 else { return nil }
            let stop = data.index(start, offsetBy: size)
            result.append(data[start..<stop])
            index = data.index(stop, offsetBy: 2)
        }
    }
}

/// Prometheus text-format samples: name{labels} value.
enum PrometheusText {
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    static func samples(_ text: String) -> [Sample] {
        text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else { return Sample(name: String(series), labels: [:], value: value) }
            var labels: [String: String] = [:]
            // Values here hold no commas or escaped quotes (pids, paths, states).
            for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { labels[String(parts[0])] = String(parts[1].dropFirst().dropLast()) }
            }
            return Sample(name: String(series[..<brace]), labels: labels, value: value)
        }
    }
}
