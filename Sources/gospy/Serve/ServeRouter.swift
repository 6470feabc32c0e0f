import FoundationEssentials
import GospyMemory
import GospyInspector

/// Routes one request of `gospy serve` and applies its rules: the bearer token (when set),
/// GET only, a bound on requests handled at once, and one-line errors with the right status.
final class ServeRouter: @unchecked Sendable {
    let processes: ServedProcesses
    private let token: [UInt8]?
    let maxConcurrent: Int
    /// Whether /pid/N/flamegraph records (off with --no-flamegraph).
    let flameGraphs: Bool
    private let lock = ThreadLock()
    private var inFlight = 0

    init(processes: ServedProcesses, token: String?, maxConcurrent: Int, flameGraphs: Bool = true) {
        self.processes = processes
        self.token = token.map { Array($0.utf8) }
        self.maxConcurrent = maxConcurrent
        self.flameGraphs = flameGraphs
    }

    struct Request: Sendable {
        let method: String
        let path: String
        let query: [(name: String, value: String)]
        let header: @Sendable (String) -> String?
    }

    func handle(_ request: Request) async -> ServeResponse {
        if let token, !Self.authorized(request.header("Authorization"), token: token) {
            var response = ServeResponse.failure(ServeFailure(status: 401, message: "missing or wrong bearer token (send Authorization: Bearer TOKEN)"))
            // Basic too, so that a browser asks for it (any user name, the token as password).
            response.headers.append(("WWW-Authenticate", "Bearer realm=\"gospy\", Basic realm=\"gospy\""))
            return response
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            var response = ServeResponse.failure(ServeFailure(status: 405, message: "method \(request.method.prefix(16)) not allowed: gospy serve answers GET"))
            response.headers.append(("Allow", "GET, HEAD"))
            return response
        }
        // Scrapers cannot pile up work: past the bound, a request is refused at once.
        let admitted = lock.withLock { () -> Bool in
            guard inFlight < maxConcurrent else { return false }
            inFlight += 1
            return true
        }
        guard admitted else {
            return .failure(ServeFailure(status: 503, message: "too many requests at once (limit \(maxConcurrent)); retry later"))
        }
        defer { lock.withLock { inFlight -= 1 } }
        return await route(request)
    }

