#include "jpeg_shim.h"
#include "jpeg_entropy.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

struct taggan_jpeg {
    struct jpeg_decompress_struct info;
    struct jpeg_error_mgr errors;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX + 64];
    int libjpeg_entropy;  // 1: keep libjpeg's Huffman decoder (tests and benchmarks)
    int own_entropy;      // 1 once taggan's Huffman decoder was put in place
};

static void fail(j_common_ptr info) {
    taggan_jpeg *jpeg = (taggan_jpeg *)info->client_data;
    info->err->format_message(info, jpeg->message);
    longjmp(jpeg->jump, 1);
}

/// Level -1 is a warning (corrupt data the library would paper over); treat it as fatal.
static void message(j_common_ptr info, int level) {
    if (level < 0) fail(info);
}

taggan_jpeg *taggan_jpeg_open(const unsigned char *data, size_t size,
                              char *error, size_t error_size) {
    if (size == 0) {
        snprintf(error, error_size, "empty file");
        return NULL;
    }
    taggan_jpeg *jpeg = calloc(1, sizeof *jpeg);
    if (!jpeg) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    jpeg->info.err = jpeg_std_error(&jpeg->errors);
    jpeg->errors.error_exit = fail;
    jpeg->errors.emit_message = message;
    jpeg->info.client_data = jpeg;
    if (setjmp(jpeg->jump)) {
        snprintf(error, error_size, "%s", jpeg->message);
        jpeg_destroy_decompress(&jpeg->info);
        free(jpeg);
        return NULL;
    }
    jpeg_create_decompress(&jpeg->info);
    jpeg_mem_src(&jpeg->info, data, (unsigned long)size);
    jpeg_read_header(&jpeg->info, TRUE);
    return jpeg;
}

void taggan_jpeg_header(const taggan_jpeg *jpeg, int *width, int *height,
                        int *components, int *progressive, int *adobe) {
    *adobe = jpeg->info.saw_Adobe_marker ? 1 : 0;
    *width = (int)jpeg->info.image_width;
    *height = (int)jpeg->info.image_height;
    *components = jpeg->info.num_components;
    *progressive = jpeg->info.progressive_mode ? 1 : 0;
}

int taggan_jpeg_start(taggan_jpeg *jpeg, int scale_denominator,
                      int *out_width, int *out_height, int *out_color_space) {
    if (setjmp(jpeg->jump)) return -1;
    struct jpeg_decompress_struct *info = &jpeg->info;
    info->scale_num = 1;
    info->scale_denom = (unsigned int)scale_denominator;
    info->dct_method = JDCT_ISLOW;
    switch (info->jpeg_color_space) {
    case JCS_GRAYSCALE:
        info->out_color_space = JCS_GRAYSCALE;
        *out_color_space = TAGGAN_JPEG_GRAY;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        info->out_color_space = JCS_CMYK;
        *out_color_space = TAGGAN_JPEG_CMYK;
        break;
    default:
        info->out_color_space = JCS_RGB;
        *out_color_space = TAGGAN_JPEG_RGB;
        break;
    }
    jpeg_start_decompress(info);
    if (!jpeg->libjpeg_entropy) jpeg->own_entropy = taggan_jpeg_fast_entropy(info);
    *out_width = (int)info->output_width;
    *out_height = (int)info->output_height;
    return 0;
}

int taggan_jpeg_read(taggan_jpeg *jpeg, unsigned char *pixels, size_t stride) {
    if (setjmp(jpeg->jump)) return -1;
    struct jpeg_decompress_struct *info = &jpeg->info;
    while (info->output_scanline < info->output_height) {
        JSAMPROW row = pixels + (size_t)info->output_scanline * stride;
        jpeg_read_scanlines(info, &row, 1);
    }
    jpeg_finish_decompress(info);
    return 0;
}

void taggan_jpeg_keep_libjpeg_entropy(taggan_jpeg *jpeg, int keep) { jpeg->libjpeg_entropy = keep ? 1 : 0; }

int taggan_jpeg_own_entropy(const taggan_jpeg *jpeg) { return jpeg->own_entropy; }

const char *taggan_jpeg_error(const taggan_jpeg *jpeg) { return jpeg->message; }

void taggan_jpeg_close(taggan_jpeg *jpeg) {
    if (!jpeg) return;
    jpeg_destroy_decompress(&jpeg->info);
    free(jpeg);
}

// MARK: encoding (tests: JPEGs of every layout the decoders must agree on)

int taggan_jpeg_encode(const unsigned char *pixels, int width, int height, int gray,
                       int quality, int h_sampling, int v_sampling, int restart_interval,
                       int progressive, int optimize, unsigned char **out, size_t *out_size) {
    struct jpeg_compress_struct info;
    taggan_jpeg failure;  // only its jump buffer and message are used
    memset(&failure, 0, sizeof failure);
    info.err = jpeg_std_error(&failure.errors);
    failure.errors.error_exit = fail;
    info.client_data = &failure;
    unsigned char *buffer = NULL;
    unsigned long size = 0;
    if (setjmp(failure.jump)) {
        jpeg_destroy_compress(&info);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, &buffer, &size);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = gray ? 1 : 3;
    info.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    if (!gray) {
        info.comp_info[0].h_samp_factor = h_sampling;
        info.comp_info[0].v_samp_factor = v_sampling;
    }
    info.restart_interval = (unsigned int)restart_interval;
    info.optimize_coding = optimize ? TRUE : FALSE;
    if (progressive) jpeg_simple_progression(&info);
    jpeg_start_compress(&info, TRUE);
    int stride = width * (gray ? 1 : 3);
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)info.next_scanline * stride);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    *out = buffer;
    *out_size = size;
    return 0;
}

void taggan_jpeg_free(unsigned char *buffer) { free(buffer); }
