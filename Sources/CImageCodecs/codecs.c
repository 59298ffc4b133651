#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

static int fail(int code, char *message, size_t message_size, const char *prefix, const char *text) {
    if (message && message_size > 0) {
        snprintf(message, message_size, "%s%s", prefix, text);
    }
    return code;
}

static int is_png(const uint8_t *data, size_t size) {
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return size >= 8 && memcmp(data, signature, 8) == 0;
}

static int is_jpeg(const uint8_t *data, size_t size) {
    return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

static int is_little_endian_host(void) {
    const uint16_t probe = 1;
    return *(const uint8_t *)&probe == 1;
}

// MARK: - JPEG

struct nm_jpeg_error {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    int is_truncated;
    char text[JMSG_LENGTH_MAX];
};

static void nm_jpeg_error_exit(j_common_ptr info) {
    struct nm_jpeg_error *error = (struct nm_jpeg_error *)info->err;
    (*info->err->format_message)(info, error->text);
    longjmp(error->jump, 1);
}

/// Warnings are ignored (as PIL does), except the end of the data arriving before the image
/// is complete: libjpeg would pad the image with gray, and we report a truncated file instead.
static void nm_jpeg_emit_message(j_common_ptr info, int level) {
    struct nm_jpeg_error *error = (struct nm_jpeg_error *)info->err;
    if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) error->is_truncated = 1;
}

