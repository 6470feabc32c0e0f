import GospyBinary
import GospyMemory

/// The addresses of the runtime globals gospy reads (link-time; add the load bias for a PIE
/// process), each with how it was found. From symbols when the binary has them; otherwise
/// derived from the code of runtime functions (found by name in the pclntab) and from data
/// scans, each result checked against another.
public struct RuntimeGlobals: Sendable {
    public enum Name: String, CaseIterable, Sendable {
        case allgs = "runtime.allgs"
        case allglen = "runtime.allglen"
        case allgptr = "runtime.allgptr"
        case allp = "runtime.allp"
        case allm = "runtime.allm"
        case sched = "runtime.sched"
        case gomaxprocs = "runtime.gomaxprocs"
        case buildVersion = "runtime.buildVersion"
        case waitReasonStrings = "runtime.waitReasonStrings"
        case memstats = "runtime.memstats"
        case gcController = "runtime.gcController"
        /// The semaphore table: semaphore waits (sync.Mutex, RWMutex, WaitGroup) queue here.
        case semtable = "runtime.semtable"
    }

    public struct Location: Sendable, Equatable {
        public let address: UInt64
        public let source: GoExecutable.Provenance
    }

    public private(set) var locations: [Name: Location] = [:]
    /// Why a global could not be found, for the ones that were not.
    public private(set) var failures: [Name: String] = [:]
    /// The number of entries of waitReasonStrings.
    public private(set) var waitReasonCount: Int?

    public subscript(name: Name) -> UInt64? { locations[name]?.address }

    public func address(of name: Name) throws -> UInt64 {
        guard let location = locations[name] else {
            throw RuntimeGlobalsError.notFound(name.rawValue, reason: failures[name] ?? "not searched")
        }
        return location.address
    }

    mutating func record(_ name: Name, _ address: UInt64, _ source: GoExecutable.Provenance) {
        locations[name] = Location(address: address, source: source)
        failures[name] = nil
    }

    mutating func fail(_ name: Name, _ reason: String) {
        if locations[name] == nil { failures[name] = reason }
    }

    /// One global found the cheapest way: its symbol, else the code analysis with the built-in
    /// layout (no DWARF, no data scans). `gospy ps` needs only allglen, for many binaries.
    public static func locateOne(_ name: Name, in executable: GoExecutable) throws -> UInt64 {
        if let symbol = executable.elf.symbol(named: name.rawValue), symbol.value != 0 { return symbol.value }
        guard let layout = RuntimeLayout.builtin(release: executable.version.release) else {
            throw RuntimeGlobalsError.notFound(name.rawValue, reason: "no built-in layout for Go \(executable.version.release)")
        }
        return try CodeAnalysis(executable: executable, layout: layout).derive(name).0
    }

    /// Finds every global in `executable`. With `useSymbols: false` symbols are ignored, as if
    /// the binary were stripped (tests use this to check the derivations against the symbols).
    /// `code` replaces the executable's image as the source of the functions' machine code
    /// (the fuzz targets feed the derivations damaged code through it).
    /// `names` limits the search (the fuzz target derives only the globals found in code).
    public static func locate(in executable: GoExecutable, layout: RuntimeLayout, useSymbols: Bool = true,
                              code: MemoryReader? = nil, names: [Name] = Name.allCases) -> RuntimeGlobals {
        var globals = RuntimeGlobals()
        if useSymbols {
            for name in Name.allCases {
                if let symbol = executable.elf.symbol(named: name.rawValue), symbol.value != 0 {
                    globals.record(name, symbol.value, .symbol(name.rawValue))
                    if name == .waitReasonStrings, symbol.size > 0 {
                        globals.waitReasonCount = Int(symbol.size / 16)
                    }
                }
            }
        }
        let analysis = CodeAnalysis(executable: executable, layout: layout, code: code)
        for name in names where globals.locations[name] == nil {
            do {
                switch name {
                case .buildVersion:
                    let address = try DataScan.buildVersion(in: executable)
                    globals.record(name, address, .scan("data for a string header of \"\(executable.buildInfo.goVersion)\""))
                case .waitReasonStrings:
                    let (address, count) = try DataScan.waitReasonStrings(in: executable)
                    globals.record(name, address, .scan("data for the string header of \"GC assist marking\""))
                    globals.waitReasonCount = count
                default:
                    let (address, function) = try analysis.derive(name)
                    globals.record(name, address, .code(function))
                }
            } catch {
                globals.fail(name, "\(error)")
            }
        }
        if globals.waitReasonCount == nil, let address = globals[.waitReasonStrings] {
            globals.waitReasonCount = DataScan.countStringHeaders(at: address, in: executable)
        }
        return globals
    }
}

public enum RuntimeGlobalsError: Error, Equatable, CustomStringConvertible {
    case notFound(String, reason: String)
    case functionMissing(String)
    case patternNotFound(global: String, function: String, detail: String)
    case inconsistent(global: String, detail: String)

    public var description: String {
        switch self {
        case let .notFound(name, reason): return "\(name) not found: \(reason)"
        case let .functionMissing(function): return "function \(function) is not in the pclntab"
        case let .patternNotFound(global, function, detail): return "\(global): no match in \(function) (\(detail))"
        case let .inconsistent(global, detail): return "\(global): \(detail)"
        }
    }
}
