import Foundation
import Testing
import GospyBinary
import GospyInspector
import GospyMemory
import GospyProcess
@testable import GospyRuntime
@testable import gospy

/// Each kind of error gets its own exit code and one line naming the problem and the fix.
@Suite struct DiagnosisTests {
    struct Case: CustomTestStringConvertible, @unchecked Sendable {
        let error: Error
        let status: gospy.ExitStatus
        let message: String
        var testDescription: String { "\(error)" }
    }

    static let cases: [Case] = [
        Case(error: RuntimeGlobalsError.notFound("runtime.allglen", reason: "function runtime.allgadd is not in the pclntab"),
             status: .runtimeNotUnderstood,
             message: "the binary's Go runtime is not understood: runtime.allglen not found: function runtime.allgadd "
                + "is not in the pclntab; pass an unstripped copy of the same build with --bin (its symbols name the runtime's globals)"),
        Case(error: RuntimeGlobalsError.functionMissing("runtime.retake"), status: .runtimeNotUnderstood,
             message: "the binary's Go runtime is not understood: function runtime.retake is not in the pclntab; "
                + "pass an unstripped copy of the same build with --bin (its symbols name the runtime's globals)"),
        Case(error: RuntimeGlobalsError.patternNotFound(global: "runtime.allm", function: "runtime.mcommoninit", detail: "2 atomic pointer stores"),
             status: .runtimeNotUnderstood,
             message: "the binary's Go runtime is not understood: runtime.allm: no match in runtime.mcommoninit "
                + "(2 atomic pointer stores); pass an unstripped copy of the same build with --bin (its symbols name the runtime's globals)"),
        Case(error: RuntimeGlobalsError.inconsistent(global: "runtime.sched", detail: "mcommoninit and retake disagree"),
             status: .runtimeNotUnderstood,
             message: "the binary's Go runtime is not understood: runtime.sched: mcommoninit and retake disagree; "
                + "pass an unstripped copy of the same build with --bin (its symbols name the runtime's globals)"),
        Case(error: SnapshotError.implausible("allglen is 1099511627776"), status: .damagedRuntimeState,
             message: "the target's runtime state looks damaged: allglen is 1099511627776; "
                + "retry, and if it persists the process's memory is corrupted (by cgo or unsafe code?)"),
        Case(error: BinaryError.corruptPclntab(path: "/x", reason: "header: magic 0x12345678 is neither Go 1.18's 0xfffffff0 nor Go 1.20's 0xfffffff1"),
             status: .badBinary,
             message: "/x: the Go pclntab is damaged (header: magic 0x12345678 is neither Go 1.18's 0xfffffff0 nor Go 1.20's 0xfffffff1)"),
        Case(error: ArgumentInfoError.badWordSize(offset: 8, size: 9), status: .badBinary,
             message: "a function's argument info (_FUNCDATA_ArgInfo) is damaged: the argument at offset 8 has 9 bytes (1 to 8 expected)"),
        Case(error: ArgumentInfoError.unterminated(length: 171), status: .badBinary,
             message: "a function's argument info (_FUNCDATA_ArgInfo) is damaged: no end marker in its first 171 bytes"),
        Case(error: BinaryError.notGo(path: "/bin/ls"), status: .notGo,
             message: "/bin/ls is not a Go program (no Go build information or pclntab)"),
        Case(error: BinaryError.cannotOpen(path: "/x", errno: EACCES), status: .permissionDenied,
             message: "cannot open /x: Permission denied (run as root or fix the file's permissions)"),
        Case(error: BinaryError.cannotOpen(path: "/x", errno: ENOENT), status: .badBinary,
             message: "cannot open /x: No such file or directory"),
        Case(error: ProcessError.noSuchProcess(pid: 42), status: .noSuchProcess, message: "no process with pid 42"),
        Case(error: ProcessError.exited(pid: 42, during: "reading it"), status: .processExited,
             message: "process 42 exited while gospy was reading it"),
        Case(error: ProcessError.stopTimedOut(pid: 42, tids: [43]), status: .internalError,
             message: "threads 43 of process 42 did not stop in time"),
        Case(error: InspectorError.wrongBinary(path: "/x", reason: "its code differs from the running binary's"), status: .wrongBinary,
             message: "--bin /x is not the binary the process runs: its code differs from the running binary's; pass the exact build or drop --bin"),
        // A release newer than gospy knows, without DWARF: refused, naming the newest supported.
        Case(error: BinaryError.unsupportedGoVersion(path: "/x", version: "go1.99.1", supported: ["1.26", "1.27"]),
             status: .unsupportedVersion,
             message: "/x was built with go1.99.1, newer than the newest release gospy supports (Go 1.27), "
                + "and has no DWARF to read its runtime structs from: upgrade gospy"),
        Case(error: LayoutError.unsupportedRelease("1.17"), status: .unsupportedVersion,
             message: LayoutError.unsupportedRelease("1.17").description),
        Case(error: LayoutError.dwarf(.noDWARF(path: "/x")), status: .badBinary,
             message: "/x: no DWARF debug information (built with -ldflags=-w or stripped)"),
        Case(error: DwarfError.typeNotFound(path: "/x", typeName: "runtime.nothing"), status: .badBinary,
             message: DwarfError.typeNotFound(path: "/x", typeName: "runtime.nothing").description),
        Case(error: DwarfError.cannotOpen(path: "/x", errno: EPERM), status: .permissionDenied,
             message: "/x: cannot open: Operation not permitted (run as root or fix the file's permissions)"),
        Case(error: LayoutsCommandError.noDWARFNorBuildInfo(path: "/x"), status: .notGo,
             message: "/x has no DWARF and no Go build information (not a Go program?); give --release to see a built-in table"),
        Case(error: MemoryReadError.unmapped(address: 0x1000, size: 8), status: .internalError,
             message: "memory read failed: no memory at 0x1000 (8 bytes)"),
        Case(error: SnapshotCut(seconds: 0.5, stacksNotRead: 30, stacksNotWalked: 2), status: .snapshotCut,
             message: "snapshot deadline of 0.5 s reached: 30 stacks not read, 2 not walked "
                + "(shown as \"stack truncated: snapshot deadline reached\"); raise --deadline"),
        Case(error: DumpError.cannotWrite("/x/y"), status: .internalError,
             message: "cannot write /x/y: check the directory exists and is writable"),
    ]

    @Test(arguments: cases)
    func errorMapsToItsCodeAndMessage(_ expected: Case) {
        let (message, status) = Diagnosis.describe(expected.error)
        #expect(status == expected.status)
        #expect(message == expected.message)
        #expect(!message.contains("\n"))
    }

    /// No code is ArgumentParser's usage error, and the README's table lists every code.
    @Test func exitCodesAreDocumented() throws {
        let readme = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        for status in gospy.ExitStatus.allCases {
            #expect(status.rawValue != 64)
            #expect(text.contains("\n| \(status.rawValue) | "), "README's exit code table lacks \(status.rawValue)")
        }
    }
}