/// Reads the header (rgb == NULL) or decodes the whole image into rgb.
static int jpeg_run(const uint8_t *data, size_t size, uint8_t *rgb, int *width, int *height,
                    char *message, size_t message_size) {
    struct jpeg_decompress_struct info;
    struct nm_jpeg_error error;
    memset(&info, 0, sizeof info);
    info.err = jpeg_std_error(&error.base);
    error.base.error_exit = nm_jpeg_error_exit;
    error.base.emit_message = nm_jpeg_emit_message;
    error.is_truncated = 0;
    error.text[0] = 0;
    if (setjmp(error.jump)) {
        int code = error.base.msg_code == JERR_EMPTY_IMAGE ? NM_IMAGE_ZERO_SIZE : NM_IMAGE_CORRUPT;
        jpeg_destroy_decompress(&info);
        return fail(code, message, message_size, "JPEG: ", error.text);
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    info.out_color_space = JCS_RGB;
    if (error.is_truncated) {
        jpeg_destroy_decompress(&info);
        return fail(NM_IMAGE_CORRUPT, message, message_size, "JPEG: ", "file is truncated");
    }
    if (rgb == NULL) {
        jpeg_calc_output_dimensions(&info);
        *width = (int)info.output_width;
        *height = (int)info.output_height;
        int is_empty = info.output_width == 0 || info.output_height == 0;
        jpeg_destroy_decompress(&info);
        return is_empty ? fail(NM_IMAGE_ZERO_SIZE, message, message_size, "JPEG: ", "image has zero width or height") : NM_IMAGE_OK;
    }
    jpeg_start_decompress(&info);
    if ((int)info.output_width != *width || (int)info.output_height != *height ||
        info.output_components != 3) {
        jpeg_destroy_decompress(&info);
        return fail(NM_IMAGE_FAILED, message, message_size, "JPEG: ", "size changed between header and decode");
    }
    while (info.output_scanline < info.output_height && !error.is_truncated) {
        JSAMPROW row = rgb + (size_t)info.output_scanline * (size_t)(*width) * 3;
        jpeg_read_scanlines(&info, &row, 1);
    }
    if (error.is_truncated) {
        jpeg_destroy_decompress(&info);
        return fail(NM_IMAGE_CORRUPT, message, message_size, "JPEG: ", "file is truncated");
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    return NM_IMAGE_OK;
}

// MARK: - PNG

struct nm_png_source {
    const uint8_t *data;
    size_t size;
    size_t offset;
};

struct nm_png_error {
    jmp_buf jump;
    char text[200];
};

static void nm_png_read(png_structp png, png_bytep out, size_t length) {
    struct nm_png_source *source = (struct nm_png_source *)png_get_io_ptr(png);
    if (length > source->size - source->offset) png_error(png, "file is truncated");
    memcpy(out, source->data + source->offset, length);
    source->offset += length;
}

static void nm_png_on_error(png_structp png, png_const_charp text) {
    struct nm_png_error *error = (struct nm_png_error *)png_get_error_ptr(png);
    snprintf(error->text, sizeof error->text, "%s", text);
    longjmp(error->jump, 1);
}

static void nm_png_on_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static uint32_t read_be32(const uint8_t *bytes) {
    return ((uint32_t)bytes[0] << 24) | ((uint32_t)bytes[1] << 16) | ((uint32_t)bytes[2] << 8) | bytes[3];
}

/// Reads the header (rgb == NULL) or decodes the whole image into rgb with the sample depth
/// the header reported (*bit_depth).
static int png_run(const uint8_t *data, size_t size, void *rgb, int *width, int *height,
                   int *bit_depth, char *message, size_t message_size) {
    // libpng rejects a zero width or height as a generic IHDR error; name it instead.
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0 &&
        (read_be32(data + 16) == 0 || read_be32(data + 20) == 0)) {
        return fail(NM_IMAGE_ZERO_SIZE, message, message_size, "PNG: ", "image has zero width or height");
    }
    struct nm_png_source source = {data, size, 0};
    struct nm_png_error error;
    error.text[0] = 0;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, nm_png_on_error, nm_png_on_warning);
    if (png == NULL) return fail(NM_IMAGE_FAILED, message, message_size, "PNG: ", "cannot create the decoder");
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fail(NM_IMAGE_FAILED, message, message_size, "PNG: ", "cannot create the decoder");
    }
    // Only `png`, `info` and `source` are live across this setjmp and none changes after it.
    if (setjmp(error.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        return fail(NM_IMAGE_CORRUPT, message, message_size, "PNG: ", error.text);
    }
    png_set_read_fn(png, &source, nm_png_read);
    png_read_info(png, info);
    png_uint_32 file_width = 0, file_height = 0;
    int file_depth = 0, color_type = 0;
    png_get_IHDR(png, info, &file_width, &file_height, &file_depth, &color_type, NULL, NULL, NULL);
    int output_depth = file_depth == 16 ? 16 : 8;
    if (rgb == NULL) {
        *width = (int)file_width;
        *height = (int)file_height;
        *bit_depth = output_depth;
        png_destroy_read_struct(&png, &info, NULL);
        return NM_IMAGE_OK;
    }
    if ((int)file_width != *width || (int)file_height != *height || output_depth != *bit_depth) {
        png_destroy_read_struct(&png, &info, NULL);
        return fail(NM_IMAGE_FAILED, message, message_size, "PNG: ", "size or depth differs from nm_image_info");
    }
    // Raw samples: no gamma correction. Expansion may turn a tRNS chunk into an alpha channel
    // (png_set_palette_to_rgb does); that channel is stripped like a stored one.
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && file_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if ((color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    if (file_depth == 16 && is_little_endian_host()) png_set_swap(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t row_bytes = (size_t)file_width * 3 * (size_t)(output_depth / 8);
    if (png_get_channels(png, info) != 3 || png_get_rowbytes(png, info) != row_bytes) {
        png_error(png, "unexpected row layout after transforms");
    }
    // Interlaced images are read pass by pass into the same rows (what png_read_image does).
    for (int pass = 0; pass < passes; pass++) {
        for (png_uint_32 y = 0; y < file_height; y++) {
            png_read_row(png, (png_bytep)rgb + (size_t)y * row_bytes, NULL);
        }
    }
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    return NM_IMAGE_OK;
}

// MARK: - Public entry points

int nm_image_info(const uint8_t *data, size_t size, int *width, int *height, int *bit_depth,
                  char *message, size_t message_size) {
    if (data == NULL || width == NULL || height == NULL || bit_depth == NULL) {
        return fail(NM_IMAGE_FAILED, message, message_size, "", "null argument");
    }
    if (is_png(data, size)) return png_run(data, size, NULL, width, height, bit_depth, message, message_size);
    if (is_jpeg(data, size)) {
        *bit_depth = 8;
        return jpeg_run(data, size, NULL, width, height, message, message_size);
    }
    return fail(NM_IMAGE_UNKNOWN_FORMAT, message, message_size, "", "not a PNG or JPEG file (unknown signature)");
}

int nm_image_decode_rgb(const uint8_t *data, size_t size, void *rgb, int width, int height,
                        int bit_depth, char *message, size_t message_size) {
    if (data == NULL || rgb == NULL) return fail(NM_IMAGE_FAILED, message, message_size, "", "null argument");
    if (is_png(data, size)) return png_run(data, size, rgb, &width, &height, &bit_depth, message, message_size);
    if (is_jpeg(data, size)) {
        if (bit_depth != 8) return fail(NM_IMAGE_FAILED, message, message_size, "JPEG: ", "only 8-bit output");
        return jpeg_run(data, size, (uint8_t *)rgb, &width, &height, message, message_size);
    }
    return fail(NM_IMAGE_UNKNOWN_FORMAT, message, message_size, "", "not a PNG or JPEG file (unknown signature)");
}

int nm_png_encode_rgb8(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_size,
                       char *message, size_t message_size) {
    if (rgb == NULL || out == NULL || out_size == NULL || width <= 0 || height <= 0) {
        return fail(NM_IMAGE_FAILED, message, message_size, "PNG encode: ", "bad arguments (null or empty image)");
    }
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = PNG_FORMAT_RGB;
    png_alloc_size_t needed = 0;
    if (!png_image_write_to_memory(&image, NULL, &needed, 0, rgb, 0, NULL)) {
        int code = fail(NM_IMAGE_FAILED, message, message_size, "PNG encode: ", image.message);
        png_image_free(&image);
        return code;
    }
    uint8_t *buffer = (uint8_t *)malloc(needed);
    if (buffer == NULL) return fail(NM_IMAGE_FAILED, message, message_size, "PNG encode: ", "out of memory");
    if (!png_image_write_to_memory(&image, buffer, &needed, 0, rgb, 0, NULL)) {
        int code = fail(NM_IMAGE_FAILED, message, message_size, "PNG encode: ", image.message);
        png_image_free(&image);
        free(buffer);
        return code;
    }
    *out = buffer;
    *out_size = (size_t)needed;
    return NM_IMAGE_OK;
}

void nm_image_free(void *pointer) { free(pointer); }
