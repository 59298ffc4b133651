import NMTensor

/// What hidden pixels become: the image is `x̃ = s + (x − s) · m` for substrate s.
public enum MaskSubstrate: Sendable, Equatable {
    /// 0 in [0, 1] pixel space (the paper).
    case black
    /// A Gaussian-blurred copy of the image (Fong & Vedaldi 2017).
    case blur(sigma: Float)
    /// The image's mean colour.
    case meanColor

    public var name: String {
        switch self {
        case .black: return "black"
        case .blur(let sigma): return "blur(sigma=\(sigma))"
        case .meanColor: return "mean-color"
        }
    }
}

/// The resolution of the learned mask parameters.
public enum MaskResolution: Sendable, Equatable {
    /// One parameter per pixel (the paper).
    case perPixel
    /// One parameter per `cellSize × cellSize` cell, upsampled bilinearly to the image.
    case grid(cellSize: Int)
}

/// How w is initialised.
public enum MaskInitialization: Sendable, Equatable {
    /// Uniform in [−limit, limit] from the seed (the paper: limit 10).
    case uniform(limit: Float)
    /// Every parameter set to `value` (no randomness).
    case constant(value: Float)
    /// Given values of w, shaped like the mask parameters (`[H, W]` per pixel, the grid otherwise).
    case explicit(Tensor)
}

/// Stop early once the mask has settled while the target is kept.
public struct StoppingRule: Sendable, Equatable {
    /// Mean |Δm| over `window` iterations below which the mask counts as settled.
    public var tolerance: Float
    /// Iterations between comparisons.
    public var window: Int
    /// The target probability on the masked image must be at least this.
    public var minimumProbability: Float

    public init(tolerance: Float = 2e-3, window: Int = 20, minimumProbability: Float = 0.5) {
        self.tolerance = tolerance
        self.window = window
        self.minimumProbability = minimumProbability
    }
}

/// The named settings of NeuroMask.
public enum NeuroMaskPreset: String, CaseIterable, Sendable {
    /// The authors' algorithm and demo settings (ImageNet demo above 64 px, CIFAR demo up to 64 px).
    case paper
    /// Same loss family, chosen by measurement for a cleaner, better-localised mask in far fewer
    /// iterations (see docs/METHOD.md).
    case improved

    /// One line for `--help`.
    public var summary: String {
        switch self {
        case .paper: return "the authors' algorithm: per-pixel mask, black substrate, TF-RMSProp, valid Laplacian, 1000 iterations"
        case .improved: return "coarse 8-px grid mask, blurred substrate, Adam, border-constrained Laplacian, early stopping (≤ 300 iterations)"
        }
    }

    /// The configuration of this preset for a square input of `imageSize` pixels.
    public func configuration(imageSize: Int) -> NeuroMaskConfiguration {
        switch self {
        case .paper: return .paper(imageSize: imageSize)
        case .improved: return .improved(imageSize: imageSize)
        }
    }
}

/// Every setting of NeuroMask (Alzantot et al. 2019, arXiv:1908.04389). The loss is
/// `a · CE(f(x̃), c) + b · mean|w + L| + g · mean(Laplacian(w)²)` with `m = σ(w / T)`.
public struct NeuroMaskConfiguration: Sendable, Equatable {
    /// a: weight of the cross-entropy to the target.
    public var predictionWeight: Float
    /// b: weight of the L1 pull of w towards −L.
    public var sparsityWeight: Float
    /// g: weight of the squared Laplacian of w.
    public var smoothnessWeight: Float
    /// T in m = σ(w / T).
    public var temperature: Float
    /// L in mean|w + L| (the authors' `weight_limit`).
    public var sparsityOffset: Float
    public var learningRate: Float
    public var optimizer: MaskOptimizer
    /// Maximum number of iterations (one forward + backward each).
    public var iterations: Int
    public var initialization: MaskInitialization
    public var substrate: MaskSubstrate
    public var resolution: MaskResolution
    /// 3 or 5; `nil` picks by input size as the authors do (3 up to 64 px, else 5).
    public var laplacianSize: Int?
    public var laplacianBorder: LaplacianPenalty.Border
    public var stopping: StoppingRule?
    public var seed: UInt64
    /// Keep the mask of every iteration in the result (memory: iterations × H × W floats).
    public var keepsHistory: Bool

