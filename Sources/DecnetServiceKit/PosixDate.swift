import Foundation

/// Dates as protocols print them (HTTP's IMF-fixdate, mail headers, `wget`'s log line): a fixed English
/// format, whatever the machine's locale, in the given zone.
public enum PosixDate {
    public static func string(_ date: Date, format: String, timeZone: String = "UTC") -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: timeZone)
        formatter.dateFormat = format
        return formatter.string(from: date)
    }
}
