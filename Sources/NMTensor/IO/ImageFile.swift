import CImageCodecs
import Foundation

/// PNG and JPEG files as `[H, W, 3]` RGB tensors with values in [0, 1].
///
/// Decoding keeps the raw samples, as PIL and imageio do: no gamma or colour-profile
/// correction and no EXIF rotation. Gray is replicated to the three channels, palettes are
/// expanded, and alpha (an alpha channel or a PNG tRNS chunk) is dropped — not composited over
/// a background — like PIL's `convert("RGB")`. 8-bit samples map to v / 255 and 16-bit PNG
/// samples to v / 65 535. The format is chosen by signature, not by file extension.
public enum ImageFile {
    /// The largest image decoded, in pixels (10 000 × 10 000), to refuse absurd headers
    /// before allocating.
    public static let maximumPixelCount = 100_000_000

    /// Reads a PNG or JPEG file as a `[H, W, 3]` tensor in [0, 1].
    /// - Throws: `TensorIOError.fileNotFound`, `.unreadableFile`, or `.inFile(path, problem)`
    ///   with a problem from `decode(_:)`.
    public static func read(from url: URL) throws -> Tensor {
        try parseFile(url) { try decode($0) }
    }

    /// Decodes PNG or JPEG bytes as a `[H, W, 3]` tensor in [0, 1].
    /// - Throws: `TensorIOError.emptyData`, `.unknownImageFormat`, `.zeroSizeImage`,
    ///   `.imageTooLarge`, or `.corruptImage(message)` with the codec's message: corrupt data
    ///   (a PNG CRC mismatch, an invalid JPEG marker), an unsupported variant such as a CMYK
    ///   JPEG, or a truncated file. As in PIL, a JPEG that ends before its end-of-image marker
    ///   counts as truncated; libjpeg's other recoverable warnings are ignored.
    public static func decode(_ data: Data) throws -> Tensor {
        guard !data.isEmpty else { throw TensorIOError.emptyData }
        let bytes = [UInt8](data)
        var message = [CChar](repeating: 0, count: 256)
        var width: Int32 = 0
        var height: Int32 = 0
        var bitDepth: Int32 = 0
        let infoCode = nm_image_info(bytes, bytes.count, &width, &height, &bitDepth, &message, message.count)
        try check(infoCode, message)
        let (rows, columns) = (Int(height), Int(width))
        guard rows > 0 && columns > 0 else { throw TensorIOError.zeroSizeImage }
        guard rows <= maximumPixelCount / columns else { throw TensorIOError.imageTooLarge(width: columns, height: rows) }
        let sampleCount = rows * columns * 3

        if bitDepth == 16 {
            var samples = [UInt16](repeating: 0, count: sampleCount)
            let code = samples.withUnsafeMutableBytes { buffer in
                nm_image_decode_rgb(bytes, bytes.count, buffer.baseAddress, width, height, bitDepth, &message, message.count)
            }
            try check(code, message)
            return Tensor(shape: [rows, columns, 3], scalars: samples.map { Float($0) / 65_535 })
        }
        var samples = [UInt8](repeating: 0, count: sampleCount)
        let code = samples.withUnsafeMutableBytes { buffer in
            nm_image_decode_rgb(bytes, bytes.count, buffer.baseAddress, width, height, bitDepth, &message, message.count)
        }
        try check(code, message)
        let table = (0...255).map { Float($0) / 255 }
        return Tensor(shape: [rows, columns, 3], scalars: samples.map { table[Int($0)] })
    }

    /// Encodes a `[H, W, 3]` image as 8-bit RGB PNG bytes. Values are clamped to [0, 1]
    /// (NaN counts as 0) and rounded to the nearest of the 256 levels, so an image read from
    /// an 8-bit file is written back exactly.
    /// - Precondition: `image.shape` is `[H, W, 3]`.
    /// - Throws: `TensorIOError.zeroSizeImage` when H or W is 0; `.imageEncodingFailed`.
    public static func pngData(_ image: Tensor) throws -> Data {
        precondition(image.rank == 3 && image.shape[2] == 3, "ImageFile.pngData: expected [H, W, 3], got \(image.shape)")
        let (rows, columns) = (image.shape[0], image.shape[1])
        guard rows > 0 && columns > 0 else { throw TensorIOError.zeroSizeImage }
        guard rows <= Int(Int32.max) / columns / 3 else { throw TensorIOError.imageTooLarge(width: columns, height: rows) }
        let samples = image.scalars.map { value -> UInt8 in
            guard !value.isNaN else { return 0 }
            return UInt8((min(max(value, 0), 1) * 255).rounded())
        }
        var message = [CChar](repeating: 0, count: 256)
        var output: UnsafeMutablePointer<UInt8>?
        var outputSize = 0
        let code = nm_png_encode_rgb8(samples, Int32(columns), Int32(rows), &output, &outputSize, &message, message.count)
        defer { nm_image_free(output) }
        guard code == 0, let output else { throw TensorIOError.imageEncodingFailed(text(message)) }
        return Data(bytes: output, count: outputSize)
    }

    /// Writes a `[H, W, 3]` image in [0, 1] as an 8-bit RGB PNG file, atomically
    /// (see `pngData(_:)`).
    /// - Precondition: `image.shape` is `[H, W, 3]`.
    /// - Throws: as `pngData(_:)`, and `TensorIOError.unwritableFile`.
    public static func writePNG(_ image: Tensor, to url: URL) throws {
        try writeFileAtomically(try pngData(image), to: url)
    }

    private static func check(_ code: Int32, _ message: [CChar]) throws {
        switch Int(code) {
        case NM_IMAGE_OK: return
        case NM_IMAGE_UNKNOWN_FORMAT: throw TensorIOError.unknownImageFormat
        case NM_IMAGE_ZERO_SIZE: throw TensorIOError.zeroSizeImage
        default: throw TensorIOError.corruptImage(text(message))
        }
    }

    private static func text(_ message: [CChar]) -> String {
        String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
