import Foundation

/// A goroutine dump in the runtime's own format (`runtime.Stack(buf, true)`, pprof debug=2,
/// SIGQUIT). One parser for the runtime's output and gospy's, so both are read the same way.
struct GoroutineDump: Equatable {
    struct Frame: Equatable {
        /// As printed: "main.genericWait[...]", "main.(*server).wait-fm".
        let function: String
        let file: String
        let line: Int
        /// +0x offset from the function entry; nil for inlined frames (printed with "(...)").
        let offset: UInt64?
        /// The text between the call's parentheses ("0xc000012345, 0x1?", "..."); nil for
        /// "created by" lines, which have none.
        var arguments: String? = nil
        var inlined: Bool { offset == nil }
    }

    struct Goroutine: Equatable {
        let id: Int
        /// The text inside the brackets before the first comma: "chan receive", "running".
        let state: String
        let minutes: Int?
        let lockedToThread: Bool
        let frames: [Frame]
        let createdBy: Frame?
        let creatorID: Int?
        /// The full header line, for messages.
        let header: String
        /// Every line of the goroutine's block after the header, as printed.
        var body: [String] = []
    }

    let goroutines: [Goroutine]

    func goroutine(_ id: Int) -> Goroutine? { goroutines.first { $0.id == id } }

    init(parsing text: String) {
        var result: [Goroutine] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            guard line.hasPrefix("goroutine "), line.hasSuffix(":"), let open = line.firstIndex(of: "["),
                  let close = line.lastIndex(of: "]") else { continue }
            let id = Int(line.dropFirst("goroutine ".count).prefix { $0.isNumber }) ?? -1
            let inside = line[line.index(after: open)..<close]
            let parts = inside.components(separatedBy: ", ")
            let state = parts.first ?? ""
            var minutes: Int?
            var locked = false
            for part in parts.dropFirst() {
                if part.hasSuffix(" minutes") || part.hasSuffix(" minute") {
                    minutes = Int(part.prefix { $0.isNumber })
                } else if part == "locked to thread" {
                    locked = true
                }
            }
            var frames: [Frame] = []
            var createdBy: Frame?
            var creatorID: Int?
            let bodyStart = index
            while index < lines.count, !lines[index].isEmpty, !lines[index].hasPrefix("goroutine ") {
                let call = lines[index]
                index += 1
                if call.hasPrefix("...") { continue }  // "...additional frames elided..."
                guard index < lines.count, lines[index].hasPrefix("\t") else { continue }
                let location = Self.parseLocation(lines[index])
                index += 1
                if call.hasPrefix("created by ") {
                    var rest = String(call.dropFirst("created by ".count))
                    if let range = rest.range(of: " in goroutine ") {
                        creatorID = Int(rest[range.upperBound...])
                        rest = String(rest[..<range.lowerBound])
                    }
                    createdBy = Frame(function: rest, file: location.file, line: location.line, offset: location.offset)
                } else {
                    let function = Self.functionName(call)
                    let arguments = String(call.dropFirst(function.count).dropFirst().dropLast())
                    frames.append(Frame(function: function, file: location.file,
                                        line: location.line, offset: location.offset, arguments: arguments))
                }
            }
            result.append(Goroutine(id: id, state: state, minutes: minutes, lockedToThread: locked,
                                    frames: frames, createdBy: createdBy, creatorID: creatorID, header: line,
                                    body: Array(lines[bodyStart..<index])))
        }
        goroutines = result
    }

    /// "main.f(0x1, ...)" -> "main.f"; "main.g[...](...)" -> "main.g[...]".
    static func functionName(_ call: String) -> String {
        guard call.hasSuffix(")") else { return call }
        var depth = 0
        var index = call.endIndex
        while index > call.startIndex {
            index = call.index(before: index)
            if call[index] == ")" { depth += 1 }
            if call[index] == "(" {
                depth -= 1
                if depth == 0 { return String(call[..<index]) }
            }
        }
        return call
    }

    /// "\t/path/file.go:123 +0x1d" -> (file, line, offset).
    static func parseLocation(_ text: String) -> (file: String, line: Int, offset: UInt64?) {
        var body = text.drop { $0 == "\t" }
        var offset: UInt64?
        if let plus = body.range(of: " +0x") {
            offset = UInt64(body[plus.upperBound...].prefix { $0.isHexDigit }, radix: 16)
            body = body[..<plus.lowerBound]
        }
        guard let colon = body.lastIndex(of: ":") else { return (String(body), 0, offset) }
        return (String(body[..<colon]), Int(body[body.index(after: colon)...]) ?? 0, offset)
    }

    /// The name the runtime prints for a pclntab name: type arguments of generic
    /// instantiations become "[...]" (runtime.funcNameForPrint).
    static func printName(_ raw: String) -> String {
        guard let open = raw.firstIndex(of: "[") else { return raw }
        var depth = 0
        var index = open
        while index < raw.endIndex {
            if raw[index] == "[" { depth += 1 }
            if raw[index] == "]" {
                depth -= 1
                if depth == 0 {
                    return String(raw[..<open]) + "[...]" + String(raw[raw.index(after: index)...])
                }
            }
            index = raw.index(after: index)
        }
        return raw
    }
}
