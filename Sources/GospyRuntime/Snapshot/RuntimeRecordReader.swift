import GospyMemory

/// A reader of records the runtime keeps beside a goroutine (labels, synctest bubbles): built
/// for one release's layouts over one memory, or from a runtime image.
public protocol RuntimeRecordReader {
    init(version: GoVersion, layout: RuntimeLayout, memory: MemoryReader)
}

extension RuntimeRecordReader {
    public init(image: RuntimeImage, memory: MemoryReader) {
        self.init(version: image.executable.version, layout: image.layout, memory: memory)
    }
}
