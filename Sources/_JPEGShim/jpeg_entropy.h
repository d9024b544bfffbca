#ifndef TAGGAN_JPEG_ENTROPY_H
#define TAGGAN_JPEG_ENTROPY_H

#include <stdio.h>
#include <stddef.h>
#include <jpeglib.h>

/// Puts taggan's Huffman decoder in place of libjpeg's for the scan `cinfo` is about to
/// decode (call right after jpeg_start_decompress). Returns 1 when it did, 0 when the file
/// is not one it takes (progressive, arithmetic-coded, 12-bit, several scans) and
/// libjpeg's decoder stays.
int taggan_jpeg_fast_entropy(j_decompress_ptr cinfo);

#endif
