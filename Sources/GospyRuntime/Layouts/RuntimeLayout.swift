import GospyBinary

/// The layout of one runtime struct: its size and the offsets of the fields gospy uses.
public struct StructLayout: Sendable, Equatable, Codable {
    /// The Go type name ("runtime.g").
    public let name: String
    /// `unsafe.Sizeof` of the struct, in bytes.
    public let size: Int
    /// Field offsets from the start of the struct, by DWARF member name or dotted path for
    /// members of nested structs ("sched.pc", "stack.lo", "gFree.n").
    public let fields: [String: Int]

    public init(name: String, size: Int, fields: [String: Int]) {
        self.name = name
        self.size = size
        self.fields = fields
    }

    /// The offset of `field`, or nil when this release has no such field.
    public func offset(_ field: String) -> Int? { fields[field] }
}

/// Where a `RuntimeLayout` came from.
public enum LayoutSource: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Read from the DWARF of the binary at this path.
    case dwarf(path: String)
    /// gospy's built-in table for this release (generated from the toolchain's DWARF).
    case builtinTable(release: String)

    public var description: String {
        switch self {
        case let .dwarf(path): return "DWARF of \(path)"
        case let .builtinTable(release): return "built-in table for Go \(release)"
        }
    }
}

/// Why a layout, or a struct or field in it, is not available.
public enum LayoutError: Error, Equatable, Sendable, CustomStringConvertible {
    /// gospy has no built-in table for this release (and the binary has no DWARF).
    case unsupportedRelease(String)
    /// The layout has no such struct.
    case missingStruct(structName: String, release: String, source: LayoutSource)
    /// The struct has no such field in this release.
    case missingField(structName: String, field: String, release: String, source: LayoutSource)
    /// The binary's DWARF could not be read.
    case dwarf(DwarfError)

    public var description: String {
        switch self {
        case let .unsupportedRelease(release):
            let known = RuntimeLayout.builtinReleases.joined(separator: ", ")
            return "no built-in runtime layout for Go \(release) (gospy has tables for \(known))"
        case let .missingStruct(structName, release, source):
            return "Go \(release): no struct \(structName) in the \(source)"
        case let .missingField(structName, field, release, source):
            return "Go \(release): \(structName) has no field \(field) (\(source))"
        case let .dwarf(error):
            return error.description
        }
    }
}

/// The layouts of the Go runtime structs gospy reads (runtime.g, m, p, schedt, moduledata, ...)
/// for one Go release, from the target's DWARF or from gospy's built-in tables.
public struct RuntimeLayout: Sendable, Equatable {
    /// "1.21": the release the layout is for.
    public let release: String
    /// Struct layouts by Go type name ("runtime.g").
    public let structs: [String: StructLayout]
    public let source: LayoutSource

    public init(release: String, structs: [String: StructLayout], source: LayoutSource) {
        self.release = release
        self.structs = structs
        self.source = source
    }

    // MARK: - Access

    /// The layout of `structName`; throws `LayoutError.missingStruct` when absent.
    public func layout(of structName: String) throws(LayoutError) -> StructLayout {
        guard let layout = structs[structName] else {
            throw .missingStruct(structName: structName, release: release, source: source)
        }
        return layout
    }

    /// The size of `structName` in bytes.
    public func size(of structName: String) throws(LayoutError) -> Int {
        try layout(of: structName).size
    }

    /// The offset of `field` (a member name or dotted path) in `structName`; throws a
    /// `LayoutError` naming the struct, the field and the release when either is absent.
    public func offset(_ structName: String, _ field: String) throws(LayoutError) -> Int {
        guard let offset = try layout(of: structName).fields[field] else {
            throw .missingField(structName: structName, field: field, release: release, source: source)
        }
        return offset
    }

    /// The offset of `field` in `structName`, or nil when this release does not have it (for
    /// fields that come and go between releases, such as `runtime.g.syscallbp`).
    public func optionalOffset(_ structName: String, _ field: String) -> Int? {
        structs[structName]?.fields[field]
    }

    /// Whether `structName` has `field` in this release.
    public func has(_ structName: String, _ field: String) -> Bool {
        optionalOffset(structName, field) != nil
    }

    // MARK: - Built-in tables

