#include "jpeg_shim.h"

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

const char *taggan_jpeg_error(const taggan_jpeg *jpeg) { return jpeg->message; }

void taggan_jpeg_close(taggan_jpeg *jpeg) {
    if (!jpeg) return;
    jpeg_destroy_decompress(&jpeg->info);
    free(jpeg);
}
