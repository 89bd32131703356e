/// A human-readable table with aligned columns: text left-aligned, numbers right-aligned.
struct TextTable {
    enum Alignment { case left, right }

    struct Column {
        var title: String
        var alignment: Alignment

        init(_ title: String, _ alignment: Alignment = .left) {
            self.title = title
            self.alignment = alignment
        }
    }

    let columns: [Column]
    private(set) var rows: [[String]] = []

    init(_ columns: [Column]) { self.columns = columns }

    /// Appends a row; missing cells are blank, extra cells are dropped.
    mutating func add(_ cells: [String]) {
        rows.append((0..<columns.count).map { $0 < cells.count ? cells[$0] : "" })
    }

    /// Columns are padded to their widest cell, but to at most this many characters: a longer cell
    /// is printed whole and shifts the rest of its row, so the output stays linear in the input
    /// (one 100 KB node name does not pad every other row to 100 KB).
    static let maxPaddedWidth = 60

    /// The table as lines: header, a rule, the rows; two spaces between columns, no trailing spaces.
    func render() -> String {
        let all = [columns.map(\.title)] + rows
        let widths = columns.indices.map { c in min(all.map { $0[c].count }.max() ?? 0, Self.maxPaddedWidth) }
        func line(_ cells: [String]) -> String {
            var out = ""
            for (c, cell) in cells.enumerated() {
                if c > 0 { out += "  " }
                let fill = String(repeating: " ", count: max(0, widths[c] - cell.count))
                out += columns[c].alignment == .left ? cell + fill : fill + cell
            }
            while out.last == " " { out.removeLast() }
            return out
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(columns.map(\.title)), rule] + rows.map(line)).joined(separator: "\n") + "\n"
    }
}
