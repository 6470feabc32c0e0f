/// Why a binary could not be analysed. Each case names the file and what was wrong, so the CLI
/// can print one line that says what to do.
public enum BinaryError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, errno: Int32)
    case notELF(path: String)
    case unsupportedELF(path: String, reason: String)
    case truncated(path: String, what: String)
    case notGo(path: String)
    case corruptBuildInfo(path: String, reason: String)
    case pclntabNotFound(path: String)
    case corruptPclntab(path: String, reason: String)
    case unsupportedGoVersion(path: String, version: String)
    case moduleDataNotFound(path: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, errno):
            return "cannot open \(path): \(String(cString: strerror(errno)))"
        case let .notELF(path):
            return "\(path) is not an ELF executable"
        case let .unsupportedELF(path, reason):
            return "\(path): unsupported ELF file (\(reason)); gospy reads 64-bit little-endian x86-64 executables"
        case let .truncated(path, what):
            return "\(path) is truncated or damaged: \(what) lies past the end of the file"
        case let .notGo(path):
            return "\(path) is not a Go program (no Go build information or pclntab)"
        case let .corruptBuildInfo(path, reason):
            return "\(path): the Go build information is damaged (\(reason))"
        case let .pclntabNotFound(path):
            return "\(path): no Go pclntab found (not a Go program, or damaged)"
        case let .corruptPclntab(path, reason):
            return "\(path): the Go pclntab is damaged (\(reason))"
        case let .unsupportedGoVersion(path, version):
            return "\(path) was built with \(version), which gospy does not support (supported: Go 1.19, 1.21–1.27)"
        case let .moduleDataNotFound(path):
            return "\(path): runtime.firstmoduledata not found (damaged binary?)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
