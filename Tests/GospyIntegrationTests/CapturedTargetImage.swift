import GospyBinary
import GospyInspector
import GospyMemory
import GospyRuntime

/// The memory one snapshot of a running TestTarget reads, captured while it was stopped (the
/// target is stopped for good afterwards), with the runtime image and symbolizer that decode it
/// offline: what the damaged-image tests start from.
struct CapturedTargetImage {
    let memory: BufferMemoryReader
    let image: RuntimeImage
    /// One symbolizer: its caches are by PC, whatever the memory says.
    let symbolizer: Symbolizer

    init(_ binary: TargetBinary) throws {
        let target = try RunningTarget(binary)
        do {
            defer { target.stop() }
            memory = try Inspector(pid: target.pid).captureMemoryImage()
        }
        image = try RuntimeImage(executable: try GoExecutable(path: binary.path))
        symbolizer = Symbolizer(image: image)
    }
}

extension CapturedTargetImage {
    var parts: (BufferMemoryReader, RuntimeImage, Symbolizer) { (memory, image, symbolizer) }
}
