#ifndef TAGGAN_JPEG_SHIM_H
#define TAGGAN_JPEG_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An open JPEG decoder over a memory buffer. libjpeg reports errors by calling the
/// error manager's `error_exit`, which by default calls exit(); here every entry point
/// sets a jump target first, so a corrupt file becomes an error return and a message.
/// Warnings (corrupt entropy data, premature end of file) are treated as errors too:
/// a half-grey picture is worse than a skipped one.
typedef struct taggan_jpeg taggan_jpeg;

/// Colour spaces of the decoded output.
enum { TAGGAN_JPEG_GRAY = 1, TAGGAN_JPEG_RGB = 2, TAGGAN_JPEG_CMYK = 4 };

/// Reads the header of `data` (which must outlive the decoder). Returns NULL and writes
/// the reason into `error` when the data is not a readable JPEG.
taggan_jpeg *taggan_jpeg_open(const unsigned char *data, size_t size,
                              char *error, size_t error_size);

/// Full-size dimensions and the file's component count; `progressive` is 1 for
/// progressive files; `adobe` is 1 when an Adobe APP14 marker was seen (Adobe writes
/// CMYK inverted).
void taggan_jpeg_header(const taggan_jpeg *jpeg, int *width, int *height,
                        int *components, int *progressive, int *adobe);

/// Starts decompression at scale 1/`scale_denominator` (1, 2, 4 or 8: libjpeg's DCT
/// scaling) and reports the output size and colour space (TAGGAN_JPEG_*). Gray stays
/// gray, YCbCr and RGB become RGB, CMYK and YCCK become CMYK (converted by the caller).
/// Returns 0 on success, -1 on error.
int taggan_jpeg_start(taggan_jpeg *jpeg, int scale_denominator,
                      int *out_width, int *out_height, int *out_color_space);

/// Decodes every scanline into `pixels` (rows `stride` bytes apart). 0 or -1.
int taggan_jpeg_read(taggan_jpeg *jpeg, unsigned char *pixels, size_t stride);

/// With `keep` 1, the next taggan_jpeg_start keeps libjpeg's own Huffman decoder instead
/// of taggan's faster one (jpeg_entropy.c), which it otherwise puts in place for
/// single-scan baseline files. The pixels are the same either way; tests and benchmarks
/// compare the two.
void taggan_jpeg_keep_libjpeg_entropy(taggan_jpeg *jpeg, int keep);

/// 1 when taggan's Huffman decoder decodes this file (after taggan_jpeg_start).
int taggan_jpeg_own_entropy(const taggan_jpeg *jpeg);

/// The last error's message.
const char *taggan_jpeg_error(const taggan_jpeg *jpeg);

void taggan_jpeg_close(taggan_jpeg *jpeg);

/// Encodes 8-bit RGB (or gray) pixels as a JPEG with libjpeg: the quality, the luma
/// sampling factors (chroma 1x1), a restart interval in MCUs (0: none), progressive or
/// baseline, optimised or standard Huffman tables. For tests that need JPEGs of every
/// layout. 0 on success, the bytes in *out (free with taggan_jpeg_free); -1 on error.
int taggan_jpeg_encode(const unsigned char *pixels, int width, int height, int gray,
                       int quality, int h_sampling, int v_sampling, int restart_interval,
                       int progressive, int optimize, unsigned char **out, size_t *out_size);
void taggan_jpeg_free(unsigned char *buffer);

#ifdef __cplusplus
}
#endif

#endif
