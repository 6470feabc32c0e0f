import GospyInspector
import GospyRuntime

/// A streamed traceback dump rendered on several threads (`OrderedBlockText`): the goroutines,
/// in the runtime's order, cut into blocks, rendered a wave at a time and written in order.
/// Rendering (argument texts, frames) is most of a large dump's time after the capture, and
/// each goroutine's text depends on it alone. Memory stays bounded by a wave's text.
enum DumpBlockRendering {
    /// Goroutines per block.
    static let blockSize = 2_048

    /// Renders every item with `render` (which appends one goroutine's traceback) and hands the
    /// text to `sink` in order, a blank line between goroutines. Returns how many were written.
    static func render(inspector: Inspector, capture: Inspector.Capture, all: Bool, runtimeFrames: Bool,
                       render: @escaping @Sendable (DumpedGoroutine, inout String) -> Void, sink: (String) -> Void) -> Int {
        let first = DumpAssembly.ItemMaker(inspector: inspector, capture: capture, all: all, runtimeFrames: runtimeFrames)
        let order = first.order
        var written = 0
        OrderedBlockText.render(
            count: order.count, blockSize: blockSize,
            emptyText: {
                var text = ""
                text.reserveCapacity(blockSize * 512)
                return text
            },
            makeWorker: { thread in
                thread == 0 ? first : DumpAssembly.ItemMaker(inspector: inspector, capture: capture, all: all, runtimeFrames: runtimeFrames,
                                                             order: order, memory: inspector.memory.readerForAnotherThread())
            },
            make: { maker, positions, text in
                var count = 0
                for position in positions {
                    guard let (item, _) = maker.item(order[position]) else { continue }
                    // Every goroutine after a blank line; the very first one's is dropped below.
                    text += "\n"
                    render(item, &text)
                    count += 1
                }
                return count
            },
            sink: { text, count in
                sink(written == 0 ? String(text.dropFirst()) : text)
                written += count
            })
        return written
    }
}
