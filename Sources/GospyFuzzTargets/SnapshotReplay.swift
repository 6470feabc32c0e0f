import GospyBinary
import GospyMemory
import GospyRuntime

/// A whole snapshot decoded from memory that is not a live process (a captured image, possibly
/// damaged): goroutines, their walked stacks with arguments, labels and "created by", each
/// goroutine rendered to text. The mutated-image test and the snapshot fuzz target both run
/// this and compare it with the undamaged image's result.
public struct SnapshotReplay: Sendable {
    /// One goroutine as gospy would show it, keyed by its g's address.
    public struct Rendered: Equatable, Sendable {
        public let address: UInt64
        public let header: String
        public let frames: [String]
        /// "key=value" pairs, or one "unreadable: why" when the labels could not be read.
        public let labels: [String]
        public var labelsUnreadable: Bool { labels.first?.hasPrefix("unreadable: ") ?? false }
        /// How the walk ended: "complete", "limit" or "truncated: why".
        public let end: String
        public var truncated: Bool { end.hasPrefix("truncated") || end == "limit" }
    }

    public let snapshot: RuntimeSnapshot
    public let goroutines: [Rendered]

    public init(image: RuntimeImage, symbolizer: Symbolizer, memory: MemoryReader) throws {
        snapshot = try SnapshotReader(image: image, memory: memory).read(consistent: true)
        let collector = StackCollector(symbolizer: symbolizer, memory: memory)
        let captured = collector.capture(snapshot.goroutines.map(\.stackExtent))
        let stacks = collector.unwind(snapshot.goroutines, captured, arguments: true)
        let labels = LabelReader(image: image, memory: memory)
        goroutines = zip(snapshot.goroutines, stacks).map { goroutine, stack in
            Self.render(goroutine, stack, image: image, symbolizer: symbolizer, labels: labels)
        }
    }

    static func render(_ goroutine: Goroutine, _ stack: UnwoundStack, image: RuntimeImage, symbolizer: Symbolizer,
                       labels: LabelReader) -> Rendered {
        let start = image.startFunction(at: goroutine.startPC).map { "\($0.function) \($0.file):\($0.line)" } ?? "?"
        let header = "goroutine \(goroutine.id) [\(goroutine.stateText)] m=\(goroutine.m != 0) start=\(start)"
        let arguments = symbolizer.argumentTexts(stack)
        var frames: [String] = []
        for frame in symbolizer.logicalFrames(stack) {
            let args = frame.inlined ? "..." : (frame.physicalIndex < arguments.count ? arguments[frame.physicalIndex] ?? "?" : "?")
            frames.append("\(frame.function)(\(args)) \(frame.file):\(frame.line) +0x\(String(frame.offset, radix: 16))")
        }
        if let creator = symbolizer.createdBy(goroutine) {
            frames.append("created by \(creator.function) in goroutine \(creator.parentID.map(String.init) ?? "-") \(creator.file):\(creator.line)")
        }
        let end: String
        switch stack.end {
        case .complete: end = "complete"
        case .limit: end = "limit"
        case .truncated(let why): end = "truncated: \(why)"
        }
        // Unreadable labels are marked, as gospy's outputs mark them ("labels unreadable").
        let read = labels.read(of: goroutine)
        let shown = read.unreadable.map { ["unreadable: \($0)"] } ?? read.text.map { "\($0.key)=\($0.value)" }
        return Rendered(address: goroutine.address, header: header, frames: frames, labels: shown, end: end)
    }
}
