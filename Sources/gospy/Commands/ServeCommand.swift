import ArgumentParser
import Dispatch
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import GospyInspector
import GospyProcess

/// `gospy serve`: an HTTP server that answers for Go processes that never opened one:
/// Prometheus metrics, net/http/pprof's goroutine endpoints per pid, the `ps` list, a web page.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve /metrics, /pid/N/debug/pprof/goroutine, /processes and a web page for Go processes that expose none.")

    @Option(name: .long, help: "Address to listen on (HOST:PORT; loopback unless you name another address, which then needs --token).")
    var listen = "127.0.0.1:6060"

    @Option(name: .long, help: "Serve this process (repeat for several). Default: every Go process on the host.")
    var pid: [Int32] = []

    @Flag(name: .long, help: "Serve every Go process on the host (the default without --pid).")
    var allGo = false

    @Option(name: .long, help: "Bearer token clients must send (required with a non-loopback --listen). Prefer --token-file: arguments are visible to every user.")
    var token: String?

    @Option(name: .long, help: "Read the bearer token from this file (first line).")
    var tokenFile: String?

    @Option(name: .long, help: "Seconds a snapshot is reused: at most one snapshot per process per interval, whatever the scrape rate.")
    var interval: Double = 5

    @Flag(name: .long, help: "Stop each target briefly for a validated snapshot (default: read without stopping).")
    var blocking = false

    @Option(name: .long, help: "Requests handled at once; more are refused with 503.")
    var maxRequests = 16

    func validate() throws {
        guard let address = HTTPHost.Address.parse(listen) else {
            throw ValidationError("--listen \(listen) is not HOST:PORT with a numeric address (e.g. 127.0.0.1:6060, [::1]:6060, 0.0.0.0:6060)")
        }
        if !pid.isEmpty && allGo { throw ValidationError("give --pid or --all-go, not both") }
        if token != nil && tokenFile != nil { throw ValidationError("give --token or --token-file, not both") }
        if !address.isLoopback && token == nil && tokenFile == nil {
            throw ValidationError("--listen \(listen) is reachable from other hosts: give --token-file FILE (or --token) so that only holders of the token can read the processes")
        }
        if let token, token.isEmpty { throw ValidationError("--token must not be empty") }
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be between 0.1 and 3600 seconds") }
        guard maxRequests >= 1, maxRequests <= 1024 else { throw ValidationError("--max-requests must be between 1 and 1024") }
    }

    func run() throws {
        let address = HTTPHost.Address.parse(listen)!
        var secret = token
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8),
                  let line = text.split(separator: "\n").first?.trimmingWhitespace(), !line.isEmpty else {
                throw ServeError.badTokenFile(tokenFile)
            }
            secret = line
        }
        // A named pid must be a Go process now: the usual errors and exit codes.
        let scan = HostScan()
        for pid in pid {
            guard ProcFS(pid: pid).exists else { throw ProcessError.noSuchProcess(pid: pid) }
            guard let host = scan.inspect(pid) else {
                throw InspectorError.notGoProcess(pid: pid, executable: ProcFS(pid: pid).executableLink() ?? "?")
            }
            // Listed but its executable unreadable: whether it is Go is unknown.
            if host.goVersion == nil {
                throw ProcessError.permissionDenied(pid: pid, reason: Permissions.diagnose(pid: pid, errno: EACCES))
            }
        }
        let processes = ServedProcesses(pids: pid.isEmpty ? nil : pid, interval: interval, blocking: blocking)
        let router = ServeRouter(processes: processes, token: secret, maxConcurrent: maxRequests)
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        Task.detached {
            do {
                try await HTTPHost.run(address: address, router: router) { url in
                    // The token is never printed.
                    Output.write("gospy serve: listening on \(url)\n")
                }
            } catch {
                failure.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw ServeError.cannotListen(listen, "\(error)") }
    }
}

final class FailureBox: @unchecked Sendable {
    var error: Error?
}

enum ServeError: Error, CustomStringConvertible {
    case badTokenFile(String)
    case cannotListen(String, String)
    var description: String {
        switch self {
        case let .badTokenFile(path): return "cannot read a token from \(path): give a readable file whose first line is the token"
        case let .cannotListen(address, reason): return "cannot listen on \(address): \(reason); choose a free port or an address of this host"
        }
    }
}
