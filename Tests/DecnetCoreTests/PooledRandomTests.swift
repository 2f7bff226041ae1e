import Foundation
import Synchronization
import Testing

@testable import DecnetCore

/// The pooled generator: kernel randomness handed out word by word, across refills and threads.
@Suite struct PooledRandomTests {
    @Test func bytesComeInTheCountAskedFor() {
        for count in [0, 1, 7, 8, 9, 16, 20, 4_100] {
            #expect(PooledRandom.bytes(count).count == count)
        }
    }

    @Test func wordsAcrossSeveralRefillsAreAllDifferentAndUseEveryBit() {
        // Five pools' worth: every refill must bring fresh words (a pool handed out twice, or a zeroed word
        // handed out, would repeat).
        var generator = PooledRandom()
        let words = (0..<(RandomPool.capacity * 5)).map { _ in generator.next() }
        #expect(Set(words).count == words.count)
        var ones = 0
        for word in words { ones += word.nonzeroBitCount }
        // 163,840 bits: the share of ones is 0.5 within far less than a percent.
        let share = Double(ones) / Double(words.count * 64)
        #expect(abs(share - 0.5) < 0.01, "share of one bits \(share)")
    }

    @Test func threadsDrawingAtOnceNeverGetTheSameWord() async {
        let seen = Mutex<[UInt64]>([])
        await withTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var generator = PooledRandom()
                    return (0..<1_000).map { _ in generator.next() }
                }
            }
            for await words in group { seen.withLock { $0 += words } }
        }
        let words = seen.withLock { $0 }
        #expect(words.count == 8_000 && Set(words).count == 8_000)
    }

    @Test func eventIDsStayVersion7WithFreshRandomBits() {
        let ids = (0..<2_000).map { _ in UUID.timeOrdered() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(50) {
            #expect(id.uuid.6 >> 4 == 7 && id.uuid.8 >> 6 == 0b10)
        }
    }
}
