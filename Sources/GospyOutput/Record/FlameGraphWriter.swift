/// An interactive flame graph as one self-contained SVG, in the convention of flamegraph.pl
/// and inferno: the root at the bottom, callees above their callers, siblings sorted by name,
/// widths proportional to samples. Hovering a frame shows its samples and share, clicking one
/// zooms to it, "Search" highlights the frames matching a regular expression and says what
/// share they cover (also `?s=TERM` in the URL). Nothing is fetched from the network.
public enum FlameGraphWriter {
    public struct Options: Sendable {
        public var title: String
        public var subtitle: String
        public var width = 1200
        public init(title: String, subtitle: String) {
            self.title = title
            self.subtitle = subtitle
        }
    }

    final class Node {
        let name: String
        var count: Int64 = 0
        var children: [String: Node] = [:]
        init(name: String) { self.name = name }
    }

    static let frameHeight = 16
    static let top = 60
    static let bottom = 34
    static let margin = 10
    /// Frames narrower than this many pixels are left out (flamegraph.pl's --minwidth).
    static let minimumWidth = 0.1
    /// Deeper frames are left out: a bounded picture even for runaway recursion.
    static let maximumDepth = 1024

    public static func render(_ profile: SampleProfile, options: Options) -> String {
        let root = Node(name: "all")
        for (frames, count) in profile.foldedStacks() {
            root.count += count
            var node = root
            for frame in frames.prefix(maximumDepth) {
                let child = node.children[frame] ?? Node(name: frame)
                node.children[frame] = child
                child.count += count
                node = child
            }
        }
        let total = max(root.count, 1)
        let usable = Double(options.width - 2 * margin)
        var rects: [(name: String, x: Double, width: Double, depth: Int, count: Int64)] = []
        var depthMax = 0
        func place(_ node: Node, x: Double, depth: Int) {
            let width = Double(node.count) / Double(total) * usable
            guard width >= minimumWidth else { return }
            rects.append((node.name, x, width, depth, node.count))
            depthMax = max(depthMax, depth)
            var offset = x
            for name in node.children.keys.sorted() {
                let child = node.children[name]!
                place(child, x: offset, depth: depth + 1)
                offset += Double(child.count) / Double(total) * usable
            }
        }
        place(root, x: Double(margin), depth: 0)

        let height = top + (depthMax + 1) * frameHeight + bottom
        var svg = """
        <?xml version="1.0" standalone="no"?>
        <svg version="1.1" width="\(options.width)" height="\(height)" viewBox="0 0 \(options.width) \(height)" \
        xmlns="http://www.w3.org/2000/svg" data-total="\(root.count)" data-frame-height="\(frameHeight)">
        <style>
        text { font-family: monospace; font-size: 12px; fill: #000; }
        #title { font-size: 17px; } #subtitle { font-size: 12px; fill: #555; }
        .frame:hover rect { stroke: #000; stroke-width: 0.5; } .frame { cursor: pointer; }
        .hide { display: none; } .parent { opacity: 0.5; }
        #search, #unzoom { cursor: pointer; }
        </style>
        <script type="text/ecmascript"><![CDATA[
        \(script)
        ]]></script>
        <rect x="0" y="0" width="100%" height="100%" fill="#f8f8f8"/>
        <text id="title" x="\(options.width / 2)" y="24" text-anchor="middle">\(escape(options.title))</text>
        <text id="subtitle" x="\(options.width / 2)" y="44" text-anchor="middle">\(escape(options.subtitle))</text>
        <text id="unzoom" class="hide" x="\(margin)" y="24">Reset Zoom</text>
        <text id="search" x="\(options.width - margin - 110)" y="24">Search</text>
        <text id="matched" x="\(options.width - margin - 110)" y="\(height - 12)"> </text>
        <text id="details" x="\(margin)" y="\(height - 12)"> </text>
        <g id="frames">

        """
        for rect in rects {
            let y = height - bottom - (rect.depth + 1) * frameHeight
            let share = Double(rect.count) * 100 / Double(total)
            let label = fit(rect.name, width: rect.width)
            let tip = "\(rect.name) (\(rect.count) samples, \(String(format2(share)))%)"
            svg += "<g class=\"frame\" data-name=\"\(escape(rect.name))\" data-samples=\"\(rect.count)\">"
            svg += "<title>\(escape(tip))</title>"
            svg += "<rect x=\"\(format2(rect.x))\" y=\"\(y)\" width=\"\(format2(rect.width))\" height=\"\(frameHeight - 1)\" "
            svg += "fill=\"\(color(rect.name))\" rx=\"2\" ry=\"2\" data-x=\"\(format2(rect.x))\" data-w=\"\(format2(rect.width))\"/>"
            svg += "<text x=\"\(format2(rect.x + 3))\" y=\"\(y + frameHeight - 4)\">\(escape(label))</text></g>\n"
        }
        svg += "</g>\n</svg>\n"
        return svg
    }

