/// Just enough SVG to draw a chart by hand: one element per call, attributes in the given order.
enum SVG {
    static func element(_ name: String, _ attributes: KeyValuePairs<String, any CustomStringConvertible>) -> String {
        "<\(name)\(render(attributes))/>"
    }

    static func text(_ content: String, _ attributes: KeyValuePairs<String, any CustomStringConvertible>) -> String {
        "<text\(render(attributes))>\(escape(content))</text>"
    }

    static func escape(_ text: String) -> String {
        text.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;")
    }

    private static func render(_ attributes: KeyValuePairs<String, any CustomStringConvertible>) -> String {
        attributes.map { " \($0.key)=\"\(escape($0.value.description))\"" }.joined()
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, _ replacement: String) -> String {
        var result = ""
        for character in self {
            if character == target { result += replacement } else { result.append(character) }
        }
        return result
    }
}
