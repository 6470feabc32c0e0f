import GospyBinary
import GospyRuntime

/// Everything `gospy info` prints, gathered once and rendered as text or JSON.
struct InfoReport: JSONOutput {
    struct Global: Encodable {
        let name: String
        let address: String?
        let foundBy: String?
        let error: String?
    }

    let path: String
    let goVersion: String
    let mainPath: String?
    let mainModule: String?
    let positionIndependent: Bool
    let stripped: Bool
    let symbolTable: Bool
    let dwarf: Bool
    let externalLinking: Bool
    let cgo: Bool?
    let trimpath: Bool
    let interpreter: String?
    let goBuildID: String?
    let gnuBuildID: String?
    let pclntabAddress: String
    let pclntabFoundBy: String
    let pclntabFormat: String
    let functions: Int
    let files: Int
    let moduledataAddress: String
    let moduledataFoundBy: String
    let textStart: String
    let textEnd: String
    let layoutsFrom: String
    var globals: [Global]
    let waitReasons: Int?

    init(path: String) throws {
        let executable = try GoExecutable(path: path)
        ReleaseWarning.print(for: executable)
        let build = BuildDescription(executable)
        let layout = try RuntimeLayout.forExecutable(executable)
        let globals = RuntimeGlobals.locate(in: executable, layout: layout)
        func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

        self.path = path
        goVersion = executable.buildInfo.goVersion
        mainPath = executable.buildInfo.mainPath
        mainModule = executable.buildInfo.mainModule
        positionIndependent = build.positionIndependent
        stripped = build.stripped
        symbolTable = build.hasSymbolTable
        dwarf = build.hasDWARF
        externalLinking = build.externallyLinked
        cgo = build.cgoEnabled
        trimpath = build.trimpath
        interpreter = build.interpreter
        goBuildID = executable.elf.goBuildID
        gnuBuildID = executable.elf.gnuBuildID
        pclntabAddress = hex(executable.pclntab.address)
        pclntabFoundBy = executable.pclntabSource.description
        pclntabFormat = executable.pclntab.format == .go120 ? "Go 1.20+" : "Go 1.18–1.19"
        functions = executable.pclntab.functionCount
        files = executable.pclntab.fileCount
        moduledataAddress = hex(executable.moduleData.address)
        moduledataFoundBy = executable.moduleDataSource.description
        textStart = hex(executable.moduleData.text)
        textEnd = hex(executable.moduleData.etext)
        layoutsFrom = layout.source.description
        self.globals = RuntimeGlobals.Name.allCases.map { name in
            if let location = globals.locations[name] {
                return Global(name: name.rawValue, address: hex(location.address), foundBy: location.source.description, error: nil)
            }
            return Global(name: name.rawValue, address: nil, foundBy: nil, error: globals.failures[name] ?? "not found")
        }
        // Go 1.26+: the GODEBUG tracebacklabels setting traceback headers follow.
        switch TracebackLabelsVariable.locate(in: executable) {
        case .notInRelease: break
        case let .found(address, source):
            self.globals.append(Global(name: "runtime.debug.tracebacklabels", address: hex(address), foundBy: source.description, error: nil))
        case let .notFound(reason):
            self.globals.append(Global(name: "runtime.debug.tracebacklabels", address: nil, foundBy: nil, error: reason))
        }
        waitReasons = globals.waitReasonCount
    }


    func text() -> String {
        func yes(_ flag: Bool) -> String { flag ? "yes" : "no" }
        var lines: [String] = []
        lines.append("binary:       \(path)")
        lines.append("go version:   \(goVersion)")
        if let mainPath { lines.append("main package: \(mainPath)") }
        if let mainModule { lines.append("main module:  \(mainModule)") }
        var build = ["PIE \(yes(positionIndependent))", "stripped \(yes(stripped))",
                     ".symtab \(yes(symbolTable))", "DWARF \(yes(dwarf))",
                     "external linking \(yes(externalLinking))"]
        if let cgo { build.append("cgo \(yes(cgo))") }
        build.append("trimpath \(yes(trimpath))")
        lines.append("build:        " + build.joined(separator: ", "))
        if let interpreter { lines.append("interpreter:  \(interpreter)") }
        if let goBuildID { lines.append("go build id:  \(goBuildID)") }
        if let gnuBuildID { lines.append("gnu build id: \(gnuBuildID)") }
        lines.append("pclntab:      \(pclntabAddress) (\(pclntabFoundBy)), \(pclntabFormat) format, \(functions) functions, \(files) files")
        lines.append("moduledata:   \(moduledataAddress) (\(moduledataFoundBy)), text \(textStart)-\(textEnd)")
        lines.append("layouts:      \(layoutsFrom)")
        lines.append("globals:")
        let width = globals.map(\.name.count).max() ?? 0
        for global in globals {
            let name = global.name.padded(to: width)
            if let address = global.address {
                lines.append("  \(name)  \(address.padded(to: 10))  \(global.foundBy ?? "")")
            } else {
                lines.append("  \(name)  not found: \(global.error ?? "")")
            }
        }
        if let waitReasons { lines.append("wait reasons: \(waitReasons)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
