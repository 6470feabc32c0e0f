/// flamegraph.pl / inferno input: one line per stack, `root;caller;callee count`.
public enum CollapsedWriter {
    public static func render(_ profile: SampleProfile) -> String {
        var text = ""
        for (frames, count) in profile.foldedStacks() {
            text += frames.map(frameName).joined(separator: ";") + " \(count)\n"
        }
        return text
    }

    /// A frame name as the format allows: no ';' (the separator) and no line breaks.
    static func frameName(_ name: String) -> String {
        var clean = name
        if clean.contains(where: { $0 == ";" || $0 == "\n" || $0 == "\r" }) {
            clean = String(clean.map { $0 == ";" ? ":" : ($0 == "\n" || $0 == "\r") ? " " : $0 })
        }
        return clean
    }

    /// Reads collapsed lines back (for tests and tools): stack -> count; malformed lines are skipped.
    public static func parse(_ text: String) -> [[String]: Int64] {
        var result: [[String]: Int64] = [:]
        for line in text.split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let count = Int64(line[line.index(after: space)...]) else { continue }
            result[line[..<space].split(separator: ";", omittingEmptySubsequences: false).map(String.init), default: 0] += count
        }
        return result
    }
}
