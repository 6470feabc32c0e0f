import ArgumentParser

@main
struct Gospy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gospy",
        abstract: "Inspect the goroutines of a live Go process from outside, without DWARF.",
        subcommands: [
            SummaryCommand.self,
            InfoCommand.self,
            Addr2lineCommand.self,
            LayoutsCommand.self,
        ]
    )
}
