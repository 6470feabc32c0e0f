import Foundation

/// A TestTargets/gospytarget process driven through its stdin/stdout control protocol.
final class RunningTarget: @unchecked Sendable {
    let process = Process()
    let binary: TargetBinary
    private let input = Pipe()
    private let output = Pipe()
    private var buffered = Data()
    /// The target's standard error, when asked for (`errors: true`).
    private let errors: Pipe?
    private(set) var pid: Int32 = 0

    /// `environment` is added to the test's own (GOMAXPROCS, GODEBUG and the like).
    init(_ binary: TargetBinary, arguments: [String] = [], environment: [String: String] = [:],
         readyTimeout: TimeInterval = 60, errors: Bool = false) throws {
        self.binary = binary
        self.errors = errors ? Pipe() : nil
        process.executableURL = URL(fileURLWithPath: binary.path)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardInput = input
        process.standardOutput = output
        process.standardError = self.errors ?? FileHandle.nullDevice
        try process.run()
        pid = process.processIdentifier
        let ready = try readLine(timeout: readyTimeout)
        guard ready.hasPrefix("READY") else {
            throw TargetError.protocolError("expected READY, got \(ready.debugDescription)")
        }
    }

    enum TargetError: Error, CustomStringConvertible {
        case protocolError(String)
        case timeout(String)
        var description: String {
            switch self {
            case let .protocolError(text): return "target protocol: \(text)"
            case let .timeout(text): return "target timeout: \(text)"
            }
        }
    }

    /// Sends one command line and returns the one-line reply.
    func send(_ command: String, timeout: TimeInterval = 60) throws -> String {
        input.fileHandleForWriting.write(Data((command + "\n").utf8))
        return try readLine(timeout: timeout)
    }

    /// The target's own goroutine dump (runtime.Stack(buf, true)).
    func ownDump() throws -> GoroutineDump {
        GoroutineDump(parsing: try ownDumpText())
    }

    func ownDumpText() throws -> String {
        let path = NSTemporaryDirectory() + "gospy-dump-\(pid)-\(UUID().uuidString).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reply = try send("dump \(path)")
        guard reply.hasPrefix("DUMPED") else { throw TargetError.protocolError("dump replied \(reply.debugDescription)") }
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    /// Sends SIGQUIT and returns what the runtime prints to standard error before it exits:
    /// its dump of every goroutine with runtime frames and creators (needs `errors: true`).
    func quitDump(timeout: TimeInterval = 60) throws -> String {
        guard let errors else { throw TargetError.protocolError("started without errors: true") }
        kill(pid, SIGQUIT)
        let handle = errors.fileHandleForReading
        var data = Data()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var poller = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) > 0 else { continue }
            let chunk = handle.availableData
            if chunk.isEmpty { break }  // the process exited: its dump is complete
            data.append(chunk)
        }
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    private func readLine(timeout: TimeInterval) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        let handle = output.fileHandleForReading
        while true {
            if let newline = buffered.firstIndex(of: 0x0a) {
                let line = String(decoding: buffered[buffered.startIndex..<newline], as: UTF8.self)
                buffered = Data(buffered[buffered.index(after: newline)...])
                return line
            }
            guard Date() < deadline else { throw TargetError.timeout("no line from \(binary.path)") }
            var poller = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 200)
            if ready > 0 {
                let chunk = handle.availableData
                if chunk.isEmpty { throw TargetError.protocolError("target closed stdout (exited?)") }
                buffered.append(chunk)
            }
        }
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { if process.isRunning { stop() } }
}
