import GospyBinary
import GospyMemory

/// Derives runtime globals from the machine code of runtime functions, for binaries without
/// symbols. The functions are found by name in the pclntab (which stripping keeps); their
/// RIP-relative operands name the globals. Each rule below holds for Go 1.19–1.27 and is
/// checked against the symbols of unstripped builds by the tests.
final class CodeAnalysis {
    let executable: GoExecutable
    let layout: RuntimeLayout
    /// Where the functions' code is read: the executable's image, or (fuzzing) other bytes.
    let code: MemoryReader
    /// Each function's references, decoded once: several globals come from the same function.
    private var decoded: [String: [Reference]] = [:]

    init(executable: GoExecutable, layout: RuntimeLayout, code: MemoryReader? = nil) {
        self.executable = executable
        self.layout = layout
        self.code = code ?? executable.image
    }

    /// One reference to static data made by a function.
    struct Reference: Equatable {
        enum Kind: Equatable { case address, load, store, loadStore, exchange }
        let target: UInt64
        let kind: Kind
        let size: Int?
    }

    func derive(_ name: RuntimeGlobals.Name) throws -> (UInt64, String) {
        let (address, function): (UInt64, String)
        switch name {
        case .allgs:
            function = "runtime.allgadd"
            address = try sliceHeader(in: function, global: name, needsCapacity: true)
        case .allgptr, .allglen:
            // allgadd publishes allgptr, then allglen, with atomic exchanges.
            function = "runtime.allgadd"
            let exchanges = try references(in: function).filter { $0.kind == .exchange && $0.size == 8 }.map(\.target)
            guard exchanges.count >= 2 else {
                throw RuntimeGlobalsError.patternNotFound(global: name.rawValue, function: function, detail: "\(exchanges.count) atomic stores")
            }
            address = name == .allgptr ? exchanges[0] : exchanges[exchanges.count - 1]
        case .allm:
            // mcommoninit: atomicstorep(&allm, mp).
            function = "runtime.mcommoninit"
            let exchanges = Set(try references(in: function).filter { $0.kind == .exchange && $0.size == 8 }.map(\.target))
            guard exchanges.count == 1, let only = exchanges.first else {
                throw RuntimeGlobalsError.patternNotFound(global: name.rawValue, function: function, detail: "\(exchanges.count) atomic pointer stores")
            }
            address = only
        case .allp:
            // retake: for i := 0; i < len(allp); i++ { pp := allp[i] ... }
            function = "runtime.retake"
            address = try sliceHeader(in: function, global: name, needsCapacity: false)
        case .gomaxprocs:
            // procresize: old := gomaxprocs ... atomic.Store(&gomaxprocs, nprocs).
            function = "runtime.procresize"
            let references = try references(in: function)
            let stores = Set(references.filter { $0.kind == .exchange && $0.size == 4 }.map(\.target))
            let firstLoad = references.first { $0.kind == .load && $0.size == 4 }?.target
            guard stores.count == 1, let store = stores.first, store == firstLoad else {
                throw RuntimeGlobalsError.patternNotFound(
                    global: name.rawValue, function: function, detail: "\(stores.count) 32-bit atomic stores")
            }
            address = store
        case .sched:
            address = try schedAddress()
            function = "runtime.mcommoninit and runtime.retake"
        case .memstats:
            // readmemstats_m copies memstats.last_gc_unix, pause_total_ns and numgc.
            function = "runtime.readmemstats_m"
            address = try structBase(in: function, global: name, structName: "runtime.mstats",
                                     anchor: "numgc", others: ["last_gc_unix", "pause_total_ns"])
        case .gcController:
            // readmemstats_m loads gcController.heapInUse, heapFree and heapReleased, and passes
            // &gcController to heapGoalInternal (three adjacent words alone also match the
            // other runs of memstats words it reads).
            function = "runtime.readmemstats_m"
            address = try structBase(in: function, global: name, structName: "runtime.gcControllerState",
                                     anchor: "heapInUse", others: ["heapFree", "heapReleased"], addressTaken: true)
        case .semtable:
            // semroot(addr) is &semtable[addr>>3%251].root, inlined into semacquire1 and
            // semrelease1: the one address both take (each takes others of its own).
            function = "runtime.semacquire1 and runtime.semrelease1"
            let acquire = Set(try references(in: "runtime.semacquire1").filter { $0.kind == .address }.map(\.target))
            let release = Set(try references(in: "runtime.semrelease1").filter { $0.kind == .address }.map(\.target))
            let common = acquire.intersection(release)
            guard common.count == 1, let only = common.first else {
                throw RuntimeGlobalsError.patternNotFound(
                    global: name.rawValue, function: function, detail: "\(common.count) addresses taken by both")
            }
            address = only
        case .buildVersion, .waitReasonStrings:
            throw RuntimeGlobalsError.functionMissing("(found by data scan)")
        }
        try checkInData(address, name)
        return (address, function)
    }