    /// The releases that have a built-in table, oldest first.
    public static var builtinReleases: [String] {
        BuiltinRelease.all.map(\.release).sorted { lhs, rhs in
            lhs.split(separator: ".").compactMap { Int($0) }.lexicographicallyPrecedes(
                rhs.split(separator: ".").compactMap { Int($0) })
        }
    }

    /// The toolchain version ("go1.21.13") each built-in table was generated from.
    public static var builtinToolchains: [String: String] {
        Dictionary(uniqueKeysWithValues: BuiltinRelease.all.map { ($0.release, $0.toolchain) })
    }

    /// The built-in table for `release` ("1.21"), or nil when gospy has none.
    public static func builtin(release: String) -> RuntimeLayout? {
        guard let builtin = BuiltinRelease.named(release) else { return nil }
        let structs = Dictionary(uniqueKeysWithValues: builtin.structs.map { ($0.name, $0) })
        return RuntimeLayout(release: release, structs: structs, source: .builtinTable(release: release))
    }

    /// The built-in table for the release of `version`.
    public static func builtin(for version: GoVersion) -> RuntimeLayout? {
        builtin(release: version.release)
    }

    // MARK: - DWARF

    /// Reads the structs and fields of `wantedFields` from the DWARF of the binary at `path`.
    /// Structs and fields the binary does not have are left out (they differ by release), but
    /// the core structs (`requiredStructs`) must all be present.
    public static func fromDWARF(path: String, release: String) throws(LayoutError) -> RuntimeLayout {
        let reader: DwarfTypeReader
        do {
            reader = try DwarfTypeReader(path: path)
        } catch {
            throw .dwarf(error)
        }
        return try fromDWARF(reader: reader, release: release)
    }

    /// As `fromDWARF(path:release:)`, with a reader that is already open.
    public static func fromDWARF(reader: DwarfTypeReader, release: String) throws(LayoutError) -> RuntimeLayout {
        let found: [String: DwarfStructType]
        do {
            found = try reader.structTypes(named: wantedFields.keys.sorted(), flattenDepth: flattenDepth)
        } catch {
            throw .dwarf(error)
        }
        let source = LayoutSource.dwarf(path: reader.path)
        for name in requiredStructs where found[name] == nil {
            throw .missingStruct(structName: name, release: release, source: source)
        }
        return RuntimeLayout(release: release, structs: try bounded(found, path: reader.path), source: source)
    }

    /// The largest runtime struct size believed from DWARF: the ones gospy reads are a few KiB
    /// (runtime.mstats, the largest, about 10 KiB); a size or offset beyond is damage, which
    /// would make each g read that many bytes.
    public static let maxStructSize = 1 << 20

    /// The wanted fields of DWARF's structs, each struct's size and every field's offset within
    /// `0...maxStructSize` and the field inside its struct, or the DWARF counts as malformed
    /// (`forExecutable` then falls back to the built-in table).
    static func bounded(_ found: [String: DwarfStructType], path: String) throws(LayoutError) -> [String: StructLayout] {
        var structs: [String: StructLayout] = [:]
        for (name, type) in found {
            guard type.size >= 0, type.size <= maxStructSize else {
                throw .dwarf(.malformedType(path: path, typeName: name, reason: "size \(type.size) bytes (at most \(maxStructSize))"))
            }
            var fields: [String: Int] = [:]
            for field in wantedFields[name] ?? [] {
                guard let member = type.member(field) else { continue }
                guard member.offset >= 0, member.offset <= type.size else {
                    throw .dwarf(.malformedType(path: path, typeName: name,
                                                reason: "\(field) at offset \(member.offset), outside its \(type.size) bytes"))
                }
                fields[field] = member.offset
            }
            structs[name] = StructLayout(name: name, size: type.size, fields: fields)
        }
        return structs
    }

    /// The layout for a binary: from its DWARF when it has some, else the built-in table for
    /// `release`. DWARF that exists but cannot be read is an error, not a reason to fall back.
    public static func forBinary(path: String, release: String) throws(LayoutError) -> RuntimeLayout {
        do {
            return try fromDWARF(path: path, release: release)
        } catch .dwarf(.noDWARF) {
            guard let table = builtin(release: release) else { throw .unsupportedRelease(release) }
            return table
        }
    }

