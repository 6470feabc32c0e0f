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
    /// `supported`: the releases gospy supports, oldest first ("1.19", "1.21", ...).
    case unsupportedGoVersion(path: String, version: String, supported: [String])
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
        case let .unsupportedGoVersion(path, version, supported):
            if let newest = supported.last, let built = GoVersion(parsing: version),
               let known = GoVersion(parsing: "go" + newest), (built.major, built.minor) > (known.major, known.minor) {
                // A newer release is read only through its DWARF (see GoExecutable).
                return "\(path) was built with \(version), newer than the newest release gospy supports (Go \(newest)), "
                    + "and has no DWARF to read its runtime structs from: upgrade gospy"
            }
            return "\(path) was built with \(version), which gospy does not support (supported: Go \(Self.ranges(of: supported)))"
        case let .moduleDataNotFound(path):
            return "\(path): runtime.firstmoduledata not found (damaged binary?)"
        }
    }

    /// "1.19, 1.21–1.27": releases (oldest first) with runs of consecutive minor versions as ranges.
    public static func ranges(of releases: [String]) -> String {
        var runs: [(first: String, last: String, major: Int, minor: Int)] = []
        for release in releases {
            let parts = release.split(separator: ".").compactMap { Int($0) }
            guard parts.count == 2 else {
                runs.append((release, release, -1, -1))
                continue
            }
            if let last = runs.last, last.major == parts[0], last.minor + 1 == parts[1] {
                runs[runs.count - 1] = (last.first, release, parts[0], parts[1])
            } else {
                runs.append((release, release, parts[0], parts[1]))
            }
        }
        return runs.map { $0.first == $0.last ? $0.first : "\($0.first)–\($0.last)" }.joined(separator: ", ")
    }
}

#if canImport(Glibc)
import Glibc
#endif
