import Foundation
import GospyRuntime
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

    /// A stripped binary whose runtime.allgadd is renamed in the pclntab: allglen cannot be
    /// derived from its code, so gospy does not understand the runtime (11) and says --bin helps.
    @Test func runtimeGlobalNotDerivable() throws {
        let binary = try #require(TestTargets.binary(release: "1.22", mode: "stripped"))
        let target = try RunningTarget(binary)
        defer { target.stop() }
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: binary.path)))
        let name = Array("\0runtime.allgadd\0".utf8)
        var renamed = 0
        for start in 0...(bytes.count - name.count) where bytes[start + 1] == name[1] && Array(bytes[start..<(start + name.count)]) == name {
            bytes[start + name.count - 2] = UInt8(ascii: "X")
            renamed += 1
        }
        try #require(renamed >= 1)
        let copy = NSTemporaryDirectory() + "gospy-renamed-allgadd-\(getpid())"
        try Data(bytes).write(to: URL(fileURLWithPath: copy))
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try expectFailure(["summary", "--pid", String(target.pid), "--bin", copy], status: 11,
                          mentions: ["runtime.allglen not found", "runtime.allgadd", "unstripped copy", "--bin"])
        #expect(!ProcessState.anyStopped(target.pid))
    }

    /// An implausible allglen written into the (SIGSTOPped) target: its runtime state looks
    /// damaged (12). Read with --non-blocking, so gospy does not ptrace the stopped process.
    @Test func damagedRuntimeState() throws {
        let binary = try #require(TestTargets.binary(release: "1.22", mode: "plain"))
        let executable = try GoExecutable(path: binary.path)
        let globals = RuntimeGlobals.locate(in: executable, layout: try RuntimeLayout.forExecutable(executable))
        let allglen = try globals.address(of: .allglen)
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let memory = try #require(FileHandle(forUpdatingAtPath: "/proc/\(target.pid)/mem"))
        defer { try? memory.close() }
        // The target cannot run while its allglen is wrong: the runtime would follow it.
        kill(target.pid, SIGSTOP)
        try memory.seek(toOffset: allglen)
        let original = try #require(try memory.read(upToCount: 8))
        try memory.seek(toOffset: allglen)
        try memory.write(contentsOf: withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Data($0) })
        let result = Result { try expectFailure(["summary", "--non-blocking", "--pid", String(target.pid)], status: 12,
                                                mentions: ["runtime state looks damaged", "allglen is 1099511627776", "retry"]) }
        try memory.seek(toOffset: allglen)
        try memory.write(contentsOf: original)
        kill(target.pid, SIGCONT)
        try result.get()
        #expect(try target.send("count").hasPrefix("COUNT"))
    }
}
