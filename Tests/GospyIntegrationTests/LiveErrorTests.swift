import Foundation
import Testing

/// Bad targets: one line naming the problem and the fix, a distinct exit code, the target
/// untouched.
@Suite struct LiveErrorTests {
    func expectFailure(_ arguments: [String], status: Int32, mentions: [String],
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try Subprocess.run(Subprocess.gospy, arguments)
        #expect(result.status == status, "exit \(result.status): \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr.debugDescription)", sourceLocation: sourceLocation)
        for word in mentions {
            #expect(result.stderr.contains(word), "\(result.stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test func noSuchProcess() throws {
        try expectFailure(["summary", "--pid", "999999999"], status: 3, mentions: ["no process"])
    }

    @Test func kernelThread() throws {
        // pid 2 is kthreadd on Linux.
        try expectFailure(["summary", "--pid", "2"], status: 3, mentions: ["kernel thread"])
    }

    @Test func notAGoProcess() throws {
        let sleeper = try Subprocess.start("/bin/sleep", ["30"])
        defer { sleeper.killAndWait() }
        try expectFailure(["summary", "--pid", String(sleeper.pid)], status: 4, mentions: ["not a Go program"])
    }

    @Test func zombie() throws {
        // A child that exits without being reaped by its parent (a sleeping shell).
        let parent = try Subprocess.start("/bin/sh", ["-c", "sleep 0 & exec sleep 30"])
        defer { parent.killAndWait() }
        var zombiePID: Int32?
        for _ in 0..<100 where zombiePID == nil {
            usleep(20_000)
            let children = (try? String(contentsOfFile: "/proc/\(parent.pid)/task/\(parent.pid)/children", encoding: .utf8)) ?? ""
            for child in children.split(separator: " ").compactMap({ Int32($0) }) {
                let stat = (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8)) ?? ""
                if stat.contains(") Z ") { zombiePID = child }
            }
        }
        let pid = try #require(zombiePID, "could not make a zombie")
        try expectFailure(["summary", "--pid", String(pid)], status: 3, mentions: ["zombie"])
    }

    @Test func permissionDeniedNamesTheFix() throws {
        let binary = try #require(TestTargets.matrix.first)
        let target = try RunningTarget(binary)
        defer { target.stop() }
        // gospy as an unprivileged user without capabilities.
        let setpriv = "/usr/bin/setpriv"
        try #require(FileManager.default.isExecutableFile(atPath: setpriv), "setpriv (util-linux) is needed")
        let result = try Subprocess.run(setpriv, [
            "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
            Subprocess.gospy, "summary", "--pid", String(target.pid),
        ])
        #expect(result.status == 6, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("root") && result.stderr.contains("CAP_SYS_PTRACE"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!ProcessState.anyStopped(target.pid))
    }

    @Test func alreadyTracedByAnotherDebugger() throws {
        let binary = try #require(TestTargets.matrix.first)
        let target = try RunningTarget(binary)
        defer { target.stop() }
        // Another tracer: PTRACE_SEIZE (0x4206) of the main thread from python, which then
        // sleeps. The system python, not a version-manager shim that might not exec it.
        let script = """
        import ctypes, sys, time
        libc = ctypes.CDLL(None, use_errno=True)
        libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        if libc.ptrace(0x4206, int(sys.argv[1]), None, None) != 0: sys.exit(1)
        print("seized", flush=True)
        time.sleep(60)
        """
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        let tracer = try Subprocess.start(try #require(python, "python3 is needed for a second tracer"),
                                          ["-c", script, String(target.pid)], output: true)
        var tracerAlive = true
        let killTracer = {
            guard tracerAlive else { return }
            tracer.killAndWait()
            tracerAlive = false
        }
        defer { killTracer() }
        let seized = String(decoding: tracer.output?.fileHandleForReading.availableData ?? Data(), as: UTF8.self)
        try #require(seized.hasPrefix("seized"), "the second tracer could not seize the target")
        try expectFailure(["summary", "--pid", String(target.pid)], status: 10,
                          mentions: ["already traced by pid \(tracer.pid)"])
        // While python traces the main thread, Go's own signals (SIGURG preemption) can hold
        // that thread in a signal-delivery stop that only python could end: gospy is judged
        // once python is gone. gospy seized nothing, so nothing stays stopped and the target
        // answers.
        killTracer()
        var stillStopped = true
        for _ in 0..<100 where stillStopped {
            stillStopped = ProcessState.anyStopped(target.pid)
            if stillStopped { usleep(20_000) }
        }
        #expect(!stillStopped, "threads: \(ProcessState.threadStates(target.pid))")
        #expect(try target.send("count").hasPrefix("COUNT"))
    }
}