    static func format2(_ value: Double) -> String {
        let scaled = (value * 100).rounded() / 100
        return scaled == scaled.rounded() ? String(Int(scaled)) : String(scaled)
    }

    /// As much of the name as fits the frame (about 7 px per character), ".." when cut.
    static func fit(_ name: String, width: Double) -> String {
        let characters = Int((width - 6) / 7.2)
        if characters < 3 { return "" }
        if name.count <= characters { return name }
        return String(name.prefix(characters - 2)) + ".."
    }

    static func escape(_ text: String) -> String { MarkupText.escape(text) }

    /// flamegraph.pl's "hot" palette from a hash of the name (stable across runs); the state,
    /// goroutine and label roots in blues (off-CPU) or reds (on-CPU).
    static func color(_ name: String) -> String {
        var hash: UInt32 = 2166136261
        for byte in name.utf8 { hash = (hash ^ UInt32(byte)) &* 16777619 }
        let v1 = Double(hash & 0xff) / 255, v2 = Double((hash >> 8) & 0xff) / 255, v3 = Double((hash >> 16) & 0xff) / 255
        if name.hasPrefix("[") {
            if name == "[running]" { return "rgb(230,90,60)" }
            return "rgb(\(Int(80 + 60 * v1)),\(Int(150 + 60 * v2)),\(Int(200 + 55 * v3)))"
        }
        return "rgb(\(Int(205 + 50 * v3)),\(Int(230 * v1)),\(Int(55 * v2)))"
    }