    // MARK: - What to read

    /// How deep dotted paths go ("sched.pc" is 2).
    static let flattenDepth = 2

    /// Structs that every Go binary's DWARF has and gospy cannot work without.
    public static let requiredStructs = ["runtime.g", "runtime.m", "runtime.p", "runtime.schedt", "runtime.moduledata"]

    /// The structs and fields gospy reads, by DWARF type name and member name (dotted paths for
    /// members of nested structs): those of the typed views below, `runtime.schedt.lock` (the
    /// code analysis that finds `runtime.sched`) and the `runtime.hmap` fields of pprof labels.
    /// The union over all supported releases: each release's table holds the ones that release
    /// has. Used by the generator and by `fromDWARF`, so the built-in tables and DWARF always
    /// describe the same fields.
    public static let wantedFields: [String: [String]] = [
        "runtime.g": [
            "stack.lo", "stack.hi", "stackguard0", "_panic", "_defer", "m", "sched.sp", "sched.pc", "sched.g",
            "sched.ctxt", "sched.ret", "sched.lr", "sched.bp", "syscallsp", "syscallpc", "syscallbp", "param",
            "atomicstatus", "goid", "schedlink", "waitsince", "waitreason", "preempt", "lockedm", "parentGoid",
            "gopc", "ancestors", "startpc", "waiting", "labels", "trackingSeq", "timer", "sleepWhen",
            // The synctest bubble a goroutine is in: g.bubble from 1.25, g.syncGroup in 1.24.
            "bubble", "syncGroup",
        ],
        "runtime.m": [
            "g0", "procid", "gsignal", "curg", "p", "id", "spinning", "blocked", "incgo", "ncgo", "alllink",
            "schedlink", "lockedg", "lockedExt", "lockedInt", "vdsoSP", "vdsoPC",
        ],
        "runtime.p": [
            "id", "status", "link", "schedtick", "syscalltick", "m", "runqhead", "runqtail", "runq", "runnext",
            // The P's timer heap (Waits/TimerChannels.swift): []*timer until 1.22, timers.heap
            // ([]timerWhen) from 1.23.
            "timers", "timers.heap",
        ],
        "runtime.schedt": [
            "goidgen", "lastpoll", "lock", "midle", "nmidle", "nmidlelocked", "mnext", "maxmcount", "nmsys",
            "nmfreed", "ngsys", "pidle", "npidle", "nmspinning", "runq.head", "runq.tail", "runq.size",
            "runqsize", "gcwaiting", "stopwait", "sysmonwait",
        ],
        "runtime.moduledata": [
            "pcHeader", "funcnametab", "pclntable", "minpc", "maxpc", "text", "etext", "noptrdata",
            "enoptrdata", "data", "edata", "bss", "ebss", "noptrbss", "enoptrbss", "gofunc", "types", "etypes",
        ],
        "runtime.hmap": ["count", "B", "buckets"],
        // What a traceback header names a synctest bubble by: its id from 1.25, its root
        // goroutine (the caller of synctest.Run) in 1.24 (GOEXPERIMENT=synctest).
        "runtime.synctestBubble": ["id"],
        "runtime.synctestGroup": ["root"],
        // What a goroutine blocked on a channel waits on. Go 1.26 made sudog.elem and sudog.c
        // maybeTraceablePtr{vp, vu} pairs, of which vu is the one always set.
        "runtime.sudog": ["g", "next", "prev", "elem", "elem.vu", "isSelect", "waitlink", "c", "c.vu", "ticket", "parent"],
        // Semaphore, Cond and sleep waits (Waits/SemaphoreWaits.swift, Waits/SleepWaits.swift):
        // semtable's roots, a Cond's notifyList, a sleeping goroutine's timer or sleepWhen (1.23+).
        "runtime.semaRoot": ["treap", "nwait"],
        "runtime.notifyList": ["wait", "notify", "head", "tail"],
        // A timer channel's timer (Waits/TimerChannels.swift): hchan.timer from 1.23 (isChan),
        // or the timer in a P's heap whose f is time.sendTime and arg the channel; before 1.23
        // a modified timer's new time is in nextwhen until its status says it moved.
        // isFake (1.24+): a synctest bubble's timer, whose when counts on the bubble's clock.
        "runtime.timer": ["when", "period", "f", "arg", "isChan", "isFake", "status", "nextwhen"],
        "runtime.timerWhen": ["timer", "when"],
        // A type descriptor's name (tflag's extra-star bit, the name's offset from moduledata.types):
        // runtime._type until 1.20, internal/abi.Type from 1.21.
        "runtime._type": ["tflag", "str"],
        "internal/abi.Type": ["TFlag", "Str"],
        "runtime.hchan": [
            "qcount", "dataqsiz", "closed", "timer", "elemtype",
            "recvq.first", "recvq.last", "sendq.first", "sendq.last",
        ],
        // A goroutine in IO wait: the netpoller's descriptor that names it in rg or wg
        // (fdseq, from 1.21, is the tag of the descriptor's epoll registration).
        "runtime.pollDesc": ["fd", "fdseq", "rg", "wg"],
        // Heap and GC figures (RuntimeStatistics): what runtime.readmemstats_m reads.
        "runtime.mstats": ["heapStats", "last_gc_unix", "pause_total_ns", "numgc", "numforcedgc"],
        "runtime.gcControllerState": [
            "gcPercent", "memoryLimit", "heapMinimum", "gcPercentHeapGoal", "sweepDistMinTrigger", "triggered",
            "heapLive", "heapMarked", "heapInUse", "heapReleased", "heapFree", "totalAlloc", "totalFree",
            "mappedReady",
        ],
        "runtime.consistentHeapStats": ["stats"],
        "runtime.heapStatsDelta": [
            "inHeap", "inStacks", "tinyAllocCount", "largeAlloc", "largeAllocCount", "smallAllocCount", "largeFree",
            "largeFreeCount", "smallFreeCount",
        ],
    ]
}

