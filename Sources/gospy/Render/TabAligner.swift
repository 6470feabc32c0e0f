/// Go's text/tabwriter as runtime/pprof configures it for its text profiles
/// (`tabwriter.NewWriter(w, 1, 8, 1, '\t', 0)`): tab-terminated cells of consecutive lines
/// form column blocks, each column as wide as its widest cell plus one, rounded up to a tab
/// stop, and padded with tabs. A line without a tab ends every block.
enum TabAligner {
    private static let minWidth = 1
    private static let tabWidth = 8
    private static let padding = 1

    private struct Cell {
        let text: Substring
        /// In runes, as utf8.RuneCount counts them.
        let width: Int
    }

    static func align(_ text: String) -> String {
        // Lines end at '\n' or '\f', cells at '\t' or '\v' (tabwriter's terminators).
        var lines: [[Cell]] = []
        var open = false
        var line: [Cell] = []
        var cellStart = text.startIndex
        var index = text.startIndex
        var width = 0
        for scalar in text.unicodeScalars {
            let next = text.unicodeScalars.index(after: index)
            switch scalar {
            case "\t", "\u{0B}", "\n", "\u{0C}":
                line.append(Cell(text: text[cellStart..<index], width: width))
                width = 0
                cellStart = next
                if scalar == "\n" || scalar == "\u{0C}" {
                    lines.append(line)
                    line = []
                    open = false
                } else {
                    open = true
                }
            default:
                width += 1
                open = true
            }
            index = next
        }
        var out = ""
        out.reserveCapacity(text.utf8.count + text.utf8.count / 8)
        var widths: [Int] = []
        format(lines, 0, lines.count, widths: &widths, into: &out)
        // The unterminated last line is written as it is.
        if open || cellStart < text.endIndex {
            for cell in line { out += cell.text; out += "\t" }
            out += text[cellStart...]
        }
        return out
    }

    /// tabwriter's format: finds the column blocks of column widths.count, recursively.
    private static func format(_ lines: [[Cell]], _ first: Int, _ end: Int, widths: inout [Int], into out: inout String) {
        var line0 = first
        let column = widths.count
        var this = first
        while this < end {
            guard column < lines[this].count - 1 else {
                this += 1
                continue
            }
            writeLines(lines, line0, this, widths: widths, into: &out)
            line0 = this
            var width = minWidth
            while this < end, column < lines[this].count - 1 {
                width = max(width, lines[this][column].width + padding)
                this += 1
            }
            widths.append(width)
            format(lines, line0, this, widths: &widths, into: &out)
            widths.removeLast()
            line0 = this
        }
        writeLines(lines, line0, end, widths: widths, into: &out)
    }

    private static func writeLines(_ lines: [[Cell]], _ first: Int, _ end: Int, widths: [Int], into out: inout String) {
        guard first < end else { return }
        for line in lines[first..<end] {
            for (column, cell) in line.enumerated() {
                out += cell.text
                if column < widths.count {
                    // Padding with tabs: the cell rounded up to a tab stop.
                    let cellWidth = (widths[column] + tabWidth - 1) / tabWidth * tabWidth
                    let tabs = (cellWidth - cell.width + tabWidth - 1) / tabWidth
                    out += String(repeating: "\t", count: tabs)
                }
            }
            out += "\n"
        }
    }
}
