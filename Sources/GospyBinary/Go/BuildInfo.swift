/// What `.go.buildinfo` says: the toolchain version and the main module, as `go version -m`
/// shows them.
public struct BuildInfo: Sendable, Equatable {
    public let goVersion: String
    /// The raw module information ("path\t…\nmod\t…\n…"), sentinels removed.
    public let moduleInfo: String
    /// The address of the blob, for messages.
    public let address: UInt64

    public static let magic: [UInt8] = [0xff] + Array(" Go buildinf:".utf8)

    /// The main package path ("path" line), e.g. "example.com/gospytarget".
    public var mainPath: String? { field("path") }
    /// The main module path and version ("mod" line).
    public var mainModule: String? { field("mod") }

    /// Build settings ("build" lines) as key/value pairs: -trimpath, CGO_ENABLED, -ldflags...
    public var settings: [(key: String, value: String)] {
        moduleInfo.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0] == "build" else { return nil }
            let pair = parts[1].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else { return nil }
            return (String(pair[0]), String(pair[1]))
        }
    }

    public func setting(_ key: String) -> String? {
        settings.first { $0.key == key }?.value
    }

    private func field(_ name: String) -> String? {
        for line in moduleInfo.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            if parts.count >= 2, parts[0] == name { return String(parts[1]) }
        }
        return nil
    }

    /// Parses the build info blob at `address`. The inline-string format (Go 1.18+) is read
    /// from the blob itself; the older pointer format goes through `reader`.
    public static func parse(at address: UInt64, reader: MemoryReader, path: String) throws -> BuildInfo {
        let header: ByteView
        do {
            header = try reader.fetchView(from: address, count: 32)
        } catch {
            throw BinaryError.corruptBuildInfo(path: path, reason: "header unreadable")
        }
        guard Array(header.bytes[0..<14]) == magic else {
            throw BinaryError.corruptBuildInfo(path: path, reason: "bad magic")
        }
        let pointerSize = header.bytes[14]
        let flags = header.bytes[15]
        guard pointerSize == 8, flags & 1 == 0 /* little endian */ else {
            throw BinaryError.corruptBuildInfo(path: path, reason: "pointer size \(pointerSize), flags \(flags)")
        }
        if flags & 2 != 0 {
            // Go 1.18+: two varint-prefixed strings right after the 32-byte header.
            var cursor = address &+ 32
            let version = try readVarintString(at: &cursor, reader: reader, path: path)
            var modinfo = try readVarintString(at: &cursor, reader: reader, path: path)
            modinfo = stripSentinels(modinfo)
            guard version.hasPrefix("go") || version.hasPrefix("devel") else {
                throw BinaryError.corruptBuildInfo(path: path, reason: "version string \(version.debugDescription)")
            }
            return BuildInfo(goVersion: version, moduleInfo: modinfo, address: address)
        }
        // Before 1.18: pointers to two Go string headers.
        do {
            let versionHeader = try header.u64(at: 16)
            let modinfoHeader = try header.u64(at: 24)
            guard let version = try reader.fetchGoString(from: versionHeader, maxLength: 256) else {
                throw BinaryError.corruptBuildInfo(path: path, reason: "version string too long")
            }
            let modinfo = (try? reader.fetchGoString(from: modinfoHeader, maxLength: 1 << 20)) ?? nil
            return BuildInfo(goVersion: version, moduleInfo: stripSentinels(modinfo ?? ""), address: address)
        } catch let error as BinaryError {
            throw error
        } catch {
            throw BinaryError.corruptBuildInfo(path: path, reason: "version pointer unreadable")
        }
    }

    private static func readVarintString(at cursor: inout UInt64, reader: MemoryReader, path: String) throws -> String {
        do {
            let prefix = try reader.fetchView(from: cursor, count: 10)
            let (length, next) = try prefix.uvarint(at: 0)
            guard length <= 1 << 20 else {
                throw BinaryError.corruptBuildInfo(path: path, reason: "string length \(length)")
            }
            cursor = cursor &+ UInt64(next)
            let bytes = try reader.fetchBytes(from: cursor, count: Int(length))
            cursor = cursor &+ length
            return String(decoding: bytes, as: UTF8.self)
        } catch let error as BinaryError {
            throw error
        } catch {
            throw BinaryError.corruptBuildInfo(path: path, reason: "\(error)")
        }
    }

    /// modinfo is wrapped in 16-byte sentinels; drop them when present.
    private static func stripSentinels(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count >= 33, bytes[bytes.count - 17] == 0x0a else { return text }
        return String(decoding: bytes[16..<(bytes.count - 16)], as: UTF8.self)
    }
}