// MARK: - Strongly typed views

extension RuntimeLayout {
    /// The `runtime.g` fields a goroutine dump needs. Optional fields exist only in some releases.
    public struct GLayout: Sendable, Equatable {
        public let size: Int
        public let stackLo: Int, stackHi: Int, stackguard0: Int
        public let _panic: Int, _defer: Int, m: Int
        public let schedSP: Int, schedPC: Int, schedG: Int, schedCtxt: Int, schedLR: Int, schedBP: Int
        /// `sched.ret`: until 1.24.
        let schedRet: Int?
        public let syscallsp: Int, syscallpc: Int
        /// From 1.23.
        public let syscallbp: Int?
        public let param: Int, atomicstatus: Int, goid: Int, schedlink: Int
        public let waitsince: Int, waitreason: Int, preempt: Int, lockedm: Int
        /// From 1.21.
        public let parentGoid: Int?
        public let gopc: Int, ancestors: Int, startpc: Int, waiting: Int, labels: Int
        /// Incremented by casgstatus at every transition out of _Grunning (1.17+): a g whose
        /// bytes through this field are unchanged has not run in between (modulo 256 runs).
        public let trackingSeq: Int?
        /// The goroutine's synctest bubble (g.bubble, 1.25+; g.syncGroup, 1.24), nil before 1.24.
        public let bubble: Int?
    }

    /// The `runtime.sudog` fields that say which channel a waiting goroutine is queued on.
    public struct SudogLayout: Sendable, Equatable {
        public let size: Int
        public let g: Int, next: Int, prev: Int, isSelect: Int, waitlink: Int
        /// The channel (sudog.c, or c.vu from 1.26).
        public let c: Int
    }

    /// The `runtime.hchan` fields of a channel's state and its two wait queues.
    public struct HchanLayout: Sendable, Equatable {
        public let size: Int
        public let qcount: Int, dataqsiz: Int, closed: Int, elemtype: Int
        /// From 1.23: set for time.Timer/Ticker channels, which present as unbuffered.
        public let timer: Int?
        public let recvqFirst: Int, recvqLast: Int, sendqFirst: Int, sendqLast: Int
    }

    /// The `runtime.pollDesc` fields that name the descriptor and the goroutines parked on it.
    public struct PollDescLayout: Sendable, Equatable {
        public let size: Int
        public let fd: Int, rg: Int, wg: Int
        /// From 1.21: the sequence number the epoll registration's tag carries.
        public let fdseq: Int?
    }

