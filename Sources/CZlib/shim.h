#ifndef GOSPY_CZLIB_SHIM_H
#define GOSPY_CZLIB_SHIM_H

#include <zlib.h>

// deflateInit2/inflateInit2 are macros (they pass the zlib version and sizeof(z_stream)),
// which Swift cannot call. windowBits 15 + 16 asks zlib for a gzip (RFC 1952) wrapper.
static inline int gospy_deflate_init_gzip(z_streamp stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

static inline int gospy_inflate_init_gzip(z_streamp stream) {
    return inflateInit2(stream, 15 + 16);
}

#endif
