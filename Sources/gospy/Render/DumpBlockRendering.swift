import Dispatch
import GospyInspector
import GospyRuntime

/// A streamed traceback dump rendered on several threads: the goroutines, in the runtime's
/// order, cut into blocks; a wave of blocks made and rendered at once, one block per thread at
/// a time, then written in order. Rendering (argument texts, frames) is most of a large dump's
/// time after the capture, and each goroutine's text depends on it alone. Memory stays bounded
/// by a wave's text.
enum DumpBlockRendering {
    /// Goroutines per block.
    static let blockSize = 2_048
    /// Threads rendering at once at most.
    static let maxThreads = 4

    /// Renders every item with `render` (which appends one goroutine's traceback) and hands the
    /// text to `sink` in order, a blank line between goroutines. Returns how many were written.
    static func render(inspector: Inspector, capture: Inspector.Capture, all: Bool, runtimeFrames: Bool,
                       render: @escaping @Sendable (DumpedGoroutine, inout String) -> Void, sink: (String) -> Void) -> Int {
        let first = DumpAssembly.ItemMaker(inspector: inspector, capture: capture, all: all, runtimeFrames: runtimeFrames)
        let order = first.order
        let blocks = (order.count + blockSize - 1) / blockSize
        let workers = max(1, min(maxThreads, SnapshotReader.processors, blocks / 2))
        let makers = [first] + (1..<max(1, workers)).map { _ in
            DumpAssembly.ItemMaker(inspector: inspector, capture: capture, all: all, runtimeFrames: runtimeFrames, order: order,
                                   memory: inspector.memory.readerForAnotherThread())
        }
        // Two blocks a thread per wave: a thread that finishes early takes the next one.
        let waveSize = workers * 2
        var written = 0
        for firstBlock in stride(from: 0, to: blocks, by: waveSize) {
            let waveBlocks = min(waveSize, blocks - firstBlock)
            var results = [(text: String, count: Int)](repeating: ("", 0), count: waveBlocks)
            results.withUnsafeMutableBufferPointer { results in
                nonisolated(unsafe) let (results, makers) = (results, makers)
                let work = { (worker: Int) in
                    for block in stride(from: worker, to: waveBlocks, by: workers) {
                        let start = (firstBlock + block) * blockSize
                        var text = ""
                        text.reserveCapacity(blockSize * 512)
                        var count = 0
                        for position in start..<min(order.count, start + blockSize) {
                            guard let (item, _) = makers[worker].item(order[position]) else { continue }
                            // Every goroutine after a blank line; the very first one's is dropped below.
                            text += "\n"
                            render(item, &text)
                            count += 1
                        }
                        results[block] = (text, count)
                    }
                }
                nonisolated(unsafe) let job = work
                if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers) { job($0) } }
            }
            for (text, count) in results where count > 0 {
                sink(written == 0 ? String(text.dropFirst()) : text)
                written += count
            }
        }
        return written
    }
}