    public init(
        predictionWeight: Float = 0.4, sparsityWeight: Float = 0.35, smoothnessWeight: Float = 0.03, temperature: Float = 0.3,
        sparsityOffset: Float = 10, learningRate: Float = 0.03, optimizer: MaskOptimizer = .tensorFlowRMSProp(),
        iterations: Int = 1000, initialization: MaskInitialization = .uniform(limit: 10), substrate: MaskSubstrate = .black,
        resolution: MaskResolution = .perPixel, laplacianSize: Int? = nil, laplacianBorder: LaplacianPenalty.Border = .valid,
        stopping: StoppingRule? = nil, seed: UInt64 = 0, keepsHistory: Bool = false
    ) {
        self.predictionWeight = predictionWeight
        self.sparsityWeight = sparsityWeight
        self.smoothnessWeight = smoothnessWeight
        self.temperature = temperature
        self.sparsityOffset = sparsityOffset
        self.learningRate = learningRate
        self.optimizer = optimizer
        self.iterations = iterations
        self.initialization = initialization
        self.substrate = substrate
        self.resolution = resolution
        self.laplacianSize = laplacianSize
        self.laplacianBorder = laplacianBorder
        self.stopping = stopping
        self.seed = seed
        self.keepsHistory = keepsHistory
    }

    /// The authors' settings: their ImageNet demo (a, b, g) = (0.4, 0.35, 0.03), T = 0.3, 5×5
    /// Laplacian for inputs above 64 px; their CIFAR demo (0.4, 0.35, 0.15), T = 1, 3×3 up to 64 px.
    /// TF-RMSProp lr 0.03, uniform init in [−10, 10], black substrate, 1000 iterations.
    public static func paper(imageSize: Int) -> NeuroMaskConfiguration {
        let isSmall = imageSize <= 64
        return NeuroMaskConfiguration(
            smoothnessWeight: isSmall ? 0.15 : 0.03, temperature: isSmall ? 1 : 0.3, laplacianSize: isSmall ? 3 : 5)
    }

    /// The improved preset (see docs/METHOD.md for the measurements behind each choice).
    public static func improved(imageSize: Int) -> NeuroMaskConfiguration {
        let isSmall = imageSize <= 64
        return NeuroMaskConfiguration(
            predictionWeight: 1, sparsityWeight: 0.5, smoothnessWeight: 0.02, temperature: 1,
            sparsityOffset: 5, learningRate: 0.1, optimizer: .adam(), iterations: 300,
            initialization: .constant(value: 0), substrate: .blur(sigma: isSmall ? 2 : 10),
            resolution: .grid(cellSize: isSmall ? 2 : 8), laplacianSize: 3, laplacianBorder: .replicate,
            stopping: StoppingRule(tolerance: 1e-3, window: 20, minimumProbability: 0.5))
    }

    /// Checks every setting, naming the first bad one.
    public func validate() throws {
        func invalid(_ name: String, _ value: Any, _ reason: String) -> ExplainError {
            .invalidSetting(name: name, value: "\(value)", reason: reason)
        }
        guard iterations >= 1 else { throw invalid("iterations", iterations, "must be ≥ 1") }
        guard temperature > 0, temperature.isFinite else { throw invalid("temperature", temperature, "must be positive") }
        guard learningRate > 0, learningRate.isFinite else { throw invalid("learning rate", learningRate, "must be positive") }
        for (name, value) in [("prediction weight", predictionWeight), ("sparsity weight", sparsityWeight), ("smoothness weight", smoothnessWeight)] {
            guard value >= 0, value.isFinite else { throw invalid(name, value, "must be ≥ 0 and finite") }
        }
        if let laplacianSize, laplacianSize != 3 && laplacianSize != 5 { throw invalid("Laplacian size", laplacianSize, "must be 3 or 5") }
        if case .grid(let cell) = resolution, cell < 1 { throw invalid("grid cell size", cell, "must be ≥ 1") }
        if case .blur(let sigma) = substrate, !(sigma > 0) { throw invalid("blur sigma", sigma, "must be positive") }
        if case .uniform(let limit) = initialization, !(limit >= 0) { throw invalid("initial range", limit, "must be ≥ 0") }
        if let stopping, stopping.window < 1 || !(stopping.tolerance >= 0) {
            throw invalid("stopping rule", "window \(stopping.window) tolerance \(stopping.tolerance)", "window must be ≥ 1 and tolerance ≥ 0")
        }
    }
}
