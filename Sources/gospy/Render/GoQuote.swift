/// Go's strconv.Quote (fmt's `%q` of a string), as runtime/pprof prints label keys and values:
/// printable runes as they are (unicode.IsPrint: letters, marks, numbers, punctuation, symbols
/// and the ASCII space), \a \b \f \n \r \t \v \\ \" escaped, other controls as \xNN, other
/// runes as \uNNNN or \UNNNNNNNN, an undecodable byte as \xNN.
enum GoQuote {
    static func quote(_ text: String) -> String {
        var out = "\""
        for rune in GoRunes(Array(text.utf8)) {
            if let invalid = rune.invalidByte {
                out += "\\x" + hex(UInt32(invalid), digits: 2)
                continue
            }
            out += escaped(rune.value)
        }
        return out + "\""
    }

    private static func escaped(_ value: UInt32) -> String {
        switch value {
        case 0x22: return "\\\""
        case 0x5c: return "\\\\"
        default: break
        }
        if let scalar = Unicode.Scalar(value), isPrint(scalar) { return String(Character(scalar)) }
        switch value {
        case 0x07: return "\\a"
        case 0x08: return "\\b"
        case 0x0c: return "\\f"
        case 0x0a: return "\\n"
        case 0x0d: return "\\r"
        case 0x09: return "\\t"
        case 0x0b: return "\\v"
        case 0..<0x20, 0x7f: return "\\x" + hex(value, digits: 2)
        case 0..<0x1_0000: return "\\u" + hex(value, digits: 4)
        default: return "\\U" + hex(value, digits: 8)
        }
    }

    /// unicode.IsPrint (by this Swift's Unicode tables, which may be newer than Go's).
    private static func isPrint(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 { return scalar.value >= 0x20 && scalar.value < 0x7f }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark,
             .decimalNumber, .letterNumber, .otherNumber,
             .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation,
             .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
