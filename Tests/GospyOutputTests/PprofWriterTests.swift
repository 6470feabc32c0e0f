import CZlib
import Foundation
import Testing

@testable import GospyOutput

/// GoroutineProfileWriter: decoded back (DecodedProfile), and read by `go tool pprof`.
@Suite struct PprofWriterTests {
    @Test func gzipHeaderAndRoundTrip() throws {
        let bytes = try Fixture.encode()
        #expect(Array(bytes.prefix(3)) == [0x1f, 0x8b, 8])  // gzip magic, deflate
        let plain = try gunzip(bytes)
        let expected = GoroutineProfileWriter.profile(Fixture.samples, mainBinary: Fixture.binary, timeNanos: Fixture.time)
        #expect(plain == expected)
    }

    @Test func decodedProfileHasTheRuntimeShape() throws {
        let profile = try DecodedProfile(gunzip(try Fixture.encode()))
        let strings = profile.stringTable
        func s(_ index: Int64) -> String { strings[Int(index)] }

        #expect(strings.first == "")
        #expect(Set(strings).count == strings.count, "strings are interned once")
        #expect(Set(strings) == [
            "", "goroutine", "count", "/srv/bin/app", "0123abcd",
            "runtime.gopark", "/go/src/runtime/proc.go", "runtime.chanrecv", "/go/src/runtime/chan.go",
            "main.inner", "/app/main.go", "main.outer", "main.worker", "runtime.cgocall", "/go/src/runtime/cgocall.go",
            "job", "x", "tenant", "a b", "y",
        ])
        #expect(profile.sampleType.map { [s($0.type), s($0.unit)] } == [["goroutine", "count"]])
        #expect([s(profile.periodType.type), s(profile.periodType.unit)] == ["goroutine", "count"])
        #expect(profile.period == 1)
        #expect(profile.timeNanos == Fixture.time)

        #expect(profile.mapping.count == 1)
        let mapping = try #require(profile.mapping.first)
        #expect(mapping.id == 1 && mapping.memoryStart == 0x400000 && mapping.memoryLimit == 0x500000)
        #expect(s(mapping.filename) == "/srv/bin/app" && s(mapping.buildID) == "0123abcd")
        #expect(mapping.hasFunctions && mapping.hasInlineFrames)

        // One Function per (name, file, startLine); ids 1...n.
        #expect(profile.function.map(\.id) == Array(1...UInt64(profile.function.count)))
        #expect(profile.function.map { s($0.name) } == [
            "runtime.gopark", "runtime.chanrecv", "main.inner", "main.outer", "main.worker", "runtime.cgocall",
        ])
        #expect(profile.function.allSatisfy { $0.systemName == $0.name })
        #expect(profile.function.map(\.startLine) == [419, 513, 10, 18, 28, 140])

        // One Location per distinct (address, lines): A and B share three, differ in the worker frame.
        #expect(profile.location.map(\.id) == Array(1...UInt64(profile.location.count)))
        #expect(profile.location.map(\.address) == [0x401000, 0x402000, 0x403000, 0x404100, 0x404000, 0x7f00_0000_1000])
        #expect(profile.location.map(\.mappingID) == [1, 1, 1, 1, 1, 0], "only addresses inside the binary")
        #expect(profile.location[2].line.map { s(profile.function[Int($0.functionID) - 1].name) } == ["main.inner", "main.outer"])

        // Merged and sorted by count: B (2 + 2, labels in either order), A (1 + 2), C.
        #expect(profile.sample.map(\.value) == [[4], [3], [1]])
        #expect(profile.sample.map(\.locationID) == [[1, 2, 3, 4], [1, 2, 3, 5], [6]])
        #expect(profile.sample.map { $0.label.map { "\(s($0.key))=\(s($0.str))" } } == [["job=x", "tenant=a b"], [], ["job=y"]])

        // Every sample resolves back to the stack it was given.
        let resolved = profile.sample.map { sample in
            sample.locationID.map { id in
                let location = profile.location[Int(id) - 1]
                return ProfileLocation(address: location.address, lines: location.line.map { line in
                    let function = profile.function[Int(line.functionID) - 1]
                    return ProfileLine(function: s(function.name), file: s(function.filename), line: line.line, startLine: function.startLine)
                })
            }
        }
        #expect(resolved == [Fixture.stackB, Fixture.stackA, Fixture.stackC])
    }

    @Test func emptyProfileWithoutBinary() throws {
        let profile = try DecodedProfile(gunzip(
            try GoroutineProfileWriter.encode([], mainBinary: nil, timeNanos: 0)))
        #expect(profile.stringTable == ["", "goroutine", "count"])
        #expect(profile.sample.isEmpty && profile.mapping.isEmpty && profile.location.isEmpty)
    }

    // MARK: - go tool pprof, the real reader

    @Test(.enabled(if: GoTool.isInstalled, "needs the Go 1.27 toolchain at \(GoTool.go) (scripts/install-deps.sh)"))
    func goToolPprofTraces() throws {
        let file = try Fixture.write()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let output = try GoTool.pprof(["-traces", file])
        // A goroutine profile's header, as pprof prints one written by the runtime.
        #expect(output.contains("File: app\n"))
        #expect(output.contains("Build ID: 0123abcd\n"))
        #expect(output.contains("Type: goroutine\n"))
        let separator = "-----------+-------------------------------------------------------\n"
        let body = try #require(output.range(of: separator)).lowerBound
        #expect(output[body...] == """
            \(separator)\
                   job:  x
                tenant:  a b
                     4   runtime.gopark
                         runtime.chanrecv
                         main.inner (inline)
                         main.outer
                         main.worker
            \(separator)\
                     3   runtime.gopark
                         runtime.chanrecv
                         main.inner (inline)
                         main.outer
                         main.worker
            \(separator)\
                   job:  y
                     1   runtime.cgocall
            \(separator)
            """)
    }

    @Test(.enabled(if: GoTool.isInstalled, "needs the Go 1.27 toolchain at \(GoTool.go) (scripts/install-deps.sh)"))
    func goToolPprofRawAndTop() throws {
        let file = try Fixture.write()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let raw = try GoTool.pprof(["-raw", file])
        #expect(raw.contains("PeriodType: goroutine count\nPeriod: 1\n"))
        #expect(raw.contains("goroutine/count\n          4: 1 2 3 4 \n                job:[x] tenant:[a b]\n"))
        #expect(raw.contains("     3: 0x403000 M=1 main.inner /app/main.go:12:0 s=10\n             main.outer /app/main.go:20:0 s=18\n"))
        #expect(raw.contains("1: 0x400000/0x500000/0x0 /srv/bin/app 0123abcd [FN][FL][LN][IN]\n"))

        let top = try GoTool.pprof(["-top", file])
        #expect(top.contains("Showing nodes accounting for 8, 100% of 8 total"))
    }
}

// MARK: - Fixture

enum Fixture {
    static let time: Int64 = 1_700_000_000_123_456_789
    static let binary = ProfileMapping(path: "/srv/bin/app", buildID: "0123abcd", start: 0x400000, limit: 0x500000)

    static let gopark = ProfileLocation(address: 0x401000, lines: [
        ProfileLine(function: "runtime.gopark", file: "/go/src/runtime/proc.go", line: 435, startLine: 419),
    ])
    static let chanrecv = ProfileLocation(address: 0x402000, lines: [
        ProfileLine(function: "runtime.chanrecv", file: "/go/src/runtime/chan.go", line: 664, startLine: 513),
    ])
    /// main.inner inlined into main.outer: two lines, innermost first.
    static let inlined = ProfileLocation(address: 0x403000, lines: [
        ProfileLine(function: "main.inner", file: "/app/main.go", line: 12, startLine: 10),
        ProfileLine(function: "main.outer", file: "/app/main.go", line: 20, startLine: 18),
    ])
    static let stackA = [gopark, chanrecv, inlined, ProfileLocation(address: 0x404000, lines: [
        ProfileLine(function: "main.worker", file: "/app/main.go", line: 30, startLine: 28),
    ])]
    static let stackB = [gopark, chanrecv, inlined, ProfileLocation(address: 0x404100, lines: [
        ProfileLine(function: "main.worker", file: "/app/main.go", line: 31, startLine: 28),
    ])]
    /// Outside the binary's mapping (as a cgo or vdso frame would be).
    static let stackC = [ProfileLocation(address: 0x7f00_0000_1000, lines: [
        ProfileLine(function: "runtime.cgocall", file: "/go/src/runtime/cgocall.go", line: 167, startLine: 140),
    ])]

    static let samples = [
        ProfileSample(locations: stackA, count: 1),
        ProfileSample(locations: stackB, count: 2, labels: [(key: "tenant", value: "a b"), (key: "job", value: "x")]),
        ProfileSample(locations: stackC, count: 1, labels: [(key: "job", value: "y")]),
        ProfileSample(locations: stackA, count: 2),
        ProfileSample(locations: stackB, count: 2, labels: [(key: "job", value: "x"), (key: "tenant", value: "a b")]),
    ]

    static func encode() throws -> [UInt8] {
        try GoroutineProfileWriter.encode(samples, mainBinary: binary, timeNanos: time)
    }

    static func write() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gospy-pprof-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).pb.gz")
        try Data(try encode()).write(to: url)
        return url.path
    }
}

// MARK: - Helpers

struct GzipError: Error { var zlibStatus: Int32 }

/// gunzip through zlib (what the writer uses), a whole buffer at a time.
func gunzip(_ input: [UInt8]) throws -> [UInt8] {
    var stream = z_stream()
    guard gospy_inflate_init_gzip(&stream) == Z_OK else { throw GzipError(zlibStatus: Z_STREAM_ERROR) }
    defer { inflateEnd(&stream) }
    var input = input
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var status = Z_OK
    try input.withUnsafeMutableBufferPointer { source in
        stream.next_in = source.baseAddress
        stream.avail_in = uInt(source.count)
        while status != Z_STREAM_END {
            let produced = chunk.withUnsafeMutableBufferPointer { target in
                stream.next_out = target.baseAddress
                stream.avail_out = uInt(target.count)
                status = inflate(&stream, Z_NO_FLUSH)
                return target.count - Int(stream.avail_out)
            }
            guard status == Z_OK || status == Z_STREAM_END else { throw GzipError(zlibStatus: status) }
            output += chunk[..<produced]
        }
    }
    return output
}

enum GoTool {
    static let home = FileManager.default.homeDirectoryForCurrentUser.path
    static let toolchains = ProcessInfo.processInfo.environment["GOSPY_TOOLCHAINS"] ?? home + "/.cache/gospy/toolchains"
    static let go = toolchains + "/go1.27/bin/go"
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: go) }

    struct Failed: Error, CustomStringConvertible {
        var arguments: [String], status: Int32, output: String
        var description: String { "go tool pprof \(arguments.joined(separator: " ")) exited \(status): \(output)" }
    }

    /// `go tool pprof ARGS`'s stdout; pprof must not warn. The first run builds pprof into the
    /// shared Go cache (about half a minute).
    static func pprof(_ arguments: [String]) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["GOTOOLCHAIN"] = "local"
        environment["GOFLAGS"] = ""
        environment["GOENV"] = "off"
        environment["GOROOT"] = toolchains + "/go1.27"
        environment["GOCACHE"] = home + "/.cache/gospy/gocache/go1.27"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: go)
        process.arguments = ["tool", "pprof"] + arguments
        process.environment = environment
        // stderr to a file, so that it cannot fill a pipe while stdout is read.
        let errorsURL = URL(fileURLWithPath: arguments.last! + ".stderr")
        _ = FileManager.default.createFile(atPath: errorsURL.path, contents: nil)
        let errors = try FileHandle(forWritingTo: errorsURL)
        defer { try? errors.close(); try? FileManager.default.removeItem(at: errorsURL) }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = errors
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let messages = try String(contentsOf: errorsURL, encoding: .utf8)
        guard process.terminationStatus == 0 else {
            throw Failed(arguments: arguments, status: process.terminationStatus, output: messages + output)
        }
        #expect(messages.isEmpty, "pprof warned: \(messages)")
        return output
    }
}
