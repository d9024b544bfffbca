// jpeglib.h needs FILE and size_t declared before it is included.
#include <stdio.h>
#include <stddef.h>
#include <jpeglib.h>

/// libjpeg-turbo's version as a number (2.1.5 -> 2001005); 0 for another libjpeg.
static inline int taggan_libjpeg_turbo_version(void) {
#ifdef LIBJPEG_TURBO_VERSION_NUMBER
    return LIBJPEG_TURBO_VERSION_NUMBER;
#else
    return 0;
#endif
}
