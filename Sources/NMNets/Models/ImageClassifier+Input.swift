import Foundation
import NMTensor

/// The size an image is fed to a model at.
public enum InputSize: Sendable, Equatable, CustomStringConvertible {
    /// Stretched (no crop) to `side × side`, as the NeuroMask demos do.
    case square(Int)
    /// The image's own size.
    case native

    /// Parses "224" or "native".
    public init?(argument: String) {
        if argument.lowercased() == "native" {
            self = .native
        } else if let side = Int(argument), side > 0 {
            self = .square(side)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .square(let side): return "\(side)"
        case .native: return "native"
        }
    }
}

/// An image that does not fit a model.
public enum ImageInputError: Error, Equatable, CustomStringConvertible {
    case tooSmall(path: String, width: Int, height: Int, minimum: Int)
    case sizeNotAccepted(model: String, size: Int, required: Int)

    public var description: String {
        switch self {
        case .tooSmall(let path, let width, let height, let minimum):
            return "\(path): \(width)x\(height) is smaller than the model's minimum input \(minimum)x\(minimum)"
        case .sizeNotAccepted(let model, let size, let required):
            return "\(model) accepts only \(required)x\(required) input, not \(size)x\(size)"
        }
    }
}

extension ImageClassifier {
    /// Reads a PNG or JPEG and prepares it for this model: RGB pixels in [0, 1], stretched to
    /// the requested size with scikit-image's antialiased bilinear resize.
    /// - Parameter size: `nil` for the model's own input size.
    /// - Returns: `[1, 3, H, W]` pixels in [0, 1] (the model normalises internally).
    /// - Throws: `TensorIOError` for an unreadable image, `ImageInputError` when it cannot fit.
    public func loadImage(at url: URL, size: InputSize? = nil) throws -> Tensor {
        let image = try ImageFile.read(from: url)  // [H, W, 3]
        let (height, width) = (image.shape[0], image.shape[1])
        let resized: Tensor
        switch size ?? .square(inputSize) {
        case .native:
            guard height >= minimumInputSize && width >= minimumInputSize else {
                throw ImageInputError.tooSmall(path: url.path, width: width, height: height, minimum: minimumInputSize)
            }
            if !acceptsAnySize && (height != inputSize || width != inputSize) {
                throw ImageInputError.sizeNotAccepted(model: name, size: max(height, width), required: inputSize)
            }
            resized = image
        case .square(let side):
            guard side >= minimumInputSize else {
                throw ImageInputError.tooSmall(path: url.path, width: side, height: side, minimum: minimumInputSize)
            }
            if !acceptsAnySize && side != inputSize { throw ImageInputError.sizeNotAccepted(model: name, size: side, required: inputSize) }
            resized = image.resized(height: side, width: side)
        }
        return resized.hwcToNCHW()
    }
}
