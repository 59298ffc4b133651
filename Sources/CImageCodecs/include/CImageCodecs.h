// CImageCodecs: PNG (libpng) and JPEG (libjpeg-turbo) decoding to RGB, and PNG encoding from
// 8-bit RGB. Every function returns NM_IMAGE_OK (0) on success or one of the NM_IMAGE_* codes
// below and fills `message` (a NUL-terminated string of at most `message_size` bytes).
// libpng's and libjpeg's longjmp never leave C. Samples are raw: no gamma or colour-profile
// correction is applied, matching PIL and imageio.
// No stable Swift API: only NMTensor's IO files import it.
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

/// Result codes.
enum {
    NM_IMAGE_OK = 0,
    /// The data starts with neither the PNG nor the JPEG signature.
    NM_IMAGE_UNKNOWN_FORMAT = 1,
    /// The codec rejected the data (corrupt, truncated or unsupported); see `message`.
    NM_IMAGE_CORRUPT = 2,
    /// The header declares a width or height of zero.
    NM_IMAGE_ZERO_SIZE = 3,
    /// Bad arguments, out of memory or an encoder failure; see `message`.
    NM_IMAGE_FAILED = 4,
};

/// Reads the size of a PNG or JPEG held in memory and the sample depth `decode` will produce:
/// 16 for 16-bit PNGs, otherwise 8.
int nm_image_info(const uint8_t *data, size_t size, int *width, int *height, int *bit_depth,
                  char *message, size_t message_size);

/// Decodes a PNG or JPEG held in memory into `rgb`: width*height*3 samples, row-major, RGB.
/// With `bit_depth` 8 the samples are uint8_t; with 16 (16-bit PNGs only) they are
/// native-endian uint16_t. `width`, `height` and `bit_depth` must be those `nm_image_info`
/// returned. Gray is replicated to RGB, palettes are expanded, gray bit depths below 8 are
/// scaled to 8 bits, and alpha (an alpha channel or a tRNS chunk) is dropped, not composited.
int nm_image_decode_rgb(const uint8_t *data, size_t size, void *rgb, int width, int height,
                        int bit_depth, char *message, size_t message_size);

/// Encodes 8-bit RGB (width*height*3 bytes) as PNG into a malloc'ed buffer (*out, *out_size),
/// to be released with nm_image_free.
int nm_png_encode_rgb8(const uint8_t *rgb, int width, int height, uint8_t **out,
                       size_t *out_size, char *message, size_t message_size);

void nm_image_free(void *pointer);

#endif
