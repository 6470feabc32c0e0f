import FoundationEssentials

/// gospy's JSON: pretty, keys sorted (stable diffs), slashes unescaped (paths stay readable).
protocol JSONOutput: Encodable {}

extension JSONOutput {
    func json() throws -> String {
        String(decoding: try JSONOutputEncoder.make().encode(self), as: UTF8.self) + "\n"
    }
}

/// The encoder behind every JSON view (documents streamed in pieces too).
enum JSONOutputEncoder {
    static func make() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// Fields several JSON views share and one view's own, side by side in one object (JSON readers
/// see no nesting): each shared group is declared and filled in one place.
struct MergedJSON<Shared: Encodable, Own: Encodable>: Encodable {
    let shared: Shared
    let own: Own

    func encode(to encoder: any Encoder) throws {
        try shared.encode(to: encoder)
        try own.encode(to: encoder)
    }
}
