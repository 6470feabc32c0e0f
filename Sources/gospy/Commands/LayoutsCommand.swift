import ArgumentParser

// Placeholder: replaced by the DWARF layout work.
struct LayoutsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "layouts", abstract: "Show runtime struct layouts.")
}
