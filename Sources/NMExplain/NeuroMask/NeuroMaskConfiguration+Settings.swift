extension NeuroMaskConfiguration {
    /// Every setting by name, for reports (JSON-compatible values).
    public var settings: [String: Any] {
        var result: [String: Any] = [
            "prediction_weight": Double(predictionWeight), "sparsity_weight": Double(sparsityWeight),
            "smoothness_weight": Double(smoothnessWeight), "temperature": Double(temperature),
            "sparsity_offset": Double(sparsityOffset), "learning_rate": Double(learningRate),
            "optimizer": optimizer.name, "iterations": iterations, "substrate": substrate.name,
            "laplacian_size": laplacianSize.map { $0 as Any } ?? "automatic", "laplacian_border": laplacianBorder.rawValue,
            "seed": seed,
        ]
        switch optimizer {
        case .tensorFlowRMSProp(let decay, let epsilon, let initial):
            result["optimizer_settings"] = ["decay": Double(decay), "epsilon": Double(epsilon), "initial_accumulator": Double(initial)]
        case .adam(let beta1, let beta2, let epsilon):
            result["optimizer_settings"] = ["beta1": Double(beta1), "beta2": Double(beta2), "epsilon": Double(epsilon)]
        }
        switch resolution {
        case .perPixel: result["mask_resolution"] = "per-pixel"
        case .grid(let cell): result["mask_resolution"] = "grid(cell=\(cell))"
        }
        switch initialization {
        case .uniform(let limit): result["initialization"] = "uniform(-\(limit), \(limit))"
        case .constant(let value): result["initialization"] = "constant(\(value))"
        case .explicit: result["initialization"] = "explicit"
        }
        if let stopping {
            result["stopping"] = [
                "tolerance": Double(stopping.tolerance), "window": stopping.window, "minimum_probability": Double(stopping.minimumProbability),
            ]
        } else {
            result["stopping"] = "none"
        }
        return result
    }
}
