import Testing
@testable import gospy

/// The pieces of debug=1 text that are Go's library code rather than the runtime's: fmt's %q
/// (strconv.Quote) for labels and text/tabwriter's alignment. Expected texts are what Go 1.27
/// printed for the same inputs (`fmt.Printf("%q")`, `tabwriter.NewWriter(w, 1, 8, 1, '\t', 0)`);
/// ServePprofTests compares whole debug=1 bodies with live runtimes.
@Suite struct GroupedTextTests {
    @Test func quotesAsStrconvQuote() {
        let cases: [(String, String)] = [
            ("plain", #""plain""#),
            ("a b", #""a b""#),
            ("quo\"te\\", #""quo\"te\\""#),
            ("tab\there\nnl", #""tab\there\nnl""#),
            ("\u{0}\u{7}\u{7f}", #""\x00\a\x7f""#),
            ("é ü 日本", "\"é ü 日本\""),
            ("\u{ad}\u{2028}", #""\u00ad\u2028""#),
            ("😀", "\"😀\""),
            ("zero\u{200b}width", #""zero\u200bwidth""#),
        ]
        for (input, expected) in cases {
            #expect(GoQuote.quote(input) == expected, "\(input.debugDescription)")
        }
    }

    @Test func alignsAsTabwriter() {
        let input = """
        goroutine profile: total 3
        2 @ 0x1 0x2
        #\t0x43a8e5\truntime.gopark+0xe5\t/src/runtime/proc.go:398
        #\t0x4a\tmain.f+0x1\t/m.go:1
        #\t0x4b

        1 @ 0x3
        # labels: {"k":"v"}
        #\t0x1234567890\tmain.averyveryveryverylongfunctionname+0x10\t/m.go:2
        #\t0x1\té+0x1\t/m.go:3


        """
        let expected = """
        goroutine profile: total 3
        2 @ 0x1 0x2
        #\t0x43a8e5\truntime.gopark+0xe5\t/src/runtime/proc.go:398
        #\t0x4a\t\tmain.f+0x1\t\t/m.go:1
        #\t0x4b

        1 @ 0x3
        # labels: {"k":"v"}
        #\t0x1234567890\tmain.averyveryveryverylongfunctionname+0x10\t/m.go:2
        #\t0x1\t\té+0x1\t\t\t\t\t\t/m.go:3


        """
        #expect(TabAligner.align(input) == expected)
    }
}
