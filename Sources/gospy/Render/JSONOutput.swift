import FoundationEssentials

/// gospy's JSON: pretty, keys sorted (stable diffs), slashes unescaped (paths stay readable).
protocol JSONOutput: Encodable {}

extension JSONOutput {
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }
}
