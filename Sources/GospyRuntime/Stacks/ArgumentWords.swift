/// One stack's argument words, kept in a chunk it shares with the stacks walked after it on
/// the same thread. A million stacks' words as a million arrays cost an allocation and a
/// 32-byte header each (and malloc's rounding): about half of what they hold.
public struct ArgumentWords: Sendable, Equatable {
    fileprivate let chunk: WordChunk
    fileprivate let start: Int
    public let count: Int

    public var words: [UInt64] { withUnsafeBufferPointer { Array($0) } }

    /// The words, valid for the call.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<UInt64>) throws -> R) rethrows -> R {
        try withExtendedLifetime(chunk) { try body(UnsafeBufferPointer(start: chunk.base + start, count: count)) }
    }

    public static func == (a: ArgumentWords, b: ArgumentWords) -> Bool {
        a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in x.elementsEqual(y) } }
    }
}

extension ArgumentWords {
    /// Words in a chunk of their own (tests, single stacks).
    public init(_ words: [UInt64]) {
        self = ArgumentWordArena(chunkWords: 0).store(words)
    }
}

/// Fixed room for words, written once by the thread that filled it and only read afterwards.
private final class WordChunk: @unchecked Sendable {
    let base: UnsafeMutablePointer<UInt64>
    let capacity: Int
    var used = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, capacity))
    }

    deinit { base.deallocate() }
}

/// Hands out room for argument words chunk by chunk; one per walking thread (not shared: its
/// current chunk is written without a lock). A chunk lives as long as any stack stored in it.
public final class ArgumentWordArena {
    /// Words per chunk (128 KiB): a thread's last chunk wastes at most this much.
    public static let defaultChunkWords = 16_384
    private let chunkWords: Int
    private var current: WordChunk?

    /// - Parameter chunkWords: 0 gives every stack a chunk of its own size.
    public init(chunkWords: Int = ArgumentWordArena.defaultChunkWords) {
        self.chunkWords = max(0, chunkWords)
    }

    /// Room for `count` words in the current chunk (or a new one; a stack with more than a
    /// quarter of a chunk's words gets a chunk of its own, so that no chunk is left mostly
    /// empty), zeroed, then written in place by `fill`: no array per stack on the way.
    public func store(count: Int, _ fill: (UnsafeMutableBufferPointer<UInt64>) -> Void) -> ArgumentWords {
        let count = max(0, count)
        let chunk: WordChunk
        if let current, current.capacity - current.used >= count {
            chunk = current
        } else if count > chunkWords / 4 {
            chunk = WordChunk(capacity: count)
        } else {
            chunk = WordChunk(capacity: chunkWords)
            current = chunk
        }
        let start = chunk.used
        let room = UnsafeMutableBufferPointer(start: chunk.base + start, count: count)
        room.initialize(repeating: 0)
        fill(room)
        chunk.used += count
        return ArgumentWords(chunk: chunk, start: start, count: count)
    }

    /// A copy of `words`, stored as `store(count:_:)` stores.
    public func store(_ words: [UInt64]) -> ArgumentWords {
        store(count: words.count) { room in
            for (index, word) in words.enumerated() { room[index] = word }
        }
    }
}
