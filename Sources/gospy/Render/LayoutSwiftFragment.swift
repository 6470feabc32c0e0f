import GospyRuntime

/// One release's struct layouts as a Swift array literal of `StructLayout`s
/// (`gospy layouts --emit-swift`), for the `structs:` argument in that release's generated
/// file (scripts/gen-layouts.sh writes the rest): structs sorted by name, fields by offset then
/// name, so regenerating gives the same file.
enum LayoutSwiftFragment {
    /// One struct per line: generated data, compact (releases share most of it, and a
    /// release's changes show as changed lines of their structs).
    static func render(_ layout: RuntimeLayout) -> String {
        var out = "[\n"
        for name in layout.structs.keys.sorted() {
            let structLayout = layout.structs[name]!
            let fields = structLayout.fieldsByOffset.map { "\(literal($0.0)): 0x\(String($0.1, radix: 16))" }
            out += "            StructLayout(name: \(literal(name)), size: \(structLayout.size), fields: ["
            out += fields.isEmpty ? ":" : fields.joined(separator: ", ")
            out += "]),\n"
        }
        out += "        ]"
        return out
    }

    /// A Swift string literal for `text`.
    private static func literal(_ text: String) -> String {
        "\"" + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }
}

extension StructLayout {
    /// Fields ordered by offset, then name: the order they appear in memory (the generated
    /// tables and `gospy layouts` list them so).
    var fieldsByOffset: [(String, Int)] {
        fields.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map { ($0.key, $0.value) }
    }
}
