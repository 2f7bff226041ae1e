import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Dates as protocols print them (HTTP's IMF-fixdate, mail headers, `wget`'s log line): a fixed English
/// format, whatever the machine's locale, in the given zone.
public enum PosixDate {
    /// One formatter per format and zone, made once: building a `DateFormatter` (ICU's SimpleDateFormat and its
    /// symbol tables) cost more than the rest of an HTTP exchange (bench/compare.sh's http workload, perf).
    /// Formatters are not thread-safe; each is used under the lock.
    private static let formatters = Mutex<[String: DateFormatter]>([:])

    public static func string(_ date: Date, format: String, timeZone: String = "UTC") -> String {
        self.formatters.withLock { formatters in
            let key = format + "\u{0}" + timeZone
            if let formatter = formatters[key] { return formatter.string(from: date) }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: timeZone)
            formatter.dateFormat = format
            formatters[key] = formatter
            return formatter.string(from: date)
        }
    }

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// HTTP's IMF-fixdate (RFC 9110 §5.6.7), `Sun, 06 Nov 1994 08:49:37 GMT`, from the C library's calendar.
    public static func imfFixdate(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = Self.days
        let months = Self.months
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let year =
            String(repeating: "0", count: max(0, 4 - String(parts.tm_year + 1900).count))
            + String(parts.tm_year + 1900)
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(year) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
