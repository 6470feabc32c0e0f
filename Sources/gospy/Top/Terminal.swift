#if canImport(Glibc)
import Glibc
#endif
import GospyProcess

/// The controlling terminal in full-screen mode: alternate screen, hidden cursor, keys read
/// one at a time without echo. Restored on every exit path: `restore()` is idempotent and is
/// also registered to run when gospy is interrupted or terminated.
final class Terminal: @unchecked Sendable {
    private var original = termios()
    private var active = false
    let input = STDIN_FILENO
    let output = STDOUT_FILENO

    func enter() {
        guard !active else { return }
        if tcgetattr(input, &original) == 0 {
            var raw = original
            // No line buffering or echo; Ctrl-C still raises SIGINT, which gospy handles.
            raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
            raw.c_cc.6 = 0   // VMIN
            raw.c_cc.5 = 0   // VTIME
            tcsetattr(input, TCSANOW, &raw)
        }
        active = true
        Output.write("\u{1b}[?1049h\u{1b}[?25l\u{1b}[H\u{1b}[2J", to: output)
        EmergencyResume.addCleanup { [weak self] in self?.restore() }
    }

    func restore() {
        guard active else { return }
        active = false
        Output.write("\u{1b}[?25h\u{1b}[?1049l", to: output)
        tcsetattr(input, TCSANOW, &original)
    }

    /// (rows, columns), with a sane default when the size is unknown.
    func size() -> (rows: Int, columns: Int) {
        var window = winsize()
        if ioctl(output, UInt(TIOCGWINSZ), &window) == 0, window.ws_row > 0, window.ws_col > 0 {
            return (Int(window.ws_row), Int(window.ws_col))
        }
        return (24, 80)
    }

    /// Bytes typed within `milliseconds` (empty on timeout).
    func readKeys(timeout milliseconds: Int32) -> [UInt8] {
        var poller = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, milliseconds) > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(input, &buffer, buffer.count)
        return count > 0 ? Array(buffer.prefix(count)) : []
    }

    /// Replaces the screen with `lines` (each cut to the width), in one write.
    func draw(_ lines: [String]) {
        let (rows, columns) = size()
        var frame = "\u{1b}[H"
        for line in lines.prefix(rows) {
            frame += Self.clip(line, columns) + "\u{1b}[K\r\n"
        }
        frame += "\u{1b}[J"
        if frame.hasSuffix("\r\n\u{1b}[J") { frame.removeLast("\r\n\u{1b}[J".count); frame += "\u{1b}[J" }
        Output.write(frame, to: output)
    }

    /// Cuts to `width` visible characters, keeping ANSI escapes intact.
    static func clip(_ line: String, _ width: Int) -> String {
        var visible = 0
        var out = ""
        var escape = false
        for character in line {
            if character == "\u{1b}" { escape = true }
            if escape {
                out.append(character)
                if character.isLetter { escape = false }
                continue
            }
            guard visible < width else { continue }
            out.append(character)
            visible += 1
        }
        return out + "\u{1b}[0m"
    }
}
