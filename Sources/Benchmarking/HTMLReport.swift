import Foundation

/// A self-contained HTML page (inline CSS and SVG; no script, no network) made of sections:
/// headings, key–value tables, data tables and charts.
public struct HTMLReport {
    public enum Block {
        case paragraph(String)
        case table(header: [String], rows: [[String]])
        case chart(svg: String)
    }

    public var title: String
    public var subtitle: String
    public private(set) var sections: [(heading: String, blocks: [Block])] = []

    public init(title: String, subtitle: String = "") {
        self.title = title
        self.subtitle = subtitle
    }

    public mutating func add(_ heading: String, _ blocks: [Block]) { sections.append((heading, blocks)) }

    public func render() -> String {
        var html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>
        body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}
        table{border-collapse:collapse;margin:0.5em 0 1.5em}
        td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
        th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
        svg{display:block;margin:0.5em 0 1.5em;border:1px solid #eee}
        .sub{color:#666}
        </style></head><body>
        <h1>\(escape(title))</h1>
        """
        if !subtitle.isEmpty { html += "<p class=\"sub\">\(escape(subtitle))</p>\n" }
        for section in sections {
            html += "<h2>\(escape(section.heading))</h2>\n"
            for block in section.blocks {
                switch block {
                case .paragraph(let text): html += "<p>\(escape(text))</p>\n"
                case .table(let header, let rows):
                    html += "<table><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
                    for row in rows { html += "<tr>" + row.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n" }
                    html += "</table>\n"
                case .chart(let svg): html += svg + "\n"
                }
            }
        }
        return html + "</body></html>\n"
    }
}
