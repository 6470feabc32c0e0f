import GospyBinary

/// Finds statically initialised runtime data by content: string headers that point at known
/// bytes. Works on stripped binaries because the data itself cannot be stripped.
enum DataScan {
    /// Writable, file-backed regions (where initialised pointer data lives), as views.
    static func writableData(of executable: GoExecutable) -> [ByteView] {
        executable.elf.segments.filter { $0.isLoad && $0.isWritable && $0.fileSize > 0 }.compactMap { segment in
            guard segment.fileSize < 1 << 30 else { return nil }
            return try? executable.image.fetchView(from: segment.virtualAddress, count: Int(segment.fileSize))
        }
    }

    /// Every address in loaded, file-backed memory where `bytes` occur.
    static func occurrences(of bytes: [UInt8], in executable: GoExecutable) -> [UInt64] {
        var result: [UInt64] = []
        for segment in executable.elf.segments where segment.isLoad && !segment.isExecutable && segment.fileSize > 0 {
            // Searched where the file is mapped: no copy of the segment.
            _ = try? executable.elf.withFileBytes(offset: segment.offset, count: segment.fileSize) { raw in
                var start = 0
                while let index = ByteSearch.firstIndex(of: bytes, in: raw, from: start) {
                    result.append(segment.virtualAddress &+ UInt64(index))
                    start = index + 1
                }
            }
        }
        return result
    }

    /// 8-aligned addresses in writable data holding the string header (pointer, length).
    static func stringHeaders(pointingAt targets: Set<UInt64>, length: Int, in executable: GoExecutable) -> [UInt64] {
        var result: [UInt64] = []
        // Most words point nowhere near the few targets: compared before they are hashed.
        guard let lowest = targets.min(), let highest = targets.max() else { return result }
        for view in writableData(of: executable) {
            var offset = Int((8 - view.baseAddress % 8) % 8)
            while offset + 16 <= view.count {
                if let pointer = try? view.u64(at: offset), pointer >= lowest, pointer <= highest, targets.contains(pointer),
                   let count = try? view.u64(at: offset + 8), count == UInt64(length) {
                    result.append(view.baseAddress &+ UInt64(offset))
                }
                offset += 8
            }
        }
        return result
    }

    /// runtime.buildVersion: the string variable holding the version the buildinfo names.
    static func buildVersion(in executable: GoExecutable) throws -> UInt64 {
        let version = Array(executable.buildInfo.goVersion.utf8)
        let targets = Set(occurrences(of: version, in: executable))
        let headers = stringHeaders(pointingAt: targets, length: version.count, in: executable)
        guard headers.count == 1, let address = headers.first else {
            throw RuntimeGlobalsError.inconsistent(
                global: "runtime.buildVersion", detail: "\(headers.count) string headers point at the version string")
        }
        return address
    }

    /// runtime.waitReasonStrings: entry 1 is "GC assist marking" in every supported release.
    static func waitReasonStrings(in executable: GoExecutable) throws -> (UInt64, Int) {
        let marker = Array("GC assist marking".utf8)
        let targets = Set(occurrences(of: marker, in: executable))
        let headers = stringHeaders(pointingAt: targets, length: marker.count, in: executable)
        // The array's entry 0 is the empty string: a header of length 0 just before.
        let arrays = headers.compactMap { header -> UInt64? in
            let start = header &- 16
            guard let length = try? executable.image.fetch(UInt64.self, from: start &+ 8), length == 0 else { return nil }
            return start
        }
        guard arrays.count == 1, let address = arrays.first else {
            throw RuntimeGlobalsError.inconsistent(
                global: "runtime.waitReasonStrings", detail: "\(arrays.count) candidate arrays")
        }
        return (address, countStringHeaders(at: address, in: executable))
    }

    /// How many consecutive plausible wait-reason string headers start at `address` (entry 0,
    /// the empty string, included). Wait reasons are short lowercase ASCII phrases.
    static func countStringHeaders(at address: UInt64, in executable: GoExecutable) -> Int {
        var count = 1
        while count < 256 {
            let header = address &+ UInt64(count) &* 16
            guard let text = try? executable.image.fetchGoString(from: header, maxLength: 64),
                  !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }),
                  let first = text.utf8.first, (0x41...0x7a).contains(first) else { break }
            count += 1
        }
        return count
    }

    /// The strings of waitReasonStrings, read through `reader` (the file or a live process).
    public static func readStrings(at address: UInt64, count: Int, reader: MemoryReader) -> [String] {
        (0..<count).map { index in
            (try? reader.fetchGoString(from: address &+ UInt64(index) &* 16, maxLength: 256)) ?? nil ?? ""
        }
    }
}
