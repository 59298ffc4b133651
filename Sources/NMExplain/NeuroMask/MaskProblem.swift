import NMTensor

/// The fixed parts of one NeuroMask optimisation: the image, its substrate and the map from the
/// parameters w to the mask m and the composite image x̃ = s + (x − s) ⊙ m.
struct MaskProblem: Sendable {
    let image: Tensor  // [1, 3, H, W]
    let substrate: Tensor  // [1, 3, H, W]
    let difference: Tensor  // x − s, [1, 3, H, W]
    let upsampling: BilinearUpsampling?  // nil for a per-pixel mask
    let temperature: Float
    let initialization: MaskInitialization
    let parameterShape: [Int]  // [h, w]

    init(image: Tensor, configuration: NeuroMaskConfiguration) {
        let (height, width) = (image.shape[2], image.shape[3])
        self.image = image
        switch configuration.substrate {
        case .black:
            substrate = .zeros(image.shape)
        case .blur(let sigma):
            substrate = gaussianBlur(image, sigma: sigma)
        case .meanColor:
            let means = image.mean(alongAxes: [2, 3], keepingDimensions: true)  // [1, 3, 1, 1]
            substrate = means.broadcasted(to: image.shape)
        }
        difference = image - substrate
        switch configuration.resolution {
        case .perPixel:
            upsampling = nil
            parameterShape = [height, width]
        case .grid(let cellSize):
            let coarse = ((height + cellSize - 1) / cellSize, (width + cellSize - 1) / cellSize)
            upsampling = BilinearUpsampling(from: coarse, to: (height, width))
            parameterShape = [coarse.0, coarse.1]
        }
        temperature = configuration.temperature
        initialization = configuration.initialization
    }

    func initialParameters(generator: inout SeededGenerator) throws -> [Float] {
        let count = parameterShape.reduce(1, *)
        switch initialization {
        case .explicit(let values):
            guard values.shape == parameterShape else {
                throw ExplainError.invalidSetting(
                    name: "initial mask parameters", value: "\(values.shape)", reason: "must have the parameter shape \(parameterShape)")
            }
            return values.scalars
        case .uniform(let limit):
            return Tensor.uniform([count], low: -limit, high: limit, generator: &generator).scalars
        case .constant(let value):
            return [Float](repeating: value, count: count)
        }
    }

    /// m = σ(U(w) / T), `[H, W]`.
    func mask(_ w: Tensor) -> Tensor {
        let logits = upsampling?.upsample(w) ?? w
        return (logits / temperature).sigmoid()
    }

    /// x̃ = s + (x − s) ⊙ m, `[1, 3, H, W]`, in one pass.
    func composite(_ mask: Tensor) -> Tensor {
        let plane = mask.count
        precondition(plane > 0 && difference.count % plane == 0, "MaskProblem: mask \(mask.shape) does not fit the image \(image.shape)")
        let (s, d, m) = (substrate.scalars, difference.scalars, mask.scalars)
        var scalars = [Float](repeating: 0, count: d.count)
        for channel in 0..<(d.count / plane) {
            let base = channel * plane
            for p in 0..<plane { scalars[base + p] = s[base + p] + d[base + p] * m[p] }
        }
        return Tensor(shape: image.shape, scalars: scalars)
    }

    /// ∂L/∂w from ∂L/∂x̃: Uᵀ(Σ_c ∂L/∂x̃ ⊙ (x − s) ⊙ m(1 − m) / T), one pass over the pixels.
    func backpropagateToParameters(gradComposite: Tensor, mask: Tensor) -> Tensor {
        precondition(gradComposite.shape == difference.shape, "MaskProblem: gradient \(gradComposite.shape) is not \(difference.shape)")
        let plane = mask.count
        let (g, d, m) = (gradComposite.scalars, difference.scalars, mask.scalars)
        var gradMask = [Float](repeating: 0, count: plane)  // ∂L/∂m
        for channel in 0..<(d.count / plane) {
            let base = channel * plane
            for p in 0..<plane { gradMask[p] += g[base + p] * d[base + p] }
        }
        for p in 0..<plane { gradMask[p] = gradMask[p] * m[p] * (1 - m[p]) / temperature }  // ∂L/∂z = ∂L/∂m · σ′(z/T) / T, in place
        let fine = Tensor(shape: mask.shape, scalars: gradMask)
        return upsampling?.adjoint(fine) ?? fine
    }
}
