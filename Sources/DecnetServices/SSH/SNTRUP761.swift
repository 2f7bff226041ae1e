import Crypto
import DecnetCore

/// Streamlined NTRU Prime sntrup761 (the NTRU Prime round 3 specification), server side only: a server answers
/// the client's public key with an encapsulation, so only public-key decoding and encapsulation are needed.
/// Written from the specification's algorithms (no Debian 12 package provides sntrup761).
enum SNTRUP761 {
    static let p = 761
    static let q = 4591
    static let w = 286
    static let q12 = (4591 - 1) / 2

    static let publicKeyBytes = 1158
    static let ciphertextBytes = 1039
    static let sharedSecretBytes = 32

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    // MARK: hashing

    /// Hash_prefix(b, input): the first 32 bytes of SHA-512(b ‖ input).
    static func hash(_ prefix: UInt8, _ input: [UInt8]) -> [UInt8] {
        Array(SHA512.hash(data: [prefix] + input).prefix(32))
    }

    // MARK: encoding

    /// The specification's Encode: `values[i]` in `0..<moduli[i]` to bytes.
    static func encode(_ values: [Int], _ moduli: [Int]) -> [UInt8] {
        if moduli.isEmpty { return [] }
        var output: [UInt8] = []
        if moduli.count == 1 {
            var r = values[0]
            var m = moduli[0]
            while m > 1 {
                output.append(UInt8(r & 0xFF))
                r >>= 8
                m = (m + 255) >> 8
            }
            return output
        }
        var values2: [Int] = []
        var moduli2: [Int] = []
        var i = 0
        while i + 1 < moduli.count {
            var m = moduli[i] * moduli[i + 1]
            var r = values[i] + moduli[i] * values[i + 1]
            while m >= 16384 {
                output.append(UInt8(r & 0xFF))
                r >>= 8
                m = (m + 255) >> 8
            }
            values2.append(r)
            moduli2.append(m)
            i += 2
        }
        if moduli.count % 2 == 1 {
            values2.append(values[moduli.count - 1])
            moduli2.append(moduli[moduli.count - 1])
        }
        return output + Self.encode(values2, moduli2)
    }

    /// The specification's Decode, the inverse of `encode`; reads from `bytes[offset...]`.
    static func decode(_ bytes: [UInt8], _ moduli: [Int], offset: Int = 0) -> [Int] {
        if moduli.isEmpty { return [] }
        func byte(_ index: Int) -> Int { index < bytes.count ? Int(bytes[index]) : 0 }
        if moduli.count == 1 {
            if moduli[0] == 1 { return [0] }
            // As many bytes as encode wrote for this modulus, little-endian.
            var count = 0
            var m = moduli[0]
            while m > 1 {
                count += 1
                m = (m + 255) >> 8
            }
            var r = 0
            for k in stride(from: count - 1, through: 0, by: -1) { r = r << 8 | byte(offset + k) }
            return [r % moduli[0]]
        }
        var k = offset
        var bottom: [(r: Int, t: Int)] = []
        var moduli2: [Int] = []
        var i = 0
        while i + 1 < moduli.count {
            var m = moduli[i] * moduli[i + 1]
            var r = 0
            var t = 1
            while m >= 16384 {
                r += byte(k) * t
                t <<= 8
                k += 1
                m = (m + 255) >> 8
            }
            bottom.append((r, t))
            moduli2.append(m)
            i += 2
        }
        if moduli.count % 2 == 1 { moduli2.append(moduli[moduli.count - 1]) }
        let upper = Self.decode(bytes, moduli2, offset: k)
        var values: [Int] = []
        values.reserveCapacity(moduli.count)
        i = 0
        while i + 1 < moduli.count {
            let r = bottom[i / 2].r + bottom[i / 2].t * upper[i / 2]
            values.append(r % moduli[i])
            values.append((r / moduli[i]) % moduli[i + 1])
            i += 2
        }
        if moduli.count % 2 == 1 { values.append(upper[upper.count - 1]) }
        return values
    }

    /// A polynomial of R/q from its 1,158-byte encoding, coefficients in -2295...2295.
    static func decodePublicKey(_ bytes: [UInt8]) throws -> [Int] {
        guard bytes.count == Self.publicKeyBytes else {
            throw Failure(description: "sntrup761 public key of \(bytes.count) bytes")
        }
        return Self.decode(bytes, [Int](repeating: Self.q, count: Self.p)).map { $0 - Self.q12 }
    }

    static func encodeRounded(_ c: [Int]) -> [UInt8] {
        Self.encode(c.map { ($0 + Self.q12) / 3 }, [Int](repeating: (Self.q + 2) / 3, count: Self.p))
    }

    /// Four coefficients in {-1, 0, 1} per byte.
    static func encodeSmall(_ r: [Int]) -> [UInt8] {
        var output: [UInt8] = []
        var i = 0
        while i < Self.p {
            var byte = 0
            for j in 0..<4 where i + j < Self.p { byte |= (r[i + j] + 1) << (2 * j) }
            output.append(UInt8(byte))
            i += 4
        }
        return output
    }

    // MARK: arithmetic

    /// -2295...2295 for any integer.
    static func freeze(_ x: Int) -> Int {
        var r = x % Self.q
        if r > Self.q12 { r -= Self.q }
        if r < -Self.q12 { r += Self.q }
        return r
    }

    /// h·r in Z_q[x]/(x^761 − x − 1), r small.
    static func multiply(_ h: [Int], _ r: [Int]) -> [Int] {
        var product = [Int](repeating: 0, count: 2 * Self.p - 1)
        for j in 0..<Self.p where r[j] != 0 {
            let s = r[j]
            for i in 0..<Self.p { product[i + j] += h[i] * s }
        }
        // x^k = x^(k−761) · (x + 1) for k ≥ 761.
        for k in stride(from: 2 * Self.p - 2, through: Self.p, by: -1) {
            product[k - Self.p + 1] += product[k]
            product[k - Self.p] += product[k]
        }
        return product.prefix(Self.p).map(Self.freeze)
    }

    /// The nearest multiple of 3 (the extremes ±2295 are multiples of 3).
    static func round(_ c: [Int]) -> [Int] {
        c.map { x in
            switch ((x % 3) + 3) % 3 {
            case 1: return x - 1
            case 2: return x + 1
            default: return x
            }
        }
    }

    /// A uniformly random polynomial with exactly 286 coefficients ±1, the rest 0.
    static func randomShort() -> [Int] {
        var generator = PooledRandom()
        var r = [Int](repeating: 0, count: Self.p)
        var positions = Array(0..<Self.p)
        positions.shuffle(using: &generator)
        for position in positions.prefix(Self.w) { r[position] = Bool.random(using: &generator) ? 1 : -1 }
        return r
    }

    // MARK: KEM

    /// Encapsulates to `publicKey`: the 1,039-byte ciphertext and the 32-byte shared secret.
    static func encapsulate(
        to publicKey: [UInt8],
        short r: [Int] = Self.randomShort()
    ) throws -> (ciphertext: [UInt8], secret: [UInt8]) {
        let h = try Self.decodePublicKey(publicKey)
        let rEncoded = Self.encodeSmall(r)
        let c = Self.round(Self.multiply(h, r))
        let cache = Self.hash(4, publicKey)
        let hashedR = Self.hash(3, rEncoded)
        let ciphertext = Self.encodeRounded(c) + Self.hash(2, hashedR + cache)
        return (ciphertext, Self.hash(1, hashedR + ciphertext))
    }
}
