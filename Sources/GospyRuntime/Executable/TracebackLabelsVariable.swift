import GospyBinary

/// Where the runtime keeps its GODEBUG tracebacklabels setting (Go 1.26+): the field
/// runtime.debug.tracebacklabels, an atomic.Int32 the runtime sets at start-up from the
/// binary's default GODEBUG (the module's go directive) and the GODEBUG environment, and
/// again when the program changes GODEBUG. runtime.debug is an unnamed struct type, so the
/// field is found the way the runtime itself names it: through runtime.dbgvars, whose entry
/// {name: "tracebacklabels", atomic: &debug.tracebacklabels} is static data even in a
/// stripped binary.
public enum TracebackLabelsVariable: Sendable, Equatable {
    /// The release has no such setting (before Go 1.26): headers never show labels.
    case notInRelease
    /// The link-time address of the atomic.Int32, and how it was found.
    case found(address: UInt64, source: GoExecutable.Provenance)
    /// The release has it but gospy could not find it: why.
    case notFound(String)

    static let name = "tracebacklabels"

    /// With `useSymbols: false` the symbols are ignored, as if the binary were stripped (tests
    /// check the scan against the symbols).
    public static func locate(in executable: GoExecutable, useSymbols: Bool = true) -> TracebackLabelsVariable {
        guard executable.version.atLeast(1, 26) else { return .notInRelease }
        do {
            if useSymbols, let address = try fromSymbol(in: executable) {
                return .found(address: address, source: .symbol("runtime.dbgvars"))
            }
            return .found(address: try dbgVarAtomic(in: executable), source: .scan("runtime.dbgvars for \"\(name)\""))
        } catch {
            return .notFound("\(error)")
        }
    }

    /// With symbols: the entry of the runtime.dbgvars slice ([]*dbgVar) named "tracebacklabels",
    /// without scanning the data. Nil when there is no such symbol.
    static func fromSymbol(in executable: GoExecutable) throws -> UInt64? {
        guard let symbol = executable.elf.symbol(named: "runtime.dbgvars"), symbol.value != 0 else { return nil }
        let image = executable.image
        let array = try image.fetch(UInt64.self, from: symbol.value)
        let count = try image.fetch(UInt64.self, from: symbol.value &+ 8)
        guard count <= 256 else {
            throw RuntimeGlobalsError.inconsistent(global: "runtime.dbgvars", detail: "\(count) entries")
        }
        for index in 0..<count {
            let entry = try image.fetch(UInt64.self, from: array &+ index &* 8)
            guard (try? image.fetchGoString(from: entry, maxLength: 64)) == name else { continue }
            let atomic = try image.fetch(UInt64.self, from: entry &+ 24)
            guard atomic != 0 else { break }
            return atomic
        }
        throw RuntimeGlobalsError.inconsistent(global: "runtime.dbgvars", detail: "no entry named \"\(name)\" with an atomic")
    }

    /// runtime.dbgVar is {name string; value *int32; atomic *atomic.Int32; def int32} in every
    /// release that has the setting: the one entry named "tracebacklabels" with no value
    /// pointer and an atomic pointer into the module's data. With symbols, that pointer must
    /// lie inside runtime.debug.
    static func dbgVarAtomic(in executable: GoExecutable) throws -> UInt64 {
        let bytes = Array(name.utf8)
        let targets = Set(DataScan.occurrences(of: bytes, in: executable))
        let md = executable.moduleData
        let dataRanges = [(md.noptrdata, md.enoptrdata), (md.data, md.edata), (md.bss, md.ebss), (md.noptrbss, md.enoptrbss)]
        let candidates = DataScan.stringHeaders(pointingAt: targets, length: bytes.count, in: executable).compactMap { header -> UInt64? in
            guard let value = try? executable.image.fetch(UInt64.self, from: header &+ 16), value == 0,
                  let atomic = try? executable.image.fetch(UInt64.self, from: header &+ 24),
                  let def = try? executable.image.fetch(Int32.self, from: header &+ 32), def == 0 || def == 1,
                  dataRanges.contains(where: { atomic >= $0.0 && atomic < $0.1 }) else { return nil }
            return atomic
        }
        guard Set(candidates).count == 1, let address = candidates.first else {
            throw RuntimeGlobalsError.inconsistent(
                global: "runtime.debug.\(name)", detail: "\(Set(candidates).count) runtime.dbgvars entries named \"\(name)\"")
        }
        if let debug = executable.elf.symbol(named: "runtime.debug"), debug.size > 0,
           address < debug.value || address >= debug.value &+ debug.size {
            throw RuntimeGlobalsError.inconsistent(
                global: "runtime.debug.\(name)", detail: "the dbgvars entry points outside runtime.debug")
        }
        return address
    }
}

/// The target's tracebacklabels setting as read with a snapshot.
public enum TracebackLabelsSetting: Sendable, Equatable {
    /// Before Go 1.26: headers never show labels.
    case notInRelease
    /// The runtime's value: headers show labels when it is 1.
    case value(Int32)
    /// The release has the setting but it could not be read: why.
    case unreadable(String)

    public var showsLabels: Bool { self == .value(1) }
}
