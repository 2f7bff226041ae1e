import DecnetServiceKit
import Foundation
import Testing

/// `PosixDate.imfFixdate` (the HTTP `Date` header, written without a `DateFormatter`) against Foundation's
/// formatter for the same format, over dates that cross every field's edges.
@Suite struct PosixDateTests {
    @Test func imfFixdateMatchesTheFormatter() {
        let reference = DateFormatter()
        reference.locale = Locale(identifier: "en_US_POSIX")
        reference.timeZone = TimeZone(identifier: "GMT")
        reference.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var dates = [0, 784_111_777, 951_782_400, 1_798_761_599, 1_798_761_600, 4_102_444_800].map {
            Date(timeIntervalSince1970: TimeInterval($0))
        }
        var generator = SystemRandomNumberGenerator()
        // Whole seconds: ICU rounds a fraction to the nearest millisecond first (…31.99997 prints :32); a server's
        // clock header, like nginx's, shows the second it is in.
        for _ in 0..<500 {
            dates.append(
                Date(timeIntervalSince1970: TimeInterval(Int.random(in: 0..<4_102_444_800, using: &generator)))
            )
        }
        #expect(
            PosixDate.imfFixdate(Date(timeIntervalSince1970: 1_520_385_631.9999)) == "Wed, 07 Mar 2018 01:20:31 GMT"
        )
        for date in dates {
            #expect(PosixDate.imfFixdate(date) == reference.string(from: date), "\(date.timeIntervalSince1970)")
        }
        #expect(PosixDate.imfFixdate(Date(timeIntervalSince1970: 784_111_777)) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test func cachedFormattersAnswerFromManyThreadsAtOnce() async {
        let date = Date(timeIntervalSince1970: 784_111_777)
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    (0..<200).allSatisfy { _ in
                        PosixDate.string(date, format: "dd/MMM/yyyy:HH:mm:ss Z", timeZone: "UTC")
                            == "06/Nov/1994:08:49:37 +0000"
                    }
                }
            }
            for await result in group { #expect(result) }
        }
    }
}
