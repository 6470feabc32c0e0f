import GospyInspector
import GospyRuntime

/// A streamed traceback dump rendered on several threads (`OrderedBlockText`): the goroutines,
/// in the runtime's order, cut into blocks, rendered by worker threads and written in order.
/// Rendering (argument texts, frames) is most of a large dump's time after the capture, and
/// each goroutine's text depends on it alone.
enum DumpBlockRendering {
    /// Goroutines per block.
    static let blockSize = 2_048

    /// One thread's item maker and traceback writer.
    private struct Worker {
        let maker: DumpAssembly.ItemMaker
        let writer: TracebackRenderer.Writer
    }

    /// Renders every item in the traceback format with `style` and hands the text to `sink` in
    /// order, a blank line between goroutines. Returns how many were written.
    static func render(inspector: Inspector, capture: Inspector.Capture, all: Bool, runtimeFrames: Bool,
                       style: TracebackHeaderStyle, sink: (ArraySlice<UInt8>) -> Void) -> Int {
        let first = DumpAssembly.ItemMaker(inspector: inspector, capture: capture, all: all, runtimeFrames: runtimeFrames)
        let order = first.order
        var written = 0
        OrderedBlockText.render(
            count: order.count, blockSize: blockSize, bytesPerItem: 512,
            makeWorker: { thread in
                let maker = thread == 0 ? first : DumpAssembly.ItemMaker(
                    inspector: inspector, capture: capture, all: all, runtimeFrames: runtimeFrames, order: order,
                    memory: inspector.memory.readerForAnotherThread())
                return Worker(maker: maker, writer: TracebackRenderer.Writer(symbolizer: inspector.symbolizer, style: style))
            },
            make: { worker, positions, text in
                var count = 0
                for position in positions {
                    guard let (item, _) = worker.maker.item(order[position]) else { continue }
                    // Every goroutine after a blank line; the very first one's is dropped below.
                    text.append(UInt8(ascii: "\n"))
                    worker.writer.render(item, into: &text)
                    count += 1
                }
                return count
            },
            sink: { text, count in
                sink(written == 0 ? text.dropFirst() : text[...])
                written += count
            })
        return written
    }
}
