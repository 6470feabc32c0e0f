import Foundation
import GospyInspector
import GospyProcess
import GospyRuntime
import Testing

/// What goroutines blocked on descriptors wait on, against what the target says about itself:
/// -scenario=iowaits has each goroutine in IO wait report its descriptor, the direction, the
/// runtime pollDesc (read through reflect) and the socket's addresses as Go prints them, and a
/// goroutine in a blocking read(2) report its thread, the call's number and its descriptor.
@Suite(.serialized) struct IOWaitsMatrixTests {
    struct Truth {
        let goroutine: UInt64
        let kind: String
        let direction: IODirection
        let fd: Int32
        let fields: [String: String]
    }

    static func parse(_ reply: String) throws -> [Truth] {
        let body = try #require(reply.hasPrefix("IOWAITS ") ? reply.dropFirst(8) : nil, "reply \(reply)")
        return try body.split(separator: ";").map { entry in
            var fields: [String: String] = [:]
            for pair in entry.split(separator: " ") {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                try #require(parts.count == 2, "field \(pair)")
                fields[parts[0]] = parts[1]
            }
            return Truth(goroutine: try #require(fields["goid"].flatMap { UInt64($0) }), kind: try #require(fields["kind"]),
                         direction: try #require(fields["dir"].flatMap(IODirection.init(rawValue:))),
                         fd: try #require(fields["fd"].flatMap { Int32($0) }), fields: fields)
        }
    }

    static let binaries = TestTargets.matrix.filter { ["plain", "stripped", "distro"].contains($0.mode) }

    /// What is wrong with gospy's view of one truth (nil: nothing).
    static func mismatch(_ truth: Truth, _ object: WaitObject?, _ waits: Waits, pid: Int32) -> String? {
        let descriptor: FileDescription?
        switch (truth.kind, object) {
        case ("syscall", let .syscall(wait)?):
            guard wait.threadID == Int64(truth.fields["tid"] ?? "") ?? -1, wait.number == Int(truth.fields["nr"] ?? "") ?? -1,
                  wait.name == "read", wait.fd == truth.fd else { return "syscall \(wait)" }
            descriptor = waits.descriptors[truth.fd]
        case (_, let .io(wait)?) where truth.kind != "syscall":
            guard wait.fd == truth.fd, wait.direction == truth.direction else { return "io \(wait)" }
            guard truth.fields["pd"] == "0x" + String(wait.pollDesc, radix: 16) else {
                return "pollDesc 0x\(String(wait.pollDesc, radix: 16)), truth \(truth.fields["pd"] ?? "none")"
            }
            descriptor = waits.descriptors[truth.fd]
        default:
            return "object \(String(describing: object))"
        }
        guard let descriptor else { return "fd \(truth.fd) not described" }
        let kinds: [String: FileDescription.Kind] = ["tcp": .tcp, "udp": .udp, "unix": .unix, "pipe": .pipe, "syscall": .pipe]
        guard descriptor.kind == kinds[truth.kind] else { return "descriptor \(descriptor)" }
        if let inode = truth.fields["inode"], descriptor.inode != UInt64(inode) { return "inode \(descriptor)" }
        if ["tcp", "udp", "unix"].contains(truth.kind) {
            guard descriptor.local == truth.fields["local"], descriptor.remote == truth.fields["remote"] else {
                return "endpoints \(descriptor.local ?? "nil") -> \(descriptor.remote ?? "nil")"
            }
        }
        // A connected unix socket's peer: the other end's inode, as /proc names the descriptor
        // the target holds it by, and that descriptor in the target.
        if let peerFD = truth.fields["peerfd"].flatMap({ Int32($0) }) {
            let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(peerFD)")) ?? "?"
            guard let peer = descriptor.peer, "socket:[\(peer.inode)]" == link, peer.pid == pid, peer.fd == peerFD else {
                return "peer \(String(describing: descriptor.peer)), truth fd \(peerFD) \(link) in \(pid)"
            }
        } else if truth.kind == "unix", let peer = descriptor.peer {
            return "a listener with a peer \(peer)"
        }
        return nil
    }

    @Test(arguments: binaries)
    func descriptorsEqualTheTargetsOwn(binary: TargetBinary) throws {
        let target = try RunningTarget(binary, arguments: ["-scenario=iowaits"])
        defer { target.stop() }
        let truths = try Self.parse(try target.send("iowaits"))
        #expect(truths.count == 12, "the scenario reports 12 waits")
        #expect(Set(truths.map(\.kind)) == ["tcp", "udp", "unix", "pipe", "syscall"])
        #expect(truths.contains { $0.fields["peerfd"] != nil }, "a unix connection's reader reports its peer")
        #expect(truths.contains { $0.direction == .write && $0.kind == "tcp" } && truths.contains { $0.direction == .write && $0.kind == "pipe" })
        let inspector = try Inspector(pid: target.pid)
        for blocking in [true, false] {
            let context = "\(binary.testDescription) \(blocking ? "blocking" : "non-blocking")"
            // A goroutine seen moving is reported unknown: the scenario's do not move once
            // parked, but a capture under load may still race one; three tries.
            var problems: [String] = []
            for _ in 0..<3 {
                let capture = try inspector.capture(blocking: blocking, stacks: false)
                let waits = try inspector.readWaits(capture.snapshot)
                let byID = Dictionary(capture.snapshot.goroutines.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
                problems = truths.compactMap { truth in
                    guard let goroutine = byID[truth.goroutine] else { return "goroutine \(truth.goroutine) missing" }
                    return Self.mismatch(truth, waits.objects[goroutine.address], waits, pid: target.pid).map { "goroutine \(truth.goroutine) \(truth.kind): \($0)" }
                }
                // Every goroutine in IO wait or a system call has an object, known or unknown.
                for goroutine in capture.snapshot.goroutines where PollWaitReader.isIOWait(goroutine) || goroutine.status == .syscall {
                    if waits.objects[goroutine.address] == nil { problems.append("goroutine \(goroutine.id) has no object") }
                }
                if problems.isEmpty { break }
            }
            #expect(problems.isEmpty, "\(context): \(problems)")
        }
        #expect(try target.send("count").hasPrefix("COUNT "), "the target no longer answers")
    }

    /// The command names each descriptor with its endpoints, and the system call.
    @Test func commandNamesTheDescriptors() throws {
        let binary = try #require(TestTargets.binary(release: TestTargets.newestRelease, mode: "distro"))
        let target = try RunningTarget(binary, arguments: ["-scenario=iowaits"])
        defer { target.stop() }
        let truths = try Self.parse(try target.send("iowaits"))
        let writer = try #require(truths.first { $0.kind == "tcp" && $0.direction == .write })
        let syscall = try #require(truths.first { $0.kind == "syscall" })
        let result = try Subprocess.run(Subprocess.gospy, ["waits", "--pid", String(target.pid)])
        #expect(result.status == 0, "gospy waits: \(result.stderr)")
        let tcpLine = "fd \(writer.fd) tcp \(writer.fields["local"] ?? "?") -> \(writer.fields["remote"] ?? "?") ESTABLISHED "
            + "(pollDesc \(writer.fields["pd"] ?? "?")), 0 reading, 1 writing"
        #expect(result.stdout.contains(tcpLine), "\(tcpLine) in \(result.stdout)")
        let unix = try #require(truths.first { $0.fields["peerfd"] != nil })
        let peerLink = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(target.pid)/fd/\(unix.fields["peerfd"] ?? "")")
        let unixLine = "fd \(unix.fd) unix \(unix.fields["local"] ?? "?") -> \(peerLink) (pid \(target.pid) gospytarget fd \(unix.fields["peerfd"] ?? "?")) STREAM"
        #expect(result.stdout.contains(unixLine), "\(unixLine) in \(result.stdout)")
        #expect(result.stdout.contains("syscall read fd \(syscall.fd) pipe:[\(syscall.fields["inode"] ?? "?")]: 1 goroutines in it"), "\(result.stdout)")
        #expect(result.stdout.contains("main.ioWaitWriteTCP") || result.stdout.contains("net.(*conn).Write"), "\(result.stdout)")
        let json = try Subprocess.run(Subprocess.gospy, ["waits", "--pid", String(target.pid), "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let objects = try #require(object["objects"] as? [[String: Any]])
        let io = objects.filter { $0["kind"] as? String == "io" }
        #expect(io.count >= 11, "\(io.count) io objects")
        let written = try #require(io.first { $0["fd"] as? Int == Int(writer.fd) })
        let descriptor = try #require(written["descriptor"] as? [String: Any])
        #expect(descriptor["local"] as? String == writer.fields["local"] && descriptor["remote"] as? String == writer.fields["remote"])
        #expect(written["writers"] as? Int == 1 && written["address"] as? String == writer.fields["pd"])

        // summary --json: each goroutine's wait object, and where the program's own code waits
        // (--pc user-code) where the innermost frame is the library's (--pc user).
        var locations: [String: [UInt64: String]] = [:]
        for kind in ["user", "user-code"] {
            let summary = try Subprocess.run(Subprocess.gospy, ["summary", "--pid", String(target.pid), "--json", "--pc", kind])
            #expect(summary.status == 0, "\(summary.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(summary.stdout.utf8)) as? [String: Any])
            for goroutine in try #require(report["goroutines"] as? [[String: Any]]) {
                guard let id = (goroutine["id"] as? NSNumber)?.uint64Value else { continue }
                locations[kind, default: [:]][id] = (goroutine["location"] as? [String: Any])?["function"] as? String
                guard kind == "user", let truth = truths.first(where: { $0.goroutine == id }) else { continue }
                let wait = goroutine["wait"] as? [String: Any]
                #expect(wait?["kind"] as? String == (truth.kind == "syscall" ? "syscall" : "io"), "goroutine \(id): \(String(describing: wait))")
                #expect(wait?["fd"] as? Int == Int(truth.fd), "goroutine \(id): \(String(describing: wait))")
            }
        }
        for truth in truths where truth.kind == "tcp" && truth.direction == .read {
            #expect(locations["user"]?[truth.goroutine] == "internal/poll.runtime_pollWait", "\(locations["user"]?[truth.goroutine] ?? "nil")")
            let own = locations["user-code"]?[truth.goroutine]
            #expect(own == "main.ioWaitRead" || own == "main.ioWaitAccept", "\(own ?? "nil")")
        }
    }

    /// The default dump stays the runtime's own with waits in the program; --annotate adds
    /// exactly one comment line after each header, naming the object, and nothing else.
    @Test(arguments: [TestTargets.binary(release: "1.19", mode: "stripped"),
                      TestTargets.binary(release: TestTargets.newestRelease, mode: "distro")].compactMap { $0 })
    func annotateAddsOneLinePerGoroutine(binary: TargetBinary) throws {
        let target = try RunningTarget(binary, arguments: ["-scenario=iowaits"])
        defer { target.stop() }
        let truths = try Self.parse(try target.send("iowaits"))
        let plain = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid)])
        let annotated = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid), "--annotate"])
        #expect(plain.status == 0 && annotated.status == 0, "\(plain.stderr) \(annotated.stderr)")
        #expect(!plain.stdout.contains("# waits on"), "the default dump carries no annotation")
        let theirs = try target.ownDump()

        // Every header is followed by exactly one annotation, and there are no others.
        let lines = annotated.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        var headers = 0
        for (index, line) in lines.enumerated() where line.hasPrefix("goroutine ") && line.hasSuffix(":") {
            headers += 1
            #expect(index + 1 < lines.count && lines[index + 1].hasPrefix("# waits on: "), "after \(line)")
        }
        #expect(headers > 0 && lines.filter { $0.hasPrefix("#") }.count == headers)

        // Without its annotations the annotated dump parses as the plain one; both are the
        // runtime's own for every goroutine in a stable state.
        let stripped = lines.filter { !$0.hasPrefix("# waits on: ") }.joined(separator: "\n")
        for text in [plain.stdout, stripped] {
            let mine = GoroutineDump(parsing: text)
            var compared = 0
            for runtime in theirs.goroutines where !DumpMatrixTests.isTransient(runtime.state) {
                guard let gospy = mine.goroutine(runtime.id), !DumpMatrixTests.isTransient(gospy.state) else { continue }
                compared += 1
                #expect(gospy.header == runtime.header, "goroutine \(runtime.id)")
                #expect(gospy.frames == runtime.frames, "goroutine \(runtime.id): \(gospy.frames.map(\.function)) \(runtime.frames.map(\.function))")
                #expect(gospy.createdBy == runtime.createdBy, "goroutine \(runtime.id) created by")
            }
            #expect(compared >= 35, "too few goroutines in stable states: \(compared)")
        }

        // dump --format json carries the same objects.
        let json = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid), "--format", "json"])
        let dumped = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        var waitsByID: [UInt64: [String: Any]] = [:]
        for goroutine in try #require(dumped["goroutines"] as? [[String: Any]]) {
            if let id = (goroutine["id"] as? NSNumber)?.uint64Value, let wait = goroutine["wait"] as? [String: Any] { waitsByID[id] = wait }
        }
        for truth in truths {
            let wait = waitsByID[truth.goroutine]
            #expect(wait?["fd"] as? Int == Int(truth.fd) && wait?["direction"] as? String == (truth.kind == "syscall" ? nil : truth.direction.rawValue),
                    "goroutine \(truth.goroutine): \(String(describing: wait))")
            if truth.kind != "syscall" { #expect(wait?["address"] as? String == truth.fields["pd"]) }
        }

        // The annotation names each waiter's descriptor as the target does.
        for truth in truths {
            guard let header = lines.firstIndex(where: { $0.hasPrefix("goroutine \(truth.goroutine) [") }), header + 1 < lines.count else {
                Issue.record("goroutine \(truth.goroutine) not in the annotated dump")
                continue
            }
            let note = lines[header + 1]
            if truth.kind == "syscall" {
                #expect(note.hasPrefix("# waits on: syscall read(fd \(truth.fd): pipe:[\(truth.fields["inode"] ?? "?")]) on thread \(truth.fields["tid"] ?? "?")"), "\(note)")
            } else {
                #expect(note.hasPrefix("# waits on: fd \(truth.fd) \(truth.direction.rawValue): "), "\(note)")
                if truth.kind == "tcp", let local = truth.fields["local"] {
                    let remote = truth.fields["remote"].map { " -> " + $0 } ?? ""
                    #expect(note.contains("tcp \(local)\(remote) "), "\(note)")
                }
                #expect(note.hasSuffix("(pollDesc \(truth.fields["pd"] ?? "?"))"), "\(note)")
            }
        }
    }
}
