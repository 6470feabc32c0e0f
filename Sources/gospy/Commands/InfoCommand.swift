import ArgumentParser
import GospyRuntime

/// `gospy info`: what gospy finds in a Go executable, and how it found each piece.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a Go executable: version, build mode, pclntab, runtime globals, struct layouts.")

    @OptionGroup var executable: ExecutableOption

    @OptionGroup var format: JSONReportOption

    func run() throws {
        let report = try InfoReport(path: executable.bin)
        Output.write(format.json ? try report.json() : report.text())
    }
}
