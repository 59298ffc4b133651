import NMTensor

extension Sequential {
    /// The same function with every BatchNorm2d that directly follows a Conv2d (in the same
    /// `Sequential`, at any depth) folded into that convolution's weights and bias: one pass
    /// less per BatchNorm forward and backward. Outputs agree up to Float rounding.
    ///
    /// The folded network no longer has the BatchNorm entries, so its state dict differs from
    /// PyTorch's: load weights first, then fold. Names of the remaining entries are unchanged.
    public func foldingBatchNorms() -> Sequential {
        var folded: [Entry] = []
        for entry in entries {
            if let batchNorm = entry.layer as? BatchNorm2d, let last = folded.last, let convolution = last.layer as? Conv2d {
                folded[folded.count - 1] = Entry(last.name, convolution.folding(batchNorm))
                continue
            }
            folded.append(Entry(entry.name, foldingInside(entry.layer)))
        }
        return Sequential(folded)
    }
}

/// Folds the BatchNorms inside composite layers.
private func foldingInside(_ layer: any Layer) -> any Layer {
    switch layer {
    case let sequential as Sequential:
        return sequential.foldingBatchNorms()
    case let residual as Residual:
        return Residual(body: residual.body.foldingBatchNorms(), shortcut: residual.shortcut?.foldingBatchNorms())
    case let concat as ChannelConcat:
        return ChannelConcat(concat.branches.map { $0.foldingBatchNorms() })
    default:
        return layer
    }
}

extension ImageClassifier {
    /// This classifier with its BatchNorms folded into the convolutions (see
    /// `Sequential.foldingBatchNorms()`): the form explainers should run.
    public func foldingBatchNorms() -> ImageClassifier {
        var copy = self
        copy.network = network.foldingBatchNorms()
        return copy
    }
}
