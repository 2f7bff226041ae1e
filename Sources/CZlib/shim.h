// Debian's zlib1g-dev: zlib@openssh.com compression (a deflate stream per direction, flushed per packet).
#include <zlib.h>

// deflateInit and inflateInit are macros; these are callable from Swift.
static inline int decnet_deflate_init(z_stream *stream) { return deflateInit(stream, Z_DEFAULT_COMPRESSION); }
static inline int decnet_inflate_init(z_stream *stream) { return inflateInit(stream); }
