import GospyRuntime

/// One release's entry for GeneratedLayouts.swift (`gospy layouts --emit-swift`, assembled by
/// scripts/gen-layouts.sh): a function returning the release's struct layouts, structs sorted by
/// name and fields by offset then name, so regenerating gives the same file.
enum LayoutSwiftFragment {
    /// `@_optimize(none)`: the optimizer gains nothing on literal tables and would spend ~20 s on
    /// them in release builds.
    static func render(_ layout: RuntimeLayout, release: String, goVersion: String) -> String {
        var out = ""
        out += "    // MARK: Go \(release): \(goVersion)\n\n"
        out += "    @_optimize(none)\n"
        out += "    static func \(tableName(release))() -> [String: StructLayout] {\n"
        out += "        [\n"
        for name in layout.structs.keys.sorted() {
            let structLayout = layout.structs[name]!
            out += "            \(literal(name)): StructLayout(name: \(literal(name)), size: \(structLayout.size), fields: ["
            let fields = structLayout.fieldsByOffset
            if fields.isEmpty {
                out += ":]),\n"
                continue
            }
            out += "\n"
            for (field, offset) in fields {
                out += "                \(literal(field)): 0x\(String(offset, radix: 16)),\n"
            }
            out += "            ]),\n"
        }
        out += "        ]\n"
        out += "    }\n"
        return out
    }

    /// "1.21" -> "layouts_1_21".
    static func tableName(_ release: String) -> String {
        "layouts_" + release.map { $0.isNumber ? String($0) : "_" }.joined()
    }

    /// A Swift string literal for `text`.
    private static func literal(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

extension StructLayout {
    /// Fields ordered by offset, then name: the order they appear in memory (the generated
    /// tables and `gospy layouts` list them so).
    var fieldsByOffset: [(String, Int)] {
        fields.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map { ($0.key, $0.value) }
    }
}
