/// ANSI styling, only when writing to a terminal.
struct TerminalStyle {
    let enabled: Bool
    func wrap(_ text: String, _ code: String) -> String { enabled ? "\u{1b}[\(code)m\(text)\u{1b}[0m" : text }
    func bold(_ text: String) -> String { wrap(text, "1") }
    func dim(_ text: String) -> String { wrap(text, "2") }
    func yellow(_ text: String) -> String { wrap(text, "33") }
    func state(_ text: String, status: String) -> String {
        switch status {
        case "running": return wrap(text, "32")
        case "runnable": return wrap(text, "36")
        case "syscall": return wrap(text, "35")
        default: return text
        }
    }
}
