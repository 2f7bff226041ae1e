// libsodium (Debian's libsodium-dev): the original ChaCha20 with a 64-bit nonce and counter, and Poly1305 on
// its own, which OpenSSH's chacha20-poly1305@openssh.com is built from and swift-crypto does not expose.
#include <sodium.h>
