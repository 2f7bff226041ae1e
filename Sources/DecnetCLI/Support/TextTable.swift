/// A plain-text table with a header row and columns padded to their widest cell, for terminal output.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []

    init(_ header: String...) { self.header = header }

    mutating func add(_ cells: String...) { self.rows.append(cells) }
    mutating func add(_ cells: [String]) { self.rows.append(cells) }

    func render() -> String {
        var widths = self.header.map(\.count)
        for row in self.rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index] + 2)
            }.joined()
        }
        let rule = widths.map { String(repeating: "-", count: $0) }
        return ([line(self.header), line(rule)] + self.rows.map(line)).joined(separator: "\n")
    }
}

extension String {
    fileprivate func padding(toLength length: Int) -> String {
        self.count >= length ? self : self + String(repeating: " ", count: length - self.count)
    }
}
