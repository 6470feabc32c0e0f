import FoundationEssentials
import GospyInspector
import GospyOutput
import GospyRuntime
#if canImport(Glibc)
import Glibc
#endif

/// Where a recording goes and in which format. Each write replaces the file whole (a temporary
/// file renamed over it), so a recording killed during a flush still leaves the previous one.
struct RecordOutput {
    let path: String
    let format: RecordCommand.Format

    /// Checks now that the file can be written (its directory exists and takes new files).
    init(path: String, format: RecordCommand.Format) throws {
        self.path = path
        self.format = format
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            throw RecordError.cannotWrite(path: path, reason: "it is a directory")
        }
        let probe = temporaryPath
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw RecordError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        close(fd)
        unlink(probe)
    }

    private var temporaryPath: String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).gospy-\(getpid())").path
    }

    /// The bytes of `profile` in the chosen format.
    func render(_ profile: SampleProfile, title: String, subtitle: String, rate: Double,
                inspector: Inspector) throws -> [UInt8] {
        switch format {
        case .collapsed:
            return Array(CollapsedWriter.render(profile).utf8)
        case .speedscope:
            return try SpeedscopeWriter.render(profile, name: title, nominalRate: rate)
        case .flamegraph:
            let notes = profile.notes.isEmpty ? "" : " — " + profile.notes.joined(separator: "; ")
            return Array(FlameGraphWriter.render(profile, options: .init(title: title, subtitle: subtitle + notes)).utf8)
        case .pprof:
            let mapping = PprofRenderer.mapping(image: inspector.image, binaryName: inspector.executableName)
            return try SampledPprofWriter.encode(profile, mainBinary: mapping, nominalRate: rate)
        }
    }

    /// Writes the file whole, or throws leaving the previous version in place.
    func write(_ bytes: [UInt8]) throws {
        let temporary = temporaryPath
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw RecordError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        var offset = 0
        var failure: Int32 = 0
        bytes.withUnsafeBytes { buffer in
            while offset < buffer.count {
                let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if close(fd) != 0, failure == 0 { failure = errno }
        if failure == 0, rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw RecordError.cannotWrite(path: path, reason: String(cString: strerror(failure)))
        }
    }
}

enum RecordError: Error, CustomStringConvertible {
    case cannotWrite(path: String, reason: String)

    var description: String {
        switch self {
        case let .cannotWrite(path, reason):
            return "cannot write \(path): \(reason); give -o a path in a writable directory"
        }
    }
}
