#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

static int fail(char *message, size_t message_size, const char *text) {
    if (message && message_size > 0) {
        snprintf(message, message_size, "%s", text);
    }
    return 1;
}

static int is_png(const uint8_t *data, size_t size) {
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return size >= 8 && memcmp(data, signature, 8) == 0;
}

static int is_jpeg(const uint8_t *data, size_t size) {
    return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

// MARK: - JPEG

struct nm_jpeg_error {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char text[JMSG_LENGTH_MAX];
};

static void nm_jpeg_error_exit(j_common_ptr info) {
    struct nm_jpeg_error *error = (struct nm_jpeg_error *)info->err;
    (*info->err->format_message)(info, error->text);
    longjmp(error->jump, 1);
}

static void nm_jpeg_silence(j_common_ptr info, int level) { (void)info; (void)level; }

/// Decodes header (rgb == NULL) or the whole image into rgb.
static int jpeg_run(const uint8_t *data, size_t size, uint8_t *rgb, int *width, int *height,
                    char *message, size_t message_size) {
    struct jpeg_decompress_struct info;
    struct nm_jpeg_error error;
    info.err = jpeg_std_error(&error.base);
    error.base.error_exit = nm_jpeg_error_exit;
    error.base.emit_message = nm_jpeg_silence;
    error.text[0] = 0;
    if (setjmp(error.jump)) {
        jpeg_destroy_decompress(&info);
        char text[JMSG_LENGTH_MAX + 32];
        snprintf(text, sizeof text, "JPEG: %s", error.text);
        return fail(message, message_size, text);
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    info.out_color_space = JCS_RGB;
    jpeg_start_decompress(&info);
    if (rgb == NULL) {
        *width = (int)info.output_width;
        *height = (int)info.output_height;
        jpeg_destroy_decompress(&info);
        return 0;
    }
    if ((int)info.output_width != *width || (int)info.output_height != *height ||
        info.output_components != 3) {
        jpeg_destroy_decompress(&info);
        return fail(message, message_size, "JPEG: size changed between header and decode");
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = rgb + (size_t)info.output_scanline * (size_t)(*width) * 3;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    return 0;
}

// MARK: - PNG

static int png_run(const uint8_t *data, size_t size, uint8_t *rgb, int *width, int *height,
                   char *message, size_t message_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, data, size)) {
        char text[128];
        snprintf(text, sizeof text, "PNG: %s", image.message);
        return fail(message, message_size, text);
    }
    if (rgb == NULL) {
        *width = (int)image.width;
        *height = (int)image.height;
        png_image_free(&image);
        return 0;
    }
    if ((int)image.width != *width || (int)image.height != *height) {
        png_image_free(&image);
        return fail(message, message_size, "PNG: size changed between header and decode");
    }
    image.format = PNG_FORMAT_RGB;
    // Transparent pixels are composed over black (background NULL drops alpha).
    if (!png_image_finish_read(&image, NULL, rgb, 0, NULL)) {
        char text[128];
        snprintf(text, sizeof text, "PNG: %s", image.message);
        png_image_free(&image);
        return fail(message, message_size, text);
    }
    return 0;
}

// MARK: - Public entry points

int nm_image_info(const uint8_t *data, size_t size, int *width, int *height, char *message,
                  size_t message_size) {
    if (is_png(data, size)) return png_run(data, size, NULL, width, height, message, message_size);
    if (is_jpeg(data, size)) return jpeg_run(data, size, NULL, width, height, message, message_size);
    return fail(message, message_size, "not a PNG or JPEG file (unknown signature)");
}

int nm_image_decode_rgb8(const uint8_t *data, size_t size, uint8_t *rgb, int width, int height,
                         char *message, size_t message_size) {
    if (rgb == NULL) return fail(message, message_size, "no output buffer");
    if (is_png(data, size)) return png_run(data, size, rgb, &width, &height, message, message_size);
    if (is_jpeg(data, size)) return jpeg_run(data, size, rgb, &width, &height, message, message_size);
    return fail(message, message_size, "not a PNG or JPEG file (unknown signature)");
}

int nm_png_encode_rgb8(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_size,
                       char *message, size_t message_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = PNG_FORMAT_RGB;
    png_alloc_size_t needed = 0;
    if (!png_image_write_to_memory(&image, NULL, &needed, 0, rgb, 0, NULL)) {
        char text[128];
        snprintf(text, sizeof text, "PNG encode: %s", image.message);
        return fail(message, message_size, text);
    }
    uint8_t *buffer = (uint8_t *)malloc(needed);
    if (buffer == NULL) return fail(message, message_size, "PNG encode: out of memory");
    if (!png_image_write_to_memory(&image, buffer, &needed, 0, rgb, 0, NULL)) {
        char text[128];
        snprintf(text, sizeof text, "PNG encode: %s", image.message);
        free(buffer);
        return fail(message, message_size, text);
    }
    *out = buffer;
    *out_size = (size_t)needed;
    return 0;
}

void nm_image_free(void *pointer) { free(pointer); }
