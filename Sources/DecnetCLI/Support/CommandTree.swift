import ArgumentParser

/// Walks the command tree by name, for what swift-argument-parser leaves open: with `--help` anywhere in the
/// arguments it prints the help of the deepest command it recognised and exits 0, so `decnet nosuchcommand
/// --help` would print the root's help as if the command existed.
enum CommandTree {
    /// The commands below `root`, each with the names that lead to it (`["lab", "exec"]`), depth first.
    static func paths(from root: any ParsableCommand.Type = DecnetCommand.self) -> [[String]] {
        var result: [[String]] = []
        func visit(_ command: any ParsableCommand.Type, path: [String]) {
            for child in command.configuration.subcommands {
                let name = child.configuration.commandName ?? child._commandName
                result.append(path + [name])
                visit(child, path: path + [name])
            }
        }
        visit(root, path: [])
        return result
    }

    /// The first word of `arguments` that stands where a subcommand must and names none, with the command it
    /// was given to (`("nosuchcommand", "decnet")`); nil when every word is a subcommand, an option or an
    /// argument of a command that has no subcommands. Words after `--` are never looked at.
    static func unknownSubcommand(
        in arguments: [String],
        root: any ParsableCommand.Type = DecnetCommand.self
    ) -> (word: String, parent: String)? {
        // argument-parser's own entry points, whose words are values rather than commands: completion scripts
        // (`--generate-completion-script bash`) and the calls those scripts make (`---completion …`).
        if arguments.contains(where: { $0.hasPrefix("---") || $0.hasPrefix("--generate-completion-script") }) {
            return nil
        }
        var command = root
        var path = [root.configuration.commandName ?? root._commandName]
        for word in arguments {
            if word == "--" { return nil }
            if word.hasPrefix("-") { continue }
            let children = command.configuration.subcommands
            guard !children.isEmpty else { return nil }
            guard
                let child = children.first(where: {
                    ($0.configuration.commandName ?? $0._commandName) == word || $0.configuration.aliases.contains(word)
                })
            else {
                // `decnet help lab` is argument-parser's own help command.
                if word == "help" && command == root { return nil }
                return (word, path.joined(separator: " "))
            }
            command = child
            path.append(word)
        }
        return nil
    }
}