    /// The `runtime.m` fields used to map threads to goroutines.
    public struct MLayout: Sendable, Equatable {
        public let size: Int
        public let g0: Int, procid: Int, gsignal: Int, curg: Int, p: Int, id: Int
        public let spinning: Int, blocked: Int, incgo: Int, ncgo: Int
        public let alllink: Int, schedlink: Int, lockedg: Int, lockedExt: Int, lockedInt: Int
        public let vdsoSP: Int, vdsoPC: Int
    }

    /// The `runtime.p` fields for run queues and P state.
    public struct PLayout: Sendable, Equatable {
        public let size: Int
        public let id: Int, status: Int, link: Int, schedtick: Int, syscalltick: Int, m: Int
        public let runqhead: Int, runqtail: Int, runq: Int, runnext: Int
    }

    /// The `runtime.schedt` (`runtime.sched`) fields for scheduler state.
    public struct SchedtLayout: Sendable, Equatable {
        public let size: Int
        public let goidgen: Int, lastpoll: Int, midle: Int, nmidle: Int, nmidlelocked: Int, mnext: Int
        public let maxmcount: Int, nmsys: Int, nmfreed: Int, ngsys: Int, pidle: Int, npidle: Int
        public let nmspinning: Int, runqHead: Int, runqTail: Int
        /// The global run queue length: `runqsize` (int32) until 1.24, `runq.size` from 1.25.
        public let runqSize: Int
        public let gcwaiting: Int, stopwait: Int, sysmonwait: Int
    }

    public var g: GLayout {
        get throws(LayoutError) {
            let s = "runtime.g"
            return GLayout(
                size: try size(of: s),
                stackLo: try offset(s, "stack.lo"), stackHi: try offset(s, "stack.hi"),
                stackguard0: try offset(s, "stackguard0"),
                _panic: try offset(s, "_panic"), _defer: try offset(s, "_defer"), m: try offset(s, "m"),
                schedSP: try offset(s, "sched.sp"), schedPC: try offset(s, "sched.pc"),
                schedG: try offset(s, "sched.g"), schedCtxt: try offset(s, "sched.ctxt"),
                schedLR: try offset(s, "sched.lr"), schedBP: try offset(s, "sched.bp"),
                schedRet: optionalOffset(s, "sched.ret"),
                syscallsp: try offset(s, "syscallsp"), syscallpc: try offset(s, "syscallpc"),
                syscallbp: optionalOffset(s, "syscallbp"),
                param: try offset(s, "param"), atomicstatus: try offset(s, "atomicstatus"),
                goid: try offset(s, "goid"), schedlink: try offset(s, "schedlink"),
                waitsince: try offset(s, "waitsince"), waitreason: try offset(s, "waitreason"),
                preempt: try offset(s, "preempt"), lockedm: try offset(s, "lockedm"),
                parentGoid: optionalOffset(s, "parentGoid"),
                gopc: try offset(s, "gopc"), ancestors: try offset(s, "ancestors"),
                startpc: try offset(s, "startpc"), waiting: try offset(s, "waiting"),
                labels: try offset(s, "labels"), trackingSeq: optionalOffset(s, "trackingSeq"),
                bubble: optionalOffset(s, "bubble") ?? optionalOffset(s, "syncGroup"))
        }
    }

    public var sudog: SudogLayout {
        get throws(LayoutError) {
            let s = "runtime.sudog"
            let channel: Int
            if let pair = optionalOffset(s, "c.vu") { channel = pair } else { channel = try offset(s, "c") }
            return SudogLayout(
                size: try size(of: s), g: try offset(s, "g"), next: try offset(s, "next"), prev: try offset(s, "prev"),
                isSelect: try offset(s, "isSelect"), waitlink: try offset(s, "waitlink"),
                c: channel)
        }
    }

    public var hchan: HchanLayout {
        get throws(LayoutError) {
            let s = "runtime.hchan"
            return HchanLayout(
                size: try size(of: s), qcount: try offset(s, "qcount"), dataqsiz: try offset(s, "dataqsiz"),
                closed: try offset(s, "closed"), elemtype: try offset(s, "elemtype"), timer: optionalOffset(s, "timer"),
                recvqFirst: try offset(s, "recvq.first"), recvqLast: try offset(s, "recvq.last"),
                sendqFirst: try offset(s, "sendq.first"), sendqLast: try offset(s, "sendq.last"))
        }
    }

