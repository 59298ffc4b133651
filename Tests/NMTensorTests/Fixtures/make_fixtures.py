#!/usr/bin/env python3
"""Writes the small reference files that NMTensorTests reads (NPY, safetensors, images, resize).

Run from anywhere: `python3 Tests/NMTensorTests/Fixtures/make_fixtures.py`. Needs numpy, torch,
safetensors, pillow and scikit-image. Output is deterministic (fixed seeds), every file is a few
KB, and the expected values the Swift tests compare against come from NumPy, PIL, safetensors
and scikit-image, never from our own code.

Layout:
  npy/          arrays written by NumPy in several dtypes, versions and shapes
  safetensors/  a file written by the `safetensors` package (torch backend, for BF16)
  image/        PNGs written byte by byte below (independent of libpng), their expected RGB as
                .npy, and JPEGs written and decoded by PIL
  resize/       a uint8 test image and skimage.transform.resize outputs
"""
import os
import struct
import warnings
import zlib

import numpy as np
import PIL
from PIL import Image
import skimage
from skimage.transform import resize
import safetensors
import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.abspath(__file__))


def path(*parts):
    full = os.path.join(ROOT, *parts)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    return full


# MARK: - NPY


def write_npy():
    np.save(path("npy", "f4_2x3.npy"), np.array([[1.5, -2.25, 0.0], [3.0e-8, 1.0e30, np.inf]], dtype=np.float32))
    np.save(path("npy", "f4_2x3x4.npy"), (np.arange(24, dtype=np.float32) / 8 - 1).reshape(2, 3, 4))
    np.save(path("npy", "f4_scalar.npy"), np.array(3.5, dtype=np.float32))
    np.save(path("npy", "f4_empty_0x3.npy"), np.zeros((0, 3), dtype=np.float32))
    np.save(path("npy", "f8_4.npy"), np.array([1.0 / 3.0, -2.5, 1.0e-40, 1.0e300], dtype=np.float64))
    np.save(path("npy", "i8_5.npy"), np.array([0, -1, 2**40 + 1, -(2**53), 123456789], dtype=np.int64))
    np.save(path("npy", "i4_3.npy"), np.array([-(2**31), 7, 2**24 + 1], dtype=np.int32))
    np.save(path("npy", "u1_2x2.npy"), np.array([[0, 255], [128, 7]], dtype=np.uint8))
    np.save(path("npy", "f2_3.npy"), np.array([0.5, -65504.0, 2.0**-24], dtype=np.float16))
    np.save(path("npy", "b1_3.npy"), np.array([True, False, True]))
    np.save(path("npy", "be_f4_2.npy"), np.array([1.5, -2.0], dtype=">f4"))
    np.save(path("npy", "fortran_2x3.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    for version in [(2, 0), (3, 0)]:
        with open(path("npy", f"f4_v{version[0]}.npy"), "wb") as file:
            np.lib.format.write_array(file, np.array([0.25, -4.0], dtype=np.float32), version=version)


# MARK: - safetensors


def write_safetensors():
    tensors = {
        "weight": torch.tensor([[1.0, -2.0, 0.5], [3.25, 0.0, -7.5]], dtype=torch.float32),
        "bias": torch.tensor([0.125, -0.25, 1.0e-3], dtype=torch.float32),
        "half": torch.tensor([0.5, -65504.0, 2.0**-24, 1.0 / 3.0], dtype=torch.float16),
        "brain": torch.tensor([1.0, -3.0e38, 2.0**-126], dtype=torch.bfloat16),
        "double": torch.tensor([1.0 / 3.0, -1.0e300], dtype=torch.float64),
        "count": torch.tensor([-(2**40), 5], dtype=torch.int64),
        "index": torch.tensor([-3, 2**24 + 1], dtype=torch.int32),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros((0, 2), dtype=torch.float32),
    }
    # One metadata key only: the package writes metadata in hash-map order, which varies.
    save_file(tensors, path("safetensors", "mixed.safetensors"), metadata={"format": "pt \"é\""})


# MARK: - Images


def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def pack_row(samples, bit_depth):
    """Packs one row of integer samples (big-endian for 16 bits, MSB first below 8)."""
    if bit_depth == 16:
        return b"".join(struct.pack(">H", int(v)) for v in samples)
    if bit_depth == 8:
        return bytes(int(v) for v in samples)
    per_byte = 8 // bit_depth
    out = bytearray()
    for start in range(0, len(samples), per_byte):
        byte = 0
        group = list(samples[start:start + per_byte]) + [0] * (per_byte - len(samples[start:start + per_byte]))
        for v in group:
            byte = (byte << bit_depth) | int(v)
        out.append(byte)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(name, pixels, bit_depth, color_type, extra_chunks=(), interlaced=False):
    """pixels: [H, W, samples per pixel] integers (palette indices for color type 3)."""
    height, width = pixels.shape[:2]
    flat = pixels.reshape(height, width, -1)
    raw = bytearray()
    if interlaced:
        for x0, y0, dx, dy in ADAM7:
            sub = flat[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            for row in sub:
                raw += b"\x00" + pack_row(row.reshape(-1), bit_depth)
    else:
        for row in flat:
            raw += b"\x00" + pack_row(row.reshape(-1), bit_depth)
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlaced else 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
    for tag, payload in extra_chunks:
        data += png_chunk(tag, payload)
    data += png_chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + png_chunk(b"IEND", b"")
    with open(path("image", name), "wb") as file:
        file.write(data)


def write_images():
    rng = np.random.default_rng(7)
    height, width = 5, 7
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    write_png("rgb8.png", rgb, 8, 2)
    np.save(path("image", "rgb8_expected.npy"), rgb)
    write_png("rgb8_interlaced.png", rgb, 8, 2, interlaced=True)  # same expected pixels
    write_png("rgb8_trns.png", rgb, 8, 2, extra_chunks=[(b"tRNS", struct.pack(">HHH", *rgb[0, 0]))])  # ignored

    alpha = rng.integers(0, 256, (height, width, 1), dtype=np.uint8)
    write_png("rgba8.png", np.concatenate([rgb, alpha], axis=2), 8, 6)  # alpha is dropped: expect rgb

    gray = rng.integers(0, 256, (height, width, 1), dtype=np.uint8)
    write_png("gray8.png", gray, 8, 0)
    np.save(path("image", "gray8_expected.npy"), np.repeat(gray, 3, axis=2))

    gray2 = rng.integers(0, 4, (height, width, 1), dtype=np.uint8)
    write_png("gray2.png", gray2, 2, 0)
    np.save(path("image", "gray2_expected.npy"), np.repeat(gray2 * 85, 3, axis=2))  # 2-bit → 8-bit: v·255/3
    write_png("gray2_trns.png", gray2, 2, 0, extra_chunks=[(b"tRNS", struct.pack(">H", 1))])  # ignored

    palette = rng.integers(0, 256, (6, 3), dtype=np.uint8)
    indices = rng.integers(0, 6, (height, width, 1), dtype=np.uint8)
    transparency = (b"tRNS", bytes([0, 128, 255]))  # ignored, like an alpha channel
    write_png("palette.png", indices, 8, 3, extra_chunks=[(b"PLTE", palette.tobytes()), transparency])
    np.save(path("image", "palette_expected.npy"), palette[indices[:, :, 0]])

    rgb16 = rng.integers(0, 65536, (height, width, 3), dtype=np.uint16)
    write_png("rgb16.png", rgb16, 16, 2)
    np.save(path("image", "rgb16_expected.npy"), rgb16)
    gray_alpha16 = rng.integers(0, 65536, (height, width, 2), dtype=np.uint16)
    write_png("gray_alpha16.png", gray_alpha16, 16, 4)
    np.save(path("image", "gray_alpha16_expected.npy"), np.repeat(gray_alpha16[:, :, :1], 3, axis=2))

    # Cross-check the hand-written PNGs with PIL where it keeps the raw values.
    warnings.filterwarnings("ignore", message="Palette images with Transparency")
    for name, expected in [("rgb8", rgb), ("rgb8_interlaced", rgb), ("rgba8", rgb),
                           ("gray8", np.repeat(gray, 3, axis=2)), ("palette", palette[indices[:, :, 0]])]:
        decoded = np.asarray(Image.open(path("image", name + ".png")).convert("RGB"))
        assert np.array_equal(decoded, expected), name

    # JPEGs: a smooth colour image with some texture, and a grayscale one, decoded by PIL.
    y, x = np.mgrid[0:12, 0:16]
    photo = np.stack([x * 15, y * 20, 128 + 60 * np.sin(x + y)], axis=2)
    photo = np.clip(photo + rng.normal(0, 8, photo.shape), 0, 255).astype(np.uint8)
    Image.fromarray(photo, "RGB").save(path("image", "photo.jpg"), quality=90)
    np.save(path("image", "photo_expected.npy"), np.asarray(Image.open(path("image", "photo.jpg")).convert("RGB")))
    Image.fromarray(photo[:, :, 1], "L").save(path("image", "gray.jpg"), quality=90)
    np.save(path("image", "gray_jpg_expected.npy"), np.asarray(Image.open(path("image", "gray.jpg")).convert("RGB")))


# MARK: - Resize (scikit-image defaults: order 1, anti_aliasing when shrinking, mode 'reflect')


def write_resize():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (37, 29, 3), dtype=np.uint8)
    np.save(path("resize", "input_37x29x3.npy"), image)
    # skimage converts uint8 with img_as_float (v / 255, float64); outputs are stored as float32.
    cases = {
        "down_16x16": resize(image, (16, 16)),
        "mixed_12x40": resize(image, (12, 40)),  # shrink rows (filtered), stretch columns
        "up_50x60_c1": resize(image[:, :, :1], (50, 60)),
        "tiny_2x1": resize(image, (2, 1)),  # sigma larger than the image: mirrored many times
        "noaa_8x8": resize(image, (8, 8), anti_aliasing=False),
        "row_3x2": resize(image[:1, :5, :2], (3, 2)),  # a 1-pixel-high input
    }
    for name, output in cases.items():
        np.save(path("resize", name + ".npy"), output.astype(np.float32))


if __name__ == "__main__":
    write_npy()
    write_safetensors()
    write_images()
    write_resize()
    print("numpy", np.__version__, "PIL", PIL.__version__, "skimage", skimage.__version__,
          "safetensors", safetensors.__version__, "torch", torch.__version__)
