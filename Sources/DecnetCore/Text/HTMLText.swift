/// Text put into HTML: the five characters that could open markup or end an attribute, as entities (the forms
/// PHP's htmlspecialchars writes, which the http honeypot's pages imitate). The honeypot's pages and the
/// dashboard both write attacker text through it.
public enum HTMLText {
    public static func escape(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "&": output += "&amp;"
            case "\"": output += "&quot;"
            case "'": output += "&#039;"
            default: output.append(character)
            }
        }
        return output
    }
}