    public var pollDesc: PollDescLayout {
        get throws(LayoutError) {
            let s = "runtime.pollDesc"
            return PollDescLayout(size: try size(of: s), fd: try offset(s, "fd"), rg: try offset(s, "rg"),
                                  wg: try offset(s, "wg"), fdseq: optionalOffset(s, "fdseq"))
        }
    }

    public var m: MLayout {
        get throws(LayoutError) {
            let s = "runtime.m"
            return MLayout(
                size: try size(of: s),
                g0: try offset(s, "g0"), procid: try offset(s, "procid"), gsignal: try offset(s, "gsignal"),
                curg: try offset(s, "curg"), p: try offset(s, "p"), id: try offset(s, "id"),
                spinning: try offset(s, "spinning"), blocked: try offset(s, "blocked"),
                incgo: try offset(s, "incgo"), ncgo: try offset(s, "ncgo"),
                alllink: try offset(s, "alllink"), schedlink: try offset(s, "schedlink"),
                lockedg: try offset(s, "lockedg"), lockedExt: try offset(s, "lockedExt"),
                lockedInt: try offset(s, "lockedInt"),
                vdsoSP: try offset(s, "vdsoSP"), vdsoPC: try offset(s, "vdsoPC"))
        }
    }

    public var p: PLayout {
        get throws(LayoutError) {
            let s = "runtime.p"
            return PLayout(
                size: try size(of: s),
                id: try offset(s, "id"), status: try offset(s, "status"), link: try offset(s, "link"),
                schedtick: try offset(s, "schedtick"), syscalltick: try offset(s, "syscalltick"),
                m: try offset(s, "m"), runqhead: try offset(s, "runqhead"), runqtail: try offset(s, "runqtail"),
                runq: try offset(s, "runq"), runnext: try offset(s, "runnext"))
        }
    }

    public var schedt: SchedtLayout {
        get throws(LayoutError) {
            let s = "runtime.schedt"
            let runqSize: Int
            if let size = optionalOffset(s, "runq.size") {
                runqSize = size
            } else {
                runqSize = try offset(s, "runqsize")
            }
            return SchedtLayout(
                size: try size(of: s),
                goidgen: try offset(s, "goidgen"), lastpoll: try offset(s, "lastpoll"),
                midle: try offset(s, "midle"), nmidle: try offset(s, "nmidle"),
                nmidlelocked: try offset(s, "nmidlelocked"), mnext: try offset(s, "mnext"),
                maxmcount: try offset(s, "maxmcount"), nmsys: try offset(s, "nmsys"),
                nmfreed: try offset(s, "nmfreed"), ngsys: try offset(s, "ngsys"), pidle: try offset(s, "pidle"),
                npidle: try offset(s, "npidle"), nmspinning: try offset(s, "nmspinning"),
                runqHead: try offset(s, "runq.head"), runqTail: try offset(s, "runq.tail"),
                runqSize: runqSize,
                gcwaiting: try offset(s, "gcwaiting"), stopwait: try offset(s, "stopwait"),
                sysmonwait: try offset(s, "sysmonwait"))
        }
    }

    /// The `runtime.moduledata` fields used to find and read pclntab (the type is GospyBinary's,
    /// which reads moduledata).
    public var moduledata: ModuleData.Layout {
        get throws(LayoutError) {
            let s = "runtime.moduledata"
            return ModuleData.Layout(
                pcHeader: try offset(s, "pcHeader"), funcnametab: try offset(s, "funcnametab"),
                pclntable: try offset(s, "pclntable"), minpc: try offset(s, "minpc"), maxpc: try offset(s, "maxpc"),
                text: try offset(s, "text"), etext: try offset(s, "etext"),
                noptrdata: try offset(s, "noptrdata"), enoptrdata: try offset(s, "enoptrdata"),
                data: try offset(s, "data"), edata: try offset(s, "edata"),
                bss: try offset(s, "bss"), ebss: try offset(s, "ebss"),
                noptrbss: try offset(s, "noptrbss"), enoptrbss: try offset(s, "enoptrbss"),
                gofunc: try offset(s, "gofunc"))
        }
    }
}
