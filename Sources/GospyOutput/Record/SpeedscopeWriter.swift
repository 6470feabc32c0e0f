import FoundationEssentials

/// The speedscope file format (https://www.speedscope.app/file-format-schema.json): one
/// "sampled" profile whose samples are the aggregated stacks (frame indices, root first) and
/// whose weights are the wall-clock seconds each stands for.
public enum SpeedscopeWriter {
    struct File: Codable {
        var schema = "https://www.speedscope.app/file-format-schema.json"
        var shared: Shared
        var profiles: [Profile]
        var name: String
        var activeProfileIndex = 0
        var exporter = "gospy"

        enum CodingKeys: String, CodingKey {
            case schema = "$schema", shared, profiles, name, activeProfileIndex, exporter
        }
    }

    struct Shared: Codable { var frames: [Frame] }

    struct Frame: Codable, Hashable {
        var name: String
        var file: String?
    }

    struct Profile: Codable {
        var type = "sampled"
        var name: String
        var unit = "seconds"
        var startValue: Double
        var endValue: Double
        var samples: [[Int]]
        var weights: [Double]
    }

    public static func render(_ profile: SampleProfile, name: String, nominalRate: Double) throws -> [UInt8] {
        var frames: [Frame] = []
        var frameIndex: [Frame: Int] = [:]
        func intern(_ frame: Frame) -> Int {
            if let index = frameIndex[frame] { return index }
            frameIndex[frame] = frames.count
            frames.append(frame)
            return frames.count - 1
        }
        let seconds = Double(profile.sampleNanos(nominalRate: nominalRate)) / 1e9
        // Stacks in the profile's own order (by folded frames), frames interned in that order
        // and keys sorted, so the file is the same for the same samples.
        var stacks: [(frames: [Int], weight: Double)] = []
        for (key, count, folded) in profile.orderedStacks() {
            let places = profile.places(of: key)
            let roots = folded.count - places.reduce(0) { $0 + $1.lines.count }
            var indices = folded.prefix(roots).map { intern(Frame(name: $0, file: nil)) }
            for place in places.reversed() {
                for line in place.lines.reversed() {
                    indices.append(intern(Frame(name: line.function, file: line.file.isEmpty ? nil : line.file)))
                }
            }
            stacks.append((indices, Double(count) * seconds))
        }
        let total = stacks.reduce(0) { $0 + $1.weight }
        let name = ([name] + profile.notes).joined(separator: "; ")
        let file = File(
            shared: Shared(frames: frames),
            profiles: [Profile(name: name, startValue: 0, endValue: total, samples: stacks.map(\.frames), weights: stacks.map(\.weight))],
            name: name)
        let encoder = JSONEncoder()
        // Sorted keys: without them the encoder's key order changes from run to run.
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return Array(try encoder.encode(file))
    }
}
