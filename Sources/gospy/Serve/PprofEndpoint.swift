import Dispatch
import FoundationEssentials

/// `/pid/N/debug/pprof/goroutine`, answered as net/http/pprof answers for its own process, so
/// Alloy's pyroscope.scrape, Parca and `go tool pprof http://...` work unchanged: `debug=0`
/// (default) a gzipped profile.proto as application/octet-stream, `debug=1` the grouped text,
/// `debug=2` the runtime's tracebacks, `seconds=N` a delta profile (the later snapshot minus
/// the earlier one, as net/http/pprof's `goroutine-delta`).
enum PprofEndpoint {
    /// The longest `seconds=` accepted (net/http/pprof refuses more than its WriteTimeout).
    static let maxSeconds = 60

    struct Query {
        var debug = 0
        var seconds: Int?
    }

    /// The query as net/http/pprof reads it, but strict: a value that is not a number is a
    /// 400, not silently 0.
    static func parse(_ items: [(name: String, value: String)]) -> Result<Query, ServeFailure> {
        var query = Query()
        for item in items {
            switch item.name {
            case "debug":
                guard let value = Int(item.value), value >= 0 else {
                    return .failure(ServeFailure(status: 400, message: "debug must be 0, 1 or 2, not \(item.value.prefix(40).debugDescription)"))
                }
                query.debug = value
            case "seconds":
                guard let value = Int(item.value), value > 0 else {
                    return .failure(ServeFailure(status: 400, message: "seconds must be a positive whole number, not \(item.value.prefix(40).debugDescription)"))
                }
                guard value <= maxSeconds else {
                    return .failure(ServeFailure(status: 400, message: "profile duration \(value)s exceeds gospy serve's limit of \(maxSeconds)s"))
                }
                query.seconds = value
            case "gc":
                continue // heap profiles' parameter; harmless here, as in net/http/pprof
            default:
                return .failure(ServeFailure(status: 400, message: "unknown query parameter \(item.name.prefix(40).debugDescription) (debug and seconds are)"))
            }
        }
        if query.seconds != nil, query.debug != 0 {
            return .failure(ServeFailure(status: 400, message: "seconds and debug params are incompatible"))
        }
        return .success(query)
    }

    static func respond(_ process: ServedProcess, query: Query, interval: Double, blocking: Bool) async -> ServeResponse {
        if let seconds = query.seconds {
            return await delta(process, seconds: seconds, interval: interval, blocking: blocking)
        }
        let result = await process.snapshot(interval: interval, blocking: blocking)
        guard case let .success(snapshot) = result else {
            if case let .failure(failure) = result { return .failure(failure) }
            return .failure(ServeFailure(status: 500, message: "no snapshot"))
        }
        let items = snapshot.assembly.items
        let labels = snapshot.assembly.labels
        let symbolizer = snapshot.inspector.symbolizer
        switch query.debug {
        case 0:
            do {
                let bytes = try PprofRenderer.render(items, labels: labels, symbolizer: symbolizer,
                                                     image: snapshot.inspector.image, binaryName: snapshot.inspector.executableName)
                return ServeResponse.profile(bytes, filename: "goroutine")
            } catch {
                return .failure(ServeFailure(status: 500, message: "cannot encode the profile: \(error)"))
            }
        case 1:
            return .text(GroupedRenderer.render(items, labels: labels, symbolizer: symbolizer))
        default:
            var text = ""
            let style = TracebackHeaderStyle(image: snapshot.inspector.image, snapshot: snapshot.capture.snapshot, runtimeFrames: false)
            TracebackRenderer.render(items, symbolizer: symbolizer, style: style) { text += $0 }
            return .text(text)
        }
    }

    /// Two snapshots `seconds` apart (at least one interval apart: the cache serves nothing
    /// fresher), the earlier one's goroutines counted -1.
    static func delta(_ process: ServedProcess, seconds: Int, interval: Double, blocking: Bool) async -> ServeResponse {
        let before = await process.snapshot(interval: interval, blocking: blocking)
        guard case let .success(first) = before else {
            if case let .failure(failure) = before { return .failure(failure) }
            return .failure(ServeFailure(status: 500, message: "no snapshot"))
        }
        let wait = max(Double(seconds), interval - first.ageSeconds)
        try? await Task.sleep(nanoseconds: UInt64(wait * 1e9))
        let after = await process.snapshot(interval: interval, blocking: blocking, notBefore: first.takenAt)
        guard case let .success(second) = after else {
            if case let .failure(failure) = after { return .failure(failure) }
            return .failure(ServeFailure(status: 500, message: "no snapshot"))
        }
        let symbolizer = second.inspector.symbolizer
        let samples = PprofRenderer.samples(first.assembly.items, labels: first.assembly.labels, symbolizer: first.inspector.symbolizer, count: -1)
            + PprofRenderer.samples(second.assembly.items, labels: second.assembly.labels, symbolizer: symbolizer)
        do {
            let bytes = try PprofRenderer.encode(samples, image: second.inspector.image, binaryName: second.inspector.executableName)
            return ServeResponse.profile(bytes, filename: "goroutine-delta")
        } catch {
            return .failure(ServeFailure(status: 500, message: "cannot encode the profile: \(error)"))
        }
    }
}

/// What a handler answers, before it becomes an HTTP response.
struct ServeResponse: Sendable {
    let status: Int
    let contentType: String
    let body: Data
    var headers: [(String, String)] = []

    static func text(_ text: String, status: Int = 200) -> ServeResponse {
        ServeResponse(status: status, contentType: "text/plain; charset=utf-8", body: Data(text.utf8))
    }

    static func html(_ text: String) -> ServeResponse {
        ServeResponse(status: 200, contentType: "text/html; charset=utf-8", body: Data(text.utf8))
    }

    static func json(_ text: String) -> ServeResponse {
        ServeResponse(status: 200, contentType: "application/json", body: Data(text.utf8))
    }

    static func profile(_ bytes: [UInt8], filename: String) -> ServeResponse {
        ServeResponse(status: 200, contentType: "application/octet-stream", body: Data(bytes),
                      headers: [("Content-Disposition", "attachment; filename=\"\(filename)\"")])
    }

    /// An error: one line naming the problem, never a 200 (scrapers must see the failure).
    static func failure(_ failure: ServeFailure) -> ServeResponse {
        .text(failure.message.replacing("\n", with: " ") + "\n", status: failure.status)
    }
}