    private func route(_ request: Request) async -> ServeResponse {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true)
        switch parts.count {
        case 0:
            guard request.query.isEmpty else { return noQuery(request) }
            return .html(WebPage.processList(processes.list(), interval: processes.interval))
        case 1 where parts[0] == "processes":
            guard request.query.isEmpty else { return noQuery(request) }
            do {
                return .json(try ProcessTable.json(processes.list()))
            } catch {
                return .failure(ServeFailure(status: 500, message: "cannot encode the process list: \(error)"))
            }
        case 1 where parts[0] == "metrics":
            return await metrics(request)
        default:
            break
        }
        guard parts.count >= 2, parts[0] == "pid" else { return notFound(request) }
        guard let pid = Int32(parts[1]), pid > 0 else {
            return .failure(ServeFailure(status: 400, message: "\(parts[1].prefix(40).debugDescription) is not a pid"))
        }
        let rest = parts.dropFirst(2).joined(separator: "/")
        guard rest.isEmpty || rest == "debug/pprof/goroutine" || rest == "flamegraph" else { return notFound(request) }
        if rest == "flamegraph", !flameGraphs {
            return .failure(ServeFailure(status: 404, message: "flame graphs are off (gospy serve --no-flamegraph)"))
        }
        let process: ServedProcess
        switch processes.process(pid) {
        case let .success(found): process = found
        case let .failure(failure): return .failure(failure)
        }
        if rest.isEmpty {
            guard request.query.isEmpty else { return noQuery(request) }
            switch await process.snapshot(interval: processes.interval, blocking: processes.blocking) {
            case let .success(snapshot): return .html(WebPage.process(snapshot, pid: pid, flameGraph: flameGraphs))
            case let .failure(failure): return .failure(failure)
            }
        }
        if rest == "flamegraph" {
            switch FlameGraphEndpoint.parse(request.query) {
            case let .success(seconds): return await FlameGraphEndpoint.respond(process, seconds: seconds)
            case let .failure(failure): return .failure(failure)
            }
        }
        switch PprofEndpoint.parse(request.query) {
        case let .success(query):
            return await PprofEndpoint.respond(process, query: query, interval: processes.interval, blocking: processes.blocking)
        case let .failure(failure):
            return .failure(failure)
        }
    }

    /// Processes whose snapshots a scrape of /metrics takes at once, at most: a scrape takes
    /// about as long as its slowest targets rather than all of them in turn, and gospy holds
    /// the buffers of only a few snapshots at a time.
    static let metricsSnapshotsAtOnce = 4

    private func metrics(_ request: Request) async -> ServeResponse {
        let served = processes.all()
        let (interval, blocking) = (processes.interval, processes.blocking)
        let results = await withTaskGroup(of: (Int, Result<ServedSnapshot, ServeFailure>).self) { group in
            var results = [Result<ServedSnapshot, ServeFailure>?](repeating: nil, count: served.count)
            var next = 0
            func start() {
                guard next < served.count else { return }
                let (position, process) = (next, served[next])
                group.addTask { (position, await process.counts(interval: interval, blocking: blocking)) }
                next += 1
            }
            for _ in 0..<Self.metricsSnapshotsAtOnce { start() }
            for await (position, result) in group {
                results[position] = result
                start()
            }
            return results
        }
        var figures: [MetricsExposition.ProcessFigures] = []
        for (process, result) in zip(served, results) {
            var figure: MetricsExposition.ProcessFigures
            switch result ?? .failure(ServeFailure(status: 500, message: "no snapshot")) {
            case let .success(snapshot):
                let threads = snapshot.capture.threadStates.values.reduce(0, +)
                figure = .init(pid: process.pid, executable: snapshot.inspector.executableName,
                               goVersion: snapshot.inspector.image.executable.buildInfo.goVersion, up: true,
                               goroutinesByState: snapshot.capture.snapshot.goroutineCountsByStatus, unreadableGoroutines: snapshot.capture.snapshot.unreadableGoroutines,
                               threads: threads, snapshotSeconds: snapshot.capture.elapsedSeconds,
                               pauseSeconds: snapshot.capture.stoppedSeconds ?? 0, snapshotAgeSeconds: snapshot.ageSeconds,
                               snapshots: process.snapshotsTaken, errors: process.snapshotErrors)
            case .failure:
                figure = .init(pid: process.pid, executable: process.executable, goVersion: nil, up: false,
                               goroutinesByState: [:], unreadableGoroutines: 0, threads: nil, snapshotSeconds: nil,
                               pauseSeconds: nil, snapshotAgeSeconds: nil, snapshots: process.snapshotsTaken,
                               errors: process.snapshotErrors)
            }
            figures.append(figure)
        }
        let openMetrics = MetricsExposition.wantsOpenMetrics(accept: request.header("Accept"))
        let text = MetricsExposition.render(MetricsExposition.families(figures, intervalSeconds: processes.interval), openMetrics: openMetrics)
        return ServeResponse(status: 200, contentType: openMetrics ? MetricsExposition.openMetricsType : MetricsExposition.textType,
                             body: Data(text.utf8))
    }

    private func notFound(_ request: Request) -> ServeResponse {
        .failure(ServeFailure(status: 404, message: "no page \(request.path.prefix(80).debugDescription): gospy serve has /, /processes, /metrics, /pid/N/, /pid/N/debug/pprof/goroutine and /pid/N/flamegraph"))
    }

    private func noQuery(_ request: Request) -> ServeResponse {
        .failure(ServeFailure(status: 400, message: "\(request.path.prefix(80)) takes no query parameters"))
    }

    /// `Bearer TOKEN`, or `Basic` with the token as password; compared in constant time.
    static func authorized(_ header: String?, token: [UInt8]) -> Bool {
        guard let header else { return false }
        var given: [UInt8] = []
        if header.hasPrefix("Bearer ") {
            given = Array(header.dropFirst("Bearer ".count).utf8)
        } else if header.hasPrefix("Basic "), let decoded = Data(base64Encoded: String(header.dropFirst("Basic ".count))),
                  let colon = decoded.firstIndex(of: UInt8(ascii: ":")) {
            given = Array(decoded[decoded.index(after: colon)...])
        } else {
            return false
        }
        return constantTimeEqual(given, token)
    }

    /// Equal length and bytes, in time that depends only on the lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
