import Foundation

/// scripts/go-releases.txt, the list of supported Go releases the scripts read, so tests can
/// check that the generated Swift data describes the same releases.
public enum GoReleasesFile {
    public static let path = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/go-releases.txt").path

    /// The releases in file order, each with its exact toolchain version ("1.21", "1.21.13").
    public static func entries() throws -> [(release: String, version: String)] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard let release = fields.first, !release.hasPrefix("#"), fields.count >= 2 else { return nil }
            return (release, fields[1])
        }
    }
}
