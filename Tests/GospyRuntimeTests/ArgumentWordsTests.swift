import Testing
import GospyBinary
@testable import GospyRuntime

/// Stacks' argument words kept in shared chunks: each stack reads back exactly its own words,
/// after the arena that stored them is gone, whatever the chunk boundaries.
@Suite struct ArgumentWordsTests {
    @Test func eachStackReadsBackItsOwnWords() {
        var stored: [(ArgumentWords, [UInt64])] = []
        do {
            // Small chunks: many stacks per chunk, some across a chunk's end, some too large
            // for a chunk (their own), and empty ones.
            let arena = ArgumentWordArena(chunkWords: 64)
            for stack in 0..<500 {
                let count = [0, 1, 3, 7, 15, 16, 17, 40][stack % 8]
                let words = (0..<count).map { UInt64(stack) << 32 | UInt64($0) }
                stored.append((arena.store(words), words))
            }
        }
        for (words, expected) in stored {
            #expect(words.words == expected)
            #expect(words.count == expected.count)
            #expect(words == ArgumentWords(expected))
        }
        #expect(stored[1].0 != stored[9].0)  // same count, other values
    }

    @Test func renderingReadsTheStacksShareOnly() {
        let arena = ArgumentWordArena(chunkWords: 16)
        _ = arena.store([0xdead, 0xbeef])
        let words = arena.store([0x1, 0x2, 0x3])
        let layout = ArgumentLayout(items: [.word(offset: 0, size: 8, live: true), .word(offset: 8, size: 8, live: false)])
        var out: [UInt8] = []
        words.withUnsafeBufferPointer { layout.render(UnsafeBufferPointer(rebasing: $0[1..<3]), into: &out) }
        #expect(String(decoding: out, as: UTF8.self) == "0x2, 0x3?")
    }
}
