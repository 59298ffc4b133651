// CImageCodecs: PNG (libpng simplified API) and JPEG (libjpeg-turbo) decoding and PNG encoding
// to 8-bit RGB. Every function returns 0 on success or a non-zero code and fills `message`
// (a NUL-terminated string of at most `message_size` bytes). libjpeg's longjmp never leaves C.
// No stable Swift API: only NMTensor's IO files import it.
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

/// Reads the size of a PNG or JPEG held in memory. Returns 0 on success.
int nm_image_info(const uint8_t *data, size_t size, int *width, int *height,
                  char *message, size_t message_size);

/// Decodes a PNG or JPEG held in memory into `rgb` (width*height*3 bytes, row-major, RGB,
/// 8 bits; gray, palette, alpha and 16-bit are converted; alpha is dropped). Returns 0 on success.
int nm_image_decode_rgb8(const uint8_t *data, size_t size, uint8_t *rgb, int width, int height,
                         char *message, size_t message_size);

/// Encodes 8-bit RGB (width*height*3 bytes) as PNG into a malloc'ed buffer (*out, *out_size),
/// to be released with nm_image_free. Returns 0 on success.
int nm_png_encode_rgb8(const uint8_t *rgb, int width, int height, uint8_t **out,
                       size_t *out_size, char *message, size_t message_size);

void nm_image_free(void *pointer);

#endif
