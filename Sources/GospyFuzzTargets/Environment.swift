import Foundation
import GospyBinary
import GospyMemory
import GospyRuntime

/// What the executable-backed fuzz targets load once: a real TestTargets build
/// (GOSPY_FUZZ_BINARY, not position-independent) and a memory image captured from it running
/// (GOSPY_FUZZ_IMAGE, written by `gospy-fuzz capture`).
public final class Environment: @unchecked Sendable {
    public let image: RuntimeImage
    public let symbolizer: Symbolizer
    /// The runtime functions the globals derivation decodes.
    let derivationFunctions: [Pclntab.Function]
    /// The captured memory and what it decodes to undamaged (nil without an image).
    public let target: MutableImage?
    /// The executable's table and gofunc data for the stackmaps target (nil when unreadable).
    let stackMaps: StackMapsTarget.Table?

    public init(binary: String, imagePath: String?) throws {
        let executable = try GoExecutable(path: binary)
        image = try RuntimeImage(executable: executable)
        symbolizer = Symbolizer(image: image)
        derivationFunctions = ["runtime.allgadd", "runtime.mcommoninit", "runtime.retake", "runtime.procresize"]
            .compactMap { executable.pclntab.function(named: $0) }
            .filter { $0.end > $0.entry && $0.end - $0.entry < 1 << 16 }
        stackMaps = StackMapsTarget.Table(executable: executable)
        if let imagePath {
            target = try MutableImage(memory: try MemoryImage.load(path: imagePath), image: image, symbolizer: symbolizer)
        } else {
            target = nil
        }
    }

    /// From GOSPY_FUZZ_BINARY and GOSPY_FUZZ_IMAGE; nil when unset or unloadable (said once on stderr).
    public static let shared: Environment? = {
        let environment = ProcessInfo.processInfo.environment
        guard let binary = environment["GOSPY_FUZZ_BINARY"] else { return nil }
        do {
            return try Environment(binary: binary, imagePath: environment["GOSPY_FUZZ_IMAGE"])
        } catch {
            FileHandle.standardError.write(Data("gospy-fuzz: cannot load \(binary): \(error)\n".utf8))
            return nil
        }
    }()
}
