import GospyRuntime

/// One release's struct layouts as Swift `StructLayout` expressions, one a line
/// (`gospy layouts --emit-swift`): scripts/gen-layouts.sh writes each distinct line once into
/// the generated table, with the releases that print it. Structs sorted by name, fields by
/// offset then name, so regenerating gives the same file.
enum LayoutSwiftFragment {
    static func render(_ layout: RuntimeLayout) -> String {
        var out = ""
        for name in layout.structs.keys.sorted() {
            let structLayout = layout.structs[name]!
            let fields = structLayout.fieldsByOffset.map { "\(literal($0.0)): 0x\(String($0.1, radix: 16))" }
            out += "StructLayout(name: \(literal(name)), size: \(structLayout.size), fields: ["
            out += fields.isEmpty ? ":" : fields.joined(separator: ", ")
            out += "])\n"
        }
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
