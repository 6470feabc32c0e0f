import GospyRuntime

/// One JSON object per goroutine.
struct DumpJSON: JSONOutput {
    struct Frame: Encodable {
        let function: String
        let file: String
        let line: Int
        let pc: String
        let offset: String
        let inlined: Bool
        /// As the traceback prints them ("0xc000012345, 0x1"); absent for inlined calls and
        /// where they could not be read.
        let arguments: String?
    }
    struct Creator: Encodable {
        let function: String
        let file: String
        let line: Int
        let goroutine: UInt64?
    }
    /// Dump's fields of a goroutine, beside the header fields every JSON view shares.
    struct Details: Encodable {
        let labels: [String: String]
        let frames: [Frame]
        let truncated: String?
        /// Where the walk started: registers (a running goroutine's thread), vdso (the VDSO
        /// call its thread is in), syscall, or sched (the state saved when it last stopped).
        let stackFrom: String
        let createdBy: Creator?
    }
    let goVersion: String
    let goroutines: [GoroutineJSON<Details>]

    init(goVersion: String, items: [DumpedGoroutine], labels: [UInt64: [(String, String)]], runtimeFrames: Bool,
         symbolizer: Symbolizer) {
        self.goVersion = goVersion
        goroutines = items.map { item in
            let frames = runtimeFrames ? symbolizer.logicalFrames(item.stack) : item.body.frames + item.body.tail
            let arguments = symbolizer.argumentTexts(item.stack)
            var truncated: String?
            if case let .truncated(reason) = item.stack.end { truncated = reason }
            return GoroutineJSON(header: GoroutineHeaderJSON(item.goroutine, waitMinutes: item.waitMinutes), details: Details(
                labels: Dictionary((labels[item.goroutine.address] ?? []).map { ($0.0, $0.1) }, uniquingKeysWith: { $1 }),
                frames: frames.map {
                    Frame(function: $0.function, file: $0.file, line: $0.line, pc: "0x" + String($0.pc, radix: 16),
                          offset: "0x" + String($0.offset, radix: 16), inlined: $0.inlined,
                          arguments: $0.inlined || $0.physicalIndex >= arguments.count ? nil : arguments[$0.physicalIndex])
                },
                truncated: truncated,
                stackFrom: String(item.stack.origin.prefix { $0 != " " }),
                createdBy: item.createdBy.map { Creator(function: $0.function, file: $0.file, line: $0.line, goroutine: $0.parentID) }))
        }
    }

}
