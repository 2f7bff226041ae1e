// Debian's nettle-dev and libgmp-dev: UMAC (RFC 4418), which OpenSSH offers as umac-64/umac-128 and
// swift-crypto does not have, MD4 for NTLM's NT hash and DES for VNC's challenge (swift-crypto has neither),
// and GMP's modular exponentiation for the finite-field Diffie-Hellman groups; RC4 for NTLM's key exchange and
// AES-CMAC and AES-CCM for SMB 3 signing and encryption (swift-crypto has none of them).
#include <nettle/arcfour.h>
#include <nettle/ccm.h>
#include <nettle/cmac.h>
#include <nettle/des.h>
#include <nettle/md4.h>
#include <nettle/umac.h>
#include <gmp.h>
#include <stddef.h>
#include <stdint.h>

// out = base^exponent mod modulus, all big-endian unsigned; `out` has room for `modulus_length` bytes and is
// written left-padded with zeros. Returns 0, or -1 when the modulus is even or zero. Constant time in the
// exponent (mpz_powm_sec).
static inline int decnet_modexp(const uint8_t *base, size_t base_length, const uint8_t *exponent,
                                size_t exponent_length, const uint8_t *modulus, size_t modulus_length,
                                uint8_t *out) {
    mpz_t b, e, m, r;
    mpz_inits(b, e, m, r, NULL);
    mpz_import(b, base_length, 1, 1, 1, 0, base);
    mpz_import(e, exponent_length, 1, 1, 1, 0, exponent);
    mpz_import(m, modulus_length, 1, 1, 1, 0, modulus);
    int status = -1;
    if (mpz_sgn(m) > 0 && mpz_odd_p(m)) {
        mpz_powm_sec(r, b, e, m);
        size_t count = 0;
        size_t size = (mpz_sizeinbase(r, 2) + 7) / 8;
        for (size_t i = 0; i < modulus_length; i++) out[i] = 0;
        if (mpz_sgn(r) != 0 && size <= modulus_length) mpz_export(out + (modulus_length - size), &count, 1, 1, 1, 0, r);
        status = 0;
    }
    mpz_clears(b, e, m, r, NULL);
    return status;
}