    static let script = """
    "use strict";
    var svg, frames, details, matchedText, unzoomButton, searchButton, total, zoomed = null, searching = null;
    function init() {
      svg = document.documentElement; frames = document.getElementById("frames");
      details = document.getElementById("details"); matchedText = document.getElementById("matched");
      unzoomButton = document.getElementById("unzoom"); searchButton = document.getElementById("search");
      total = parseInt(svg.getAttribute("data-total"), 10);
      frames.addEventListener("mouseover", function (e) { var g = frameOf(e.target); if (g) details.textContent = info(g); });
      frames.addEventListener("mouseout", function () { details.textContent = " "; });
      frames.addEventListener("click", function (e) { var g = frameOf(e.target); if (g) zoom(g); });
      unzoomButton.addEventListener("click", unzoom);
      searchButton.addEventListener("click", function () {
        if (searching) { resetSearch(); return; }
        var term = prompt("Search for (regular expression):", "");
        if (term) search(term);
      });
      var query = new URLSearchParams(window.location.search).get("s");
      if (query) search(query);
    }
    function frameOf(node) { while (node && node !== frames) { if (node.classList && node.classList.contains("frame")) return node; node = node.parentNode; } return null; }
    function info(g) { var n = parseInt(g.getAttribute("data-samples"), 10); return g.getAttribute("data-name") + " (" + n + " samples, " + (100 * n / total).toFixed(2) + "%)"; }
    function rectOf(g) { return g.getElementsByTagName("rect")[0]; }
    function place(g, x, w) {
      var r = rectOf(g), t = g.getElementsByTagName("text")[0], name = g.getAttribute("data-name");
      r.setAttribute("x", x); r.setAttribute("width", w); t.setAttribute("x", x + 3);
      var fit = Math.floor((w - 6) / 7.2);
      t.textContent = fit < 3 ? "" : (name.length <= fit ? name : name.substring(0, fit - 2) + "..");
    }
    function zoom(target) {
      var tr = rectOf(target), tx = parseFloat(tr.getAttribute("data-x")), tw = parseFloat(tr.getAttribute("data-w"));
      var ty = parseFloat(tr.getAttribute("y")), width = parseFloat(svg.getAttribute("width")), left = 10;
      var scale = (width - 2 * left) / tw, all = frames.getElementsByClassName("frame");
      for (var i = 0; i < all.length; i++) {
        var g = all[i], r = rectOf(g), x = parseFloat(r.getAttribute("data-x")), w = parseFloat(r.getAttribute("data-w")), y = parseFloat(r.getAttribute("y"));
        g.classList.remove("hide"); g.classList.remove("parent");
        if (y > ty && x <= tx + 0.0001 && x + w >= tx + tw - 0.0001) { g.classList.add("parent"); place(g, left, width - 2 * left); }
        else if (y <= ty && x >= tx - 0.0001 && x + w <= tx + tw + 0.0001) { place(g, left + (x - tx) * scale, w * scale); }
        else { g.classList.add("hide"); }
      }
      zoomed = target; unzoomButton.classList.remove("hide");
      if (searching) search(searching);
    }
    function unzoom() {
      var all = frames.getElementsByClassName("frame");
      for (var i = 0; i < all.length; i++) {
        var g = all[i], r = rectOf(g);
        g.classList.remove("hide"); g.classList.remove("parent");
        place(g, parseFloat(r.getAttribute("data-x")), parseFloat(r.getAttribute("data-w")));
      }
      zoomed = null; unzoomButton.classList.add("hide");
      if (searching) search(searching);
    }
    function resetSearch() {
      var all = frames.getElementsByClassName("frame");
      for (var i = 0; i < all.length; i++) { var r = rectOf(all[i]); if (r.hasAttribute("data-fill")) { r.setAttribute("fill", r.getAttribute("data-fill")); r.removeAttribute("data-fill"); } all[i].classList.remove("match"); }
      searching = null; matchedText.textContent = " "; searchButton.textContent = "Search";
    }
    // Highlights the frames whose names match and says the share of all samples they cover,
    // each sample counted once however many of its frames match (nested matches are not added).
    function search(term) {
      resetSearch();
      var re; try { re = new RegExp(term); } catch (e) { matchedText.textContent = "bad regexp"; return 0; }
      var all = frames.getElementsByClassName("frame"), spans = [];
      for (var i = 0; i < all.length; i++) {
        var g = all[i]; if (!re.test(g.getAttribute("data-name"))) continue;
        var r = rectOf(g); r.setAttribute("data-fill", r.getAttribute("fill")); r.setAttribute("fill", "rgb(230,0,230)"); g.classList.add("match");
        spans.push([parseFloat(r.getAttribute("data-x")), parseFloat(r.getAttribute("data-w")), parseInt(g.getAttribute("data-samples"), 10)]);
      }
      spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
      var covered = 0, end = -1;
      for (var j = 0; j < spans.length; j++) { if (spans[j][0] + spans[j][1] <= end + 0.0001) continue; covered += spans[j][2]; end = spans[j][0] + spans[j][1]; }
      var share = 100 * covered / total;
      searching = term; searchButton.textContent = "Reset Search";
      matchedText.textContent = "Matched: " + share.toFixed(2) + "%";
      return share;
    }
    window.addEventListener("load", init);
    """
}
