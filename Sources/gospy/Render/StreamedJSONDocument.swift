import FoundationEssentials
import GospyMemory

/// A JSON document written byte for byte as `JSONOutputEncoder` writes it whole, but with its
/// one large array (under a top-level key) made object by object, in blocks on several threads,
/// and handed out in order as made: a million goroutines' objects and their text are never held
/// at once (encoding dump's whole document took 945 MB and 3.5 s at 100k goroutines).
enum StreamedJSONDocument {
    /// Objects per block.
    static let blockSize = 1_024

    enum LayoutError: Error, CustomStringConvertible {
        case arrayNotFound(String)
        var description: String {
            switch self {
            case let .arrayNotFound(key): return "internal error: the JSON document has no empty top-level \"\(key)\" array to fill"
            }
        }
    }

    /// Writes `document`, whose `arrayKey` array must encode empty, with that array holding
    /// `object(&worker, 0..<count)`; `makeWorker(thread)` makes each thread's own state.
    static func write<Worker, Object: Encodable>(_ document: some Encodable, arrayKey: String, count: Int,
                                                 makeWorker: (Int) -> Worker,
                                                 object: @escaping (inout Worker, Int) -> Object,
                                                 sink: (ArraySlice<UInt8>) -> Void) throws {
        let whole = Array(try JSONOutputEncoder.make().encode(document)) + [UInt8(ascii: "\n")]
        guard count > 0 else { return sink(whole[...]) }
        // The empty array at the top level: two spaces in, an empty line between its brackets.
        let opening = Array("\n  \"\(arrayKey)\" : [\n".utf8)
        let empty = opening + Array("\n  ]".utf8)
        guard let start = whole.firstRange(of: empty)?.lowerBound else { throw LayoutError.arrayNotFound(arrayKey) }
        sink(whole[..<(start + opening.count)])
        let failure = EncodingFailure()
        OrderedBlockText.render(
            count: count, blockSize: blockSize, bytesPerItem: 1_024,
            makeWorker: { (makeWorker($0), JSONOutputEncoder.make()) },
            make: { worker, positions, text in
                for position in positions {
                    do {
                        let encoded = try worker.1.encode(object(&worker.0, position))
                        if position > 0 { text += Array(",\n".utf8) }
                        // Four spaces before each of its lines but the empty ones (an empty
                        // object or array is "{\n\n}"), as the whole encode indents it there.
                        var lineStart = true
                        for byte in encoded {
                            if lineStart && byte != UInt8(ascii: "\n") { text += Array("    ".utf8) }
                            text.append(byte)
                            lineStart = byte == UInt8(ascii: "\n")
                        }
                    } catch {
                        failure.record(error)
                    }
                }
                return positions.count
            },
            sink: { text, _ in sink(text[...]) })
        if let error = failure.first { throw error }
        sink(whole[(start + opening.count)...])
    }

    /// The first error an encoding thread met.
    private final class EncodingFailure: @unchecked Sendable {
        private let lock = ThreadLock()
        private var error: Error?
        func record(_ error: Error) { lock.withLock { if self.error == nil { self.error = error } } }
        var first: Error? { lock.withLock { error } }
    }
}