    /// sched: mcommoninit starts with lock(&sched.lock); retake reads sched.npidle and
    /// sched.nmspinning. Both must give the same base.
    private func schedAddress() throws -> UInt64 {
        let lockOffset = try layout.offset("runtime.schedt", "lock")
        let npidle = try layout.offset("runtime.schedt", "npidle")
        let nmspinning = try layout.offset("runtime.schedt", "nmspinning")
        guard let lea = try references(in: "runtime.mcommoninit").first(where: { $0.kind == .address }) else {
            throw RuntimeGlobalsError.patternNotFound(global: "runtime.sched", function: "runtime.mcommoninit", detail: "no LEA")
        }
        let base = lea.target &- UInt64(lockOffset)
        let loads = Set(try references(in: "runtime.retake").filter { $0.kind == .load && $0.size == 4 }.map(\.target))
        guard loads.contains(base &+ UInt64(npidle)), loads.contains(base &+ UInt64(nmspinning)) else {
            throw RuntimeGlobalsError.inconsistent(
                global: "runtime.sched", detail: "retake does not read npidle/nmspinning at 0x\(String(base, radix: 16))")
        }
        return base
    }

    /// The one base B for which `function` reads B+anchor and B+each of `others` (field
    /// offsets of `structName`): a global struct whose fields the function reads directly.
    /// With `addressTaken`, the function must also take B's address (LEA B).
    private func structBase(in function: String, global: RuntimeGlobals.Name, structName: String,
                            anchor: String, others: [String], addressTaken: Bool = false) throws -> UInt64 {
        let anchorOffset = UInt64(try layout.offset(structName, anchor))
        let otherOffsets = try others.map { UInt64(try layout.offset(structName, $0)) }
        let references = try references(in: function)
        let data = Set(references.filter { $0.kind != .address && $0.kind != .exchange }.map(\.target))
        let taken = Set(references.filter { $0.kind == .address }.map(\.target))
        let candidates = Set(data.map { $0 &- anchorOffset }.filter { base in
            otherOffsets.allSatisfy { data.contains(base &+ $0) } && (!addressTaken || taken.contains(base))
        })
        guard candidates.count == 1, let only = candidates.first else {
            throw RuntimeGlobalsError.patternNotFound(
                global: global.rawValue, function: function, detail: "\(candidates.count) bases reading \(([anchor] + others).joined(separator: ", "))")
        }
        return only
    }

    /// The one slice header T that `function` reads as T, T+8 (and T+16 with a capacity).
    private func sliceHeader(in function: String, global: RuntimeGlobals.Name, needsCapacity: Bool) throws -> UInt64 {
        let references = try references(in: function)
        let data = Set(references.filter { $0.kind != .address && $0.kind != .exchange }.map(\.target))
        let words = Set(references.filter { $0.kind != .address && $0.kind != .exchange && $0.size == 8 }.map(\.target))
        let candidates = words.filter { base in
            data.contains(base &+ 8) && (!needsCapacity || data.contains(base &+ 16))
                && !words.contains(base &- 8)  // not the len of another header
        }
        guard candidates.count == 1, let only = candidates.first else {
            throw RuntimeGlobalsError.patternNotFound(
                global: global.rawValue, function: function, detail: "\(candidates.count) slice headers")
        }
        return only
    }

    /// The address must lie in the module's data or bss.
    private func checkInData(_ address: UInt64, _ name: RuntimeGlobals.Name) throws {
        let md = executable.moduleData
        let inRange = [(md.noptrdata, md.enoptrdata), (md.data, md.edata), (md.bss, md.ebss), (md.noptrbss, md.enoptrbss)]
            .contains { address >= $0.0 && address < $0.1 }
        guard inRange else {
            throw RuntimeGlobalsError.inconsistent(
                global: name.rawValue, detail: "0x\(String(address, radix: 16)) is outside the module's data")
        }
    }

    /// The static data references of a function, in code order. An atomic store through a
    /// register just loaded with LEA (`lea T, r; xchg x, (r)`) counts as an exchange at T.
    func references(in functionName: String) throws -> [Reference] {
        if let known = decoded[functionName] { return known }
        let result = try decodeReferences(in: functionName)
        decoded[functionName] = result
        return result
    }

    private func decodeReferences(in functionName: String) throws -> [Reference] {
        let table = executable.pclntab
        guard let function = table.function(named: functionName) else {
            throw RuntimeGlobalsError.functionMissing(functionName)
        }
        guard function.end > function.entry, function.end - function.entry < 1 << 20 else {
            throw RuntimeGlobalsError.patternNotFound(global: "", function: functionName, detail: "implausible size")
        }
        let bytes = try code.fetchBytes(from: function.entry, count: Int(function.end - function.entry))
        let decoded = X86Decoder.decode(bytes, at: function.entry)
        var result: [Reference] = []
        // Register -> (LEA target, instruction index), for recent LEAs only.
        var recentLEA: [UInt8: (UInt64, Int)] = [:]
        for (index, instruction) in decoded.instructions.enumerated() {
            if let target = instruction.ripTarget {
                if instruction.isLEA {
                    result.append(Reference(target: target, kind: .address, size: nil))
                    if let register = instruction.reg { recentLEA[register] = (target, index) }
                    continue
                }
                let kind: Reference.Kind
                switch instruction.memoryAccess {
                case .load?: kind = .load
                case .store?: kind = .store
                case .loadStore?: kind = instruction.isExchange ? .exchange : .loadStore
                default: continue
                }
                result.append(Reference(target: target, kind: kind, size: instruction.memoryOperandSize))
            } else if instruction.isExchange, let memory = instruction.memory, let base = memory.base,
                      memory.index == nil, memory.displacement == 0,
                      let (target, leaIndex) = recentLEA[base], index - leaIndex <= 4 {
                result.append(Reference(target: target, kind: .exchange, size: memory.size))
            }
            if instruction.isCall || instruction.isJump { recentLEA.removeAll() }
        }
        return result
    }
}
