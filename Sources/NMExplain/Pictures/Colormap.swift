/// A map from a value in [0, 1] to an RGB colour in [0, 1], for drawing saliency maps.
///
/// Values outside [0, 1] are clamped; NaN maps to mid gray (0.5, 0.5, 0.5). Maps are continuous
/// (piecewise linear). matplotlib samples its colormaps into a 256-entry table, so at
/// x = i / 255 the colours here equal matplotlib's `cmap(x)`; between those points matplotlib
/// rounds down to the table entry and this type interpolates.
public enum Colormap: String, CaseIterable, Sendable {
    /// matplotlib's 'jet': dark blue → blue → cyan → yellow → red → dark red.
    case jet
    /// matplotlib's 'viridis' (perceptually uniform, dark purple → green → yellow), from 33 of
    /// its 256 table entries, linearly interpolated (largest deviation 0.0066 per channel).
    case viridis
    /// Black to white: (v, v, v), matplotlib's 'gray'.
    case grayscale

    /// The colour of `value`.
    /// - Parameter value: any Float; clamped to [0, 1], NaN gives mid gray.
    /// - Returns: red, green and blue in [0, 1].
    public func color(_ value: Float) -> (red: Float, green: Float, blue: Float) {
        guard !value.isNaN else { return (0.5, 0.5, 0.5) }
        let x = min(max(value, 0), 1)
        switch self {
        case .jet:
            return (
                piecewiseLinear(x, Colormap.jetRed), piecewiseLinear(x, Colormap.jetGreen),
                piecewiseLinear(x, Colormap.jetBlue))
        case .viridis:
            return Colormap.viridisColor(x)
        case .grayscale:
            return (x, x, x)
        }
    }

    // matplotlib's `_jet_data` (lib/matplotlib/_cm.py): (x, value) anchors per channel.
    private static let jetRed: [(Float, Float)] = [(0, 0), (0.35, 0), (0.66, 1), (0.89, 1), (1, 0.5)]
    private static let jetGreen: [(Float, Float)] = [(0, 0), (0.125, 0), (0.375, 1), (0.64, 1), (0.91, 0), (1, 0)]
    private static let jetBlue: [(Float, Float)] = [(0, 0.5), (0.11, 1), (0.34, 1), (0.65, 0), (1, 0)]

    /// Entries 0, 8, 16, …, 248 and 255 of matplotlib's 256-entry `_viridis_data`
    /// (lib/matplotlib/_cm_listed.py; viridis by Stéfan van der Walt and Nathaniel Smith, CC0),
    /// read from matplotlib 3.11 as `colormaps['viridis'](i / 255)`. Entry k sits at x = index / 255.
    private static let viridisTable: [(index: Float, red: Float, green: Float, blue: Float)] = [
        (0, 0.267004, 0.004874, 0.329415), (8, 0.277018, 0.050344, 0.375715),
        (16, 0.282327, 0.094955, 0.417331), (24, 0.282884, 0.135920, 0.453427),
        (32, 0.278826, 0.175490, 0.483397), (40, 0.270595, 0.214069, 0.507052),
        (48, 0.258965, 0.251537, 0.524736), (56, 0.244972, 0.287675, 0.537260),
        (64, 0.229739, 0.322361, 0.545706), (72, 0.214298, 0.355619, 0.551184),
        (80, 0.199430, 0.387607, 0.554642), (88, 0.185556, 0.418570, 0.556753),
        (96, 0.172719, 0.448791, 0.557885), (104, 0.160665, 0.478540, 0.558115),
        (112, 0.149039, 0.508051, 0.557250), (120, 0.137770, 0.537492, 0.554906),
        (128, 0.127568, 0.566949, 0.550556), (136, 0.120565, 0.596422, 0.543611),
        (144, 0.120638, 0.625828, 0.533488), (152, 0.132268, 0.655014, 0.519661),
        (160, 0.157851, 0.683765, 0.501686), (168, 0.196571, 0.711827, 0.479221),
        (176, 0.246070, 0.738910, 0.452024), (184, 0.304148, 0.764704, 0.419943),
        (192, 0.369214, 0.788888, 0.382914), (200, 0.440137, 0.811138, 0.340967),
        (208, 0.515992, 0.831158, 0.294279), (216, 0.595839, 0.848717, 0.243329),
        (224, 0.678489, 0.863742, 0.189503), (232, 0.762373, 0.876424, 0.137064),
        (240, 0.845561, 0.887322, 0.099702), (248, 0.926106, 0.897330, 0.104071),
        (255, 0.993248, 0.906157, 0.143936),
    ]

    private static func viridisColor(_ x: Float) -> (red: Float, green: Float, blue: Float) {
        let position = x * 255
        // The first entry whose index is ≥ position closes the segment.
        let upper = max(1, viridisTable.firstIndex { $0.index >= position } ?? viridisTable.count - 1)
        let (low, high) = (viridisTable[upper - 1], viridisTable[upper])
        let t = (position - low.index) / (high.index - low.index)
        return (
            low.red + t * (high.red - low.red), low.green + t * (high.green - low.green),
            low.blue + t * (high.blue - low.blue))
    }
}

/// Linear interpolation through `(x, value)` anchors sorted by x, from x = 0 to x = 1.
private func piecewiseLinear(_ x: Float, _ anchors: [(Float, Float)]) -> Float {
    for index in 1..<anchors.count where x <= anchors[index].0 {
        let (x0, y0) = anchors[index - 1]
        let (x1, y1) = anchors[index]
        return x1 > x0 ? y0 + (x - x0) / (x1 - x0) * (y1 - y0) : y1
    }
    return anchors[anchors.count - 1].1
}
