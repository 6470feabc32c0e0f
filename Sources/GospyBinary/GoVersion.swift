/// A Go release as the toolchain names it ("go1.21.13", "go1.23rc1", "devel go1.27-abcdef").
public struct GoVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public let patch: Int
    /// The string exactly as found in the binary.
    public let raw: String

    public init(major: Int, minor: Int, patch: Int = 0, raw: String? = nil) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.raw = raw ?? "go\(major).\(minor).\(patch)"
    }

    /// Parses "go1.21.13", "go1.22", "go1.23rc1", "go1.24.0 X:nocoverageredesign", "devel go1.27-…".
    public init?(parsing text: String) {
        let trimmed = text.trimmingPrefix("devel ")
        guard trimmed.hasPrefix("go") else { return nil }
        let numbers = trimmed.dropFirst(2).prefix { $0.isNumber || $0 == "." }
        let parts = numbers.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count >= 2, let major = parts[0], let minor = parts[1] else { return nil }
        let patch = parts.count >= 3 ? (parts[2] ?? 0) : 0
        self.init(major: major, minor: minor, patch: patch, raw: text)
    }

    /// "1.21": the key of per-release data such as struct layouts.
    public var release: String { "\(major).\(minor)" }

    public var description: String { raw }

    public static func < (lhs: GoVersion, rhs: GoVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }

    /// Whether this is at least `major.minor`.
    public func atLeast(_ major: Int, _ minor: Int) -> Bool {
        (self.major, self.minor) >= (major, minor)
    }

    // Which releases gospy supports is GospyRuntime's knowledge (GoVersion+Supported.swift):
    // those it has built-in runtime data for.
}

extension Substring {
    fileprivate func trimmingPrefix(_ prefix: String) -> Substring {
        hasPrefix(prefix) ? dropFirst(prefix.count) : self
    }
}

extension String {
    fileprivate func trimmingPrefix(_ prefix: String) -> Substring {
        Substring(self).trimmingPrefix(prefix)
    }
}
