import Dispatch
import GospyRuntime

/// Text made on several threads and handed on in order: items cut into blocks, a wave of
/// blocks made at once (two a thread, so a thread that finishes early takes the next one), then
/// handed to the sink in order. Each item's text depends on it alone, so the output is the same
/// as one thread's; memory stays bounded by a wave's text. Dump and summary render this way.
enum OrderedBlockText {
    /// Threads making text at once at most.
    static let maxThreads = 4

    /// Makes the text of items `0..<count`: `make(&worker, range, &text)` appends items `range`
    /// to a block's text (from `emptyText()`) and returns how many it showed; `sink(text, shown)`
    /// gets each block's text in order (blocks that showed nothing are skipped).
    /// `makeWorker(thread)` makes each thread's worker: its own state (caches, a memory reader),
    /// never shared.
    static func render<Worker, Text>(count: Int, blockSize: Int, emptyText: @escaping () -> Text,
                                     makeWorker: (Int) -> Worker,
                                     make: @escaping (inout Worker, Range<Int>, inout Text) -> Int,
                                     sink: (Text, Int) -> Void) {
        let blocks = (count + blockSize - 1) / blockSize
        let threads = max(1, min(maxThreads, SnapshotReader.processors, blocks / 2))
        var workers = (0..<threads).map(makeWorker)
        let waveSize = threads * 2
        for firstBlock in stride(from: 0, to: blocks, by: waveSize) {
            let waveBlocks = min(waveSize, blocks - firstBlock)
            var results = [(text: Text, shown: Int)?](repeating: nil, count: waveBlocks)
            results.withUnsafeMutableBufferPointer { results in
                workers.withUnsafeMutableBufferPointer { workers in
                    // Each thread writes only its own worker and its own blocks' results.
                    nonisolated(unsafe) let (results, workers) = (results, workers)
                    let work = { (thread: Int) in
                        for block in stride(from: thread, to: waveBlocks, by: threads) {
                            let start = (firstBlock + block) * blockSize
                            var text = emptyText()
                            let shown = make(&workers[thread], start..<min(count, start + blockSize), &text)
                            results[block] = (text, shown)
                        }
                    }
                    nonisolated(unsafe) let job = work
                    if threads == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: threads) { job($0) } }
                }
            }
            for case let (text, shown)? in results where shown > 0 { sink(text, shown) }
        }
    }
}
