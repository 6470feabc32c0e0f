import ArgumentParser
import GospyBinary
import GospyRuntime
import GospyProcess
import GospyInspector
#if canImport(Glibc)
import Glibc
#endif

/// gospy's exit codes: one per kind of failure, so scripts can tell them apart.
enum ExitStatus: Int32, CaseIterable {
    case success = 0
    case internalError = 1
    case noSuchProcess = 3
    case notGo = 4
    case unsupportedVersion = 5
    case permissionDenied = 6
    case processExited = 7
    case wrongBinary = 8
    case badBinary = 9
    case alreadyTraced = 10
    /// A runtime global could not be found or derived: gospy does not understand this binary's runtime.
    case runtimeNotUnderstood = 11
    /// The target's runtime state is implausible: its memory looks damaged.
    case damagedRuntimeState = 12
    /// The output file cannot be written (record's -o).
    case cannotWriteOutput = 13
    /// `gospy serve` cannot listen on its address or read its token file.
    case cannotServe = 14
    /// The snapshot deadline cut stacks short: the output is printed, those stacks marked.
    case snapshotCut = 15
    // 64 is swift-argument-parser's usage error (EX_USAGE).
}

/// Turns any error into the one line gospy prints and the exit code it returns.
enum Diagnosis {
    static func describe(_ error: Error) -> (message: String, status: ExitStatus) {
        switch error {
        case let error as BinaryError:
            switch error {
            case .notGo, .pclntabNotFound:
                return (error.description, .notGo)
            case .unsupportedGoVersion:
                return (error.description, .unsupportedVersion)
            case .notELF, .unsupportedELF, .truncated, .corruptBuildInfo, .corruptPclntab, .moduleDataNotFound:
                return (error.description, .badBinary)
            case let .cannotOpen(_, code):
                return cannotOpen(error.description, errno: code)
            }
        case let error as ArgumentInfoError:
            return (error.description, .badBinary)
        case let error as ProcessError:
            switch error {
            case .noSuchProcess, .zombie, .kernelThread:
                return (error.description, .noSuchProcess)
            case .permissionDenied:
                return (error.description, .permissionDenied)
            case .alreadyTraced:
                return (error.description, .alreadyTraced)
            case .exited:
                return (error.description, .processExited)
            case .ptraceFailed, .stopTimedOut, .unreadable:
                return (error.description, .internalError)
            }
        case let error as InspectorError:
            switch error {
            case .notGoProcess: return (error.description, .notGo)
            case .wrongBinary: return (error.description, .wrongBinary)
            }
        case let error as LayoutError:
            switch error {
            case .unsupportedRelease: return (error.description, .unsupportedVersion)
            case let .dwarf(dwarfError): return describe(dwarfError)
            case .missingStruct, .missingField: return (error.description, .badBinary)
            }
        case let error as DwarfError:
            if case let .cannotOpen(_, code) = error { return cannotOpen(error.description, errno: code) }
            return (error.description, .badBinary)
        case let error as LayoutsCommandError:
            return (error.description, .notGo)
        case let error as RuntimeGlobalsError:
            return ("the binary's Go runtime is not understood: \(error); "
                    + "pass an unstripped copy of the same build with --bin (its symbols name the runtime's globals)",
                    .runtimeNotUnderstood)
        case let error as SnapshotError:
            switch error {
            case .implausible:
                return ("\(error); retry, and if it persists the process's memory is corrupted (by cgo or unsafe code?)",
                        .damagedRuntimeState)
            }
        case let error as SnapshotCut:
            return (error.description, .snapshotCut)
        case let error as RecordError:
            return (error.description, .cannotWriteOutput)
        case let error as MemoryReadError:
            return ("memory read failed: \(error)", .internalError)
        case let error as ServeError:
            return (error.description, .cannotServe)
        default:
            return ("\(error)", .internalError)
        }
    }

    /// A binary that could not be opened, whichever reader tried: a permission problem has its
    /// own code and fix; anything else (a missing file) counts as a bad binary.
    private static func cannotOpen(_ description: String, errno code: Int32) -> (message: String, status: ExitStatus) {
        if code == EACCES || code == EPERM {
            return (description + " (run as root or fix the file's permissions)", .permissionDenied)
        }
        return (description, .badBinary)
    }

    /// Prints the error as one line on stderr and exits with its code.
    static func exit(with error: Error) -> Never {
        let (message, status) = describe(error)
        Output.error("gospy: \(message)\n")
        Glibc.exit(status.rawValue)
    }
}
