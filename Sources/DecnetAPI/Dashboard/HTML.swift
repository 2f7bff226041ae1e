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
        ("/overview", "Overview"), ("/deckies", "Deckies"), ("/attackers", "Attackers"), ("/identities", "Identities"),
        ("/campaigns", "Campaigns"), ("/bounty", "Bounty"), ("/canary", "Canary"), ("/webhooks", "Webhooks"),
        ("/swarm", "Swarm"), ("/topology", "Topologies"), ("/logs", "Logs"),
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
    /// The collapsed path as a movement graph: one node per step in time order, six to a row (a scan of fifty
    /// deckies is one node, so fifty deckies draw as legibly as five). At most the last 36 steps are drawn.
    static func svg(steps allSteps: [TraversalStep]) -> String {
        guard !allSteps.isEmpty else { return "<p class=\"muted\">No decky touched.</p>" }
        let steps = Array(allSteps.suffix(36))
        let skipped = allSteps.count - steps.count
        let perRow = 6
        let spacingX = 175
        let spacingY = 120
        let rows = (steps.count + perRow - 1) / perRow
        let width = min(steps.count, perRow) * spacingX
        let height = rows * spacingY + 20
        // A snake: left to right, then right to left, so each arrow is short.
        func point(_ index: Int) -> (x: Int, y: Int) {
            let row = index / perRow
            let column = row % 2 == 0 ? index % perRow : perRow - 1 - index % perRow
            return (column * spacingX + spacingX / 2, row * spacingY + 50)
        }
        var out = """
            <svg id="traversal" class="traversal" viewBox="0 0 \(width) \(height)" width="\(width)" height="\(height)" \
            role="img" aria-label="movement between deckies, collapsed">
            <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" \
            orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#e5534b"/></marker></defs>
            """
        for index in steps.indices.dropLast() {
            let (from, to) = (point(index), point(index + 1))
            let dx = to.x - from.x
            let dy = to.y - from.y
            let length = max(1.0, Double(dx * dx + dy * dy).squareRoot())
            let trim = 30.0
            let x1 = Double(from.x) + Double(dx) * trim / length
            let y1 = Double(from.y) + Double(dy) * trim / length
            let x2 = Double(to.x) - Double(dx) * trim / length
            let y2 = Double(to.y) - Double(dy) * trim / length
            out +=
                "<line class=\"hop\" x1=\"\(Int(x1))\" y1=\"\(Int(y1))\" x2=\"\(Int(x2))\" y2=\"\(Int(y2))\" "
                + "stroke=\"#e5534b\" stroke-width=\"2\" marker-end=\"url(#arrow)\"/>"
        }
        for (index, step) in steps.enumerated() {
            let (x, y) = point(index)
            let number = index + 1 + skipped
            let title = HTML.escape(step.label)
            switch step.kind {
            case .scan:
                out +=
                    "<g class=\"node scan\"><title>\(title)</title><rect x=\"\(x - 34)\" y=\"\(y - 22)\" width=\"68\" "
                    + "height=\"44\" rx=\"10\" fill=\"#d29922\"/><text x=\"\(x)\" y=\"\(y + 5)\" text-anchor=\"middle\" "
                    + "fill=\"#0d1117\">scan ×\(step.deckies.count)</text>"
            case .visit, .repeated:
                let dashed =
                    step.kind == .repeated ? " stroke=\"#e6edf3\" stroke-dasharray=\"4 3\" stroke-width=\"2\"" : ""
                out +=
                    "<g class=\"node \(step.kind.rawValue)\"><title>\(title)</title><circle cx=\"\(x)\" cy=\"\(y)\" r=\"22\" "
                    + "fill=\"\(number == 1 ? "#e5534b" : "#2f81f7")\"\(dashed)/>"
            }
            let caption =
                step.kind == .scan ? (step.tool ?? step.scanTypes?.first ?? "") : step.deckies.joined(separator: " ⇄ ")
            out +=
                "<text x=\"\(x)\" y=\"\(y + 40)\" text-anchor=\"middle\">\(number). \(HTML.escape(String(caption.prefix(24))))</text></g>"
        }
        return out + "</svg>"
    }
}
