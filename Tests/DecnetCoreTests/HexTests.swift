import DecnetCore
import Foundation
import Testing

@Suite struct HexTests {
    @Test func everyByteIsTwoLowercaseDigits() {
        #expect(Hex.lowercase([UInt8]()) == "")
        #expect(Hex.lowercase([0x00, 0x0F, 0xF0, 0xFF, 0x9A]) == "000ff0ff9a")
        let all = (0...255).map { UInt8($0) }
        #expect(Hex.lowercase(all) == all.map { String(format: "%02x", $0) }.joined())
    }
}
