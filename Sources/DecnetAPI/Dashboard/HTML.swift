import DecnetCore
import DecnetStore
import Foundation

/// Server-rendered pages: every value that may hold attacker text goes through `escape`, and pages carry no
/// inline script or style (the Content-Security-Policy forbids both), so nothing an attacker typed can run here.
enum HTML {
    static func escape(_ text: String) -> String { HTMLText.escape(text) }

    /// A query-string or path component.
    static func component(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
            ?? ""
    }

    static let navigation: [(path: String, title: String)] = [
        ("/overview", "Overview"), ("/deckies", "Deckies"), ("/attackers", "Attackers"), ("/logs", "Logs"),
    ]

    /// The page frame: header with navigation and the user, then `body`.
    static func page(title: String, page: String, identity: Identity?, _ body: String) -> String {
        var nav = ""
        if let identity {
            nav = "<nav>"
            for item in Self.navigation {
                let current = item.path == "/" + page ? " aria-current=\"page\"" : ""
                nav += "<a href=\"\(item.path)\"\(current)>\(item.title)</a>"
            }
            nav +=
                "</nav><div class=\"who\"><span id=\"who\">\(escape(identity.username))</span> "
                + "<span class=\"role\">\(identity.role.rawValue)</span> "
                + "<button type=\"button\" id=\"logout\" class=\"link\">Log out</button></div>"
        }
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · DECNET</title>
            <link rel="stylesheet" href="/static/app.css">
            <script src="/static/app.js" defer></script>
            </head>
            <body data-page="\(page)" data-role="\(identity?.role.rawValue ?? "")">
            <header><a class="brand" href="/overview">DECNET</a>\(nav)</header>
            <main>
            \(body)
            </main>
            </body>
            </html>
            """
    }

    static func table(_ headers: [String], _ rows: [[String]], id: String? = nil, empty: String) -> String {
        var out = "<table\(id.map { " id=\"\($0)\"" } ?? "")><thead><tr>"
        out += headers.map { "<th>\(escape($0))</th>" }.joined()
        out += "</tr></thead><tbody>"
        if rows.isEmpty {
            out += "<tr class=\"empty\"><td colspan=\"\(headers.count)\">\(escape(empty))</td></tr>"
        }
        for row in rows { out += "<tr>" + row.map { "<td>\($0)</td>" }.joined() + "</tr>" }
        return out + "</tbody></table>"
    }

    static func time(_ date: Date) -> String {
        let text = APIDate.text(date)
        return "<time datetime=\"\(text)\">\(text.prefix(19).replacingOccurrences(of: "T", with: " "))</time>"
    }

    static func card(_ label: String, _ value: String, id: String) -> String {
        "<div class=\"card\"><div class=\"value\" id=\"\(id)\">\(escape(value))</div><div class=\"label\">\(escape(label))</div></div>"
    }
}

/// The traversal path drawn: each decky once, in the order first touched, with a numbered arrow per hop.
enum TraversalDrawing {
    static func svg(_ hops: [String]) -> String {
        var order: [String] = []
        for decky in hops where !order.contains(decky) { order.append(decky) }
        guard !order.isEmpty else { return "<p class=\"muted\">No decky touched.</p>" }
        let spacing = 170
        let width = max(1, order.count) * spacing
        let height = 190
        let y = 110
        func x(_ decky: String) -> Int { (order.firstIndex(of: decky) ?? 0) * spacing + spacing / 2 }
        var out = """
            <svg id="traversal" class="traversal" viewBox="0 0 \(width) \(height)" width="\(width)" height="\(height)" \
            role="img" aria-label="traversal path">
            <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" \
            orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#e5534b"/></marker></defs>
            """
        for (index, pair) in zip(hops, hops.dropFirst()).enumerated() where pair.0 != pair.1 {
            let (from, to) = (x(pair.0), x(pair.1))
            let lift = 30 + (index % 4) * 14
            let direction = to > from ? -1 : 1
            let middle = (from + to) / 2
            let control = y + direction * (lift + abs(to - from) / 6)
            out +=
                "<path class=\"hop\" d=\"M\(from),\(y - 22) Q\(middle),\(control - 22) \(to),\(y - 22)\" "
                + "fill=\"none\" stroke=\"#e5534b\" stroke-width=\"2\" marker-end=\"url(#arrow)\"/>"
            out +=
                "<text class=\"hop-number\" x=\"\(middle)\" y=\"\(control - 22 + direction * 6)\" text-anchor=\"middle\">\(index + 1)</text>"
        }
        for decky in order {
            let first = decky == hops.first
            out +=
                "<g class=\"node\"><circle cx=\"\(x(decky))\" cy=\"\(y)\" r=\"22\" fill=\"\(first ? "#e5534b" : "#2f81f7")\"/>"
            out += "<text x=\"\(x(decky))\" y=\"\(y + 45)\" text-anchor=\"middle\">\(HTML.escape(decky))</text></g>"
        }
        return out + "</svg>"
    }
}
