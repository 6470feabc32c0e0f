import Foundation
import Testing

/// `gospy top` as a person uses it: in a real terminal (tmux), and in --plain mode.
@Suite(.serialized) struct TopTests {
    static var sample: TargetBinary? { TestTargets.binary(release: "1.27", mode: "distro") ?? TestTargets.matrix.last }
    static let tmux = "/usr/bin/tmux"
    /// A tmux server of the tests' own, apart from any the user runs.
    static let socket = ["-L", "gospy-tests"]

    /// Parses top's table rows: (count, location) by location.
    static func rows(_ text: String) -> [String: (count: Int, growing: Bool)] {
        var result: [String: (Int, Bool)] = [:]
        var inTable = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.contains("COUNT") && line.contains("LOCATION") { inTable = true; continue }
            if line.isEmpty { inTable = false; continue }
            guard inTable else { continue }
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let count = fields.first.flatMap({ Int($0) }), let function = fields.first(where: { $0.contains(".") && $0.contains("main.") || $0.contains("/") || $0.hasPrefix("time.") || $0.hasPrefix("sync.") || $0.hasPrefix("syscall.") || $0.hasPrefix("internal") }) else { continue }
            result[String(function)] = (count, line.contains("growing"))
        }
        return result
    }

    @Test func plainIterationsMatchTheRuntimesCounts() throws {
        let target = try RunningTarget(try #require(Self.sample), arguments: ["-scenario=growing"])
        defer { target.stop() }
        let result = try Subprocess.run(Subprocess.gospy, ["top", "--pid", String(target.pid), "--plain", "--iterations", "3", "--interval", "0.4"])
        #expect(result.status == 0, "\(result.stderr)")
        let snapshots = result.stdout.components(separatedBy: "\n\ngospy top").count
        #expect(snapshots == 3, "printed \(snapshots) snapshots")
        let last = result.stdout.components(separatedBy: "gospy top —").last ?? ""
        let rows = Self.rows(last)
        #expect(rows["main.steadyWorker"]?.count == 10, "\(rows)")
        #expect(rows["main.leakyWorker"].map { $0.count >= 5 } == true)
        // The parked set counts match the runtime's own view of the same process.
        let dump = try target.ownDump()
        let parkedChanRecv = dump.goroutines.filter { $0.frames.first?.function == "main.parkChanRecv" }.count
        #expect(rows["main.parkChanRecv"]?.count == parkedChanRecv)
        let steady = dump.goroutines.filter { $0.frames.first?.function == "main.steadyWorker" }.count
        #expect(steady == 10)
    }

    /// A snapshot that fails is shown and retried, not fatal: another gospy holds the target
    /// (traced and stopped) while top starts, so top's first snapshots fail with "already
    /// traced"; once it lets go, top's snapshots succeed again.
    @Test func failedSnapshotIsReportedAndRetried() throws {
        let target = try RunningTarget(try #require(Self.sample))
        defer { target.stop() }
        // Held long enough that top's first snapshot finds the target traced even when top
        // takes seconds to start beside the other suites; top runs well past the hold.
        let holder = try Subprocess.startHoldingStopped(target.pid, seconds: 6)
        #expect(Self.eventually(20) { ProcessState.anyStopped(target.pid) }, "the holder never stopped the target")
        let result = try Subprocess.run(Subprocess.gospy, ["top", "--pid", String(target.pid), "--plain", "--iterations", "24", "--interval", "0.5"])
        holder.process.waitUntilExit()
        #expect(result.status == 0, "\(result.stderr)")
        let snapshots = result.stdout.components(separatedBy: "gospy top —").dropFirst()
        #expect(snapshots.count == 24)
        #expect(snapshots.first?.contains("last snapshot failed") == true && snapshots.first?.contains("traced") == true,
                "\(snapshots.first ?? "")")
        let last = snapshots.last ?? ""
        #expect(!last.contains("failed"), "\(last)")
        #expect(Self.rows(last)["main.parkChanRecv"] != nil, "\(last)")
        #expect(!ProcessState.anyStopped(target.pid))
        #expect(try target.send("count").hasPrefix("COUNT "))
    }

    /// Starts top in a tmux pane; returns a function to read the screen.
    func withTop(_ target: RunningTarget, extra: [String] = [], _ body: (_ keys: (String) -> Void, _ screen: () -> String) throws -> Void) throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.tmux), "tmux is needed (scripts/install-deps.sh installs it)")
        let session = "gospy-top-\(getpid())-\(target.pid)"
        let command = ([Subprocess.gospy, "top", "--pid", String(target.pid), "--interval", "0.3"] + extra).joined(separator: " ")
        // new-session may start the tmux server, which must not inherit our pipes.
        try #require(try Subprocess.runDetached(Self.tmux, Self.socket + ["new-session", "-d", "-s", session, "-x", "200", "-y", "50", "bash --norc --noprofile"]) == 0)
        defer { _ = try? Subprocess.runDetached(Self.tmux, Self.socket + ["kill-session", "-t", session]) }
        try Subprocess.runDetached(Self.tmux, Self.socket + ["send-keys", "-t", session, "PS1='READY> '; clear; \(command); echo EXIT=$?", "Enter"])
        let keys = { (text: String) in _ = try? Subprocess.runDetached(Self.tmux, Self.socket + ["send-keys", "-t", session, text]) }
        let screen = { (try? Subprocess.run(Self.tmux, Self.socket + ["capture-pane", "-p", "-t", session]).stdout) ?? "" }
        try body(keys, screen)
    }

    /// top is drawing (not just its command line typed at the prompt, which also says
    /// "gospy top"): the header's counts and the table's column titles are on screen.
    static func showsView(_ screen: String) -> Bool {
        screen.contains("gospy top —") && screen.contains("Goroutines:") && screen.contains("COUNT")
    }

    static func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }

    @Test func fullScreenKeysAndRestore() throws {
        let target = try RunningTarget(try #require(Self.sample), arguments: ["-scenario=growing"])
        defer { target.stop() }
        try withTop(target) { keys, screen in
            #expect(Self.eventually(15) { Self.showsView(screen()) && screen().contains("main.steadyWorker") }, "\(screen())")
            // The leak is marked after a few refreshes; the steady pool never is.
            #expect(Self.eventually(8) { Self.rows(screen())["main.leakyWorker"]?.growing == true }, "\(screen())")
            #expect(Self.rows(screen())["main.steadyWorker"]?.growing == false)
            #expect(Self.rows(screen())["main.steadyWorker"]?.count == 10)
            keys("p")
            #expect(Self.eventually { screen().contains("PAUSED") })
            keys("p")
            #expect(Self.eventually { !screen().contains("PAUSED") })
            keys("?")
            #expect(Self.eventually { screen().contains("Keys:") })
            keys("?")
            keys("n")
            #expect(Self.eventually { screen().contains("sort by name") })
            keys("w")
            #expect(Self.eventually { screen().contains("sort by wait") })
            keys("d")
            #expect(Self.eventually { screen().contains("sort by change") })
            keys("c")
            #expect(Self.eventually { screen().contains("sort by count") })
            keys("g")
            #expect(Self.eventually { screen().contains("group by stack") })
            keys("g")
            #expect(Self.eventually { screen().contains("group by state") && screen().contains("chan receive") })
            keys("g")
            // What each goroutine waits on: the parked set's channels by address.
            #expect(Self.eventually { screen().contains("group by object") && screen().contains("chan 0x") })
            keys("g")
            #expect(Self.eventually { screen().contains("group by function") })
            keys("/")
            keys("steady")
            keys("Enter")
            #expect(Self.eventually { screen().contains("filter \"steady\"") && !screen().contains("main.parkChanRecv") })
            #expect(Self.rows(screen()).keys.allSatisfy { $0.contains("steady") })
            keys("/")
            keys("Escape")
            #expect(Self.eventually { screen().contains("main.parkChanRecv") })
            keys("r")
            keys("q")
            // Back to the shell: alternate screen left, cursor and echo restored.
            #expect(Self.eventually { screen().contains("EXIT=0") }, "\(screen())")
            #expect(!screen().contains("COUNT"))
            #expect(!ProcessState.anyStopped(target.pid))
        }
    }

    @Test func ctrlCRestoresTheTerminal() throws {
        let target = try RunningTarget(try #require(Self.sample))
        defer { target.stop() }
        try withTop(target) { keys, screen in
            #expect(Self.eventually(15) { Self.showsView(screen()) }, "\(screen())")
            keys("C-c")
            #expect(Self.eventually { screen().contains("EXIT=130") }, "\(screen())")
            #expect(!screen().contains("COUNT"))
            #expect(!ProcessState.anyStopped(target.pid))
        }
    }

    @Test func sigtermRestoresTheTerminal() throws {
        let target = try RunningTarget(try #require(Self.sample))
        defer { target.stop() }
        try withTop(target) { _, screen in
            #expect(Self.eventually(15) { Self.showsView(screen()) }, "\(screen())")
            let pids = try Subprocess.run("/usr/bin/pgrep", ["-f", "top --pid \(target.pid) "]).stdout
                .split(separator: "\n").compactMap { Int32($0) }
            #expect(!pids.isEmpty)
            for pid in pids { kill(pid, SIGTERM) }
            #expect(Self.eventually { screen().contains("EXIT=143") }, "\(screen())")
            #expect(!screen().contains("COUNT"))
            #expect(!ProcessState.anyStopped(target.pid))
        }
    }

    @Test func redrawsOnResize() throws {
        let target = try RunningTarget(try #require(Self.sample))
        defer { target.stop() }
        try withTop(target) { keys, screen in
            #expect(Self.eventually { screen().contains("main.parkChanRecv") })
            let session = "gospy-top-\(getpid())-\(target.pid)"
            try Subprocess.runDetached(Self.tmux, Self.socket + ["resize-window", "-t", session, "-x", "60", "-y", "12"])
            // Lines are cut to the new width, and only as many rows as fit are drawn.
            #expect(Self.eventually {
                let lines = screen().split(separator: "\n")
                return lines.count <= 12 && lines.allSatisfy { $0.count <= 60 } && screen().contains("gospy top")
            }, "\(screen())")
            keys("q")
            #expect(Self.eventually { screen().contains("EXIT=0") })
        }
    }

    @Test func targetExitEndsTheViewClearly() throws {
        let target = try RunningTarget(try #require(Self.sample))
        try withTop(target) { _, screen in
            #expect(Self.eventually(15) { Self.showsView(screen()) }, "\(screen())")
            target.stop()
            #expect(Self.eventually { screen().contains("EXIT=7") }, "\(screen())")
            #expect(screen().contains("exited"))
            #expect(!screen().contains("COUNT"))
        }
    }
}
