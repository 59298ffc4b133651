import NMNets
import NMTensor
import NMTestSupport
import Testing

/// A layer's tensors by full name.
private func tensors<L: Layer>(of layer: L, role: TensorRole? = nil) -> [String: Tensor] {
    Dictionary(uniqueKeysWithValues: layer.namedTensors(role: role).map { ($0.name, $0.tensor) })
}

/// A copy of `layer` whose tensors are replaced by the given values (by full name).
private func replacing<L: Layer>(_ layer: L, with values: [String: [Float]]) -> L {
    var copy = layer
    copy.updateTensors(prefix: "") { name, _, tensor in
        if let scalars = values[name] { tensor = Tensor(shape: tensor.shape, scalars: scalars) }
    }
    return copy
}

@Suite struct OptimizerTests {
    // Reference values: the derivations in the comments, confirmed with torch.optim in float64:
    //   w = torch.tensor([[1., 2.]]); b = torch.tensor([.5])
    //   opt = torch.optim.SGD([w, b], lr=.1, momentum=.9, weight_decay=.01)
    //   w.grad, b.grad = [[.1, -.2]], [.3]; opt.step(); w.grad, b.grad = [[.2, .4]], [-.1]; opt.step()

    @Test func sgdWithMomentumAndWeightDecayMatchesTwoHandSteps() {
        var layer = Linear(weight: Tensor(shape: [1, 2], scalars: [1, 2]), bias: Tensor(shape: [1], scalars: [0.5]))
        var optimizer = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)

        // Step 1: g = ∇ + 0.01 θ = [0.11, −0.18 | 0.305]; v = g; θ −= 0.1 v.
        optimizer.update(&layer, gradients: replacing(layer, with: ["weight": [0.1, -0.2], "bias": [0.3]]))
        assertClose(layer.weight, Tensor(shape: [1, 2], scalars: [0.989, 2.018]))
        assertClose(layer.bias!, Tensor(shape: [1], scalars: [0.4695]))
        assertClose(optimizer.velocities["weight"]!, Tensor(shape: [1, 2], scalars: [0.11, -0.18]))

        // Step 2: g = [0.20989, 0.42018 | −0.095305]; v = 0.9 v + g = [0.30889, 0.25818 | 0.179195].
        optimizer.update(&layer, gradients: replacing(layer, with: ["weight": [0.2, 0.4], "bias": [-0.1]]))
        assertClose(optimizer.velocities["weight"]!, Tensor(shape: [1, 2], scalars: [0.30889, 0.25818]))
        assertClose(optimizer.velocities["bias"]!, Tensor(shape: [1], scalars: [0.179195]))
        assertClose(layer.weight, Tensor(shape: [1, 2], scalars: [0.958111, 1.992182]))
        assertClose(layer.bias!, Tensor(shape: [1], scalars: [0.4515805]))
    }

    @Test func sgdWithoutMomentumIsPlainGradientDescent() {
        var layer = Linear(weight: Tensor(shape: [2, 1], scalars: [3, -1]))
        var optimizer = SGD(learningRate: 0.5)
        optimizer.update(&layer, gradients: replacing(layer, with: ["weight": [1, 2]]))
        optimizer.update(&layer, gradients: replacing(layer, with: ["weight": [1, 2]]))
        #expect(layer.weight.scalars == [2, -3])
        #expect(optimizer.velocities.isEmpty)
    }

    // Adam reference, the same way:
    //   p = torch.tensor([1., -2.]); opt = torch.optim.Adam([p], lr=.01, betas=(.9, .999), eps=1e-8)
    //   p.grad = [.5, -.1]; opt.step(); p.grad = [-.3, .2]; opt.step()
    @Test func adamMatchesTwoHandSteps() {
        var layer = Linear(weight: Tensor(shape: [2, 1], scalars: [1, -2]))
        var optimizer = Adam(learningRate: 0.01)

        // Step 1: m̂ = g, v̂ = g², so θ moves by lr · g / (|g| + ε) ≈ lr · sign(g).
        optimizer.update(&layer, gradients: replacing(layer, with: ["weight": [0.5, -0.1]]))
        assertClose(layer.weight, Tensor(shape: [2, 1], scalars: [0.99, -1.99]), rtol: 1e-6, atol: 0)
        #expect(optimizer.step == 1)
        assertClose(optimizer.moments["weight"]!.first, Tensor(shape: [2, 1], scalars: [0.05, -0.01]))
        assertClose(optimizer.moments["weight"]!.second, Tensor(shape: [2, 1], scalars: [0.00025, 0.00001]))

        // Step 2: m = [0.015, 0.011], v = [0.00033975, 0.00004999]; m̂ = m / 0.19, v̂ = v / 0.001999;
        // θ −= 0.01 · m̂ / (√v̂ + ε) = [0.00191498, 0.00366104].
        optimizer.update(&layer, gradients: replacing(layer, with: ["weight": [-0.3, 0.2]]))
        assertClose(optimizer.moments["weight"]!.first, Tensor(shape: [2, 1], scalars: [0.015, 0.011]))
        assertClose(optimizer.moments["weight"]!.second, Tensor(shape: [2, 1], scalars: [0.00033975, 0.00004999]))
        assertClose(layer.weight, Tensor(shape: [2, 1], scalars: [0.9880850198941775, -1.993661036038849]), rtol: 1e-6, atol: 0)
    }

    // torch.optim.Adam([p], lr=.01, betas=(.8, .99), eps=1e-3, weight_decay=.1), same gradients.
    @Test func adamWithWeightDecayAndOtherBetasMatchesPyTorch() {
        var layer = Linear(weight: Tensor(shape: [2, 1], scalars: [1, -2]))
        var optimizer = Adam(learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-3, weightDecay: 0.1)
        optimizer.update(&layer, gradients: replacing(layer, with: ["weight": [0.5, -0.1]]))
        assertClose(layer.weight, Tensor(shape: [2, 1], scalars: [0.9900166389351082, -1.9900332225913622]), rtol: 1e-6, atol: 0)
        optimizer.update(&layer, gradients: replacing(layer, with: ["weight": [-0.3, 0.2]]))
        assertClose(layer.weight, Tensor(shape: [2, 1], scalars: [0.9865532335971324, -1.9837876954957627]), rtol: 1e-6, atol: 0)
    }

    @Test func optimizersUpdateParametersByFullNameAndLeaveBuffersAlone() {
        var conv = Conv2d(inputChannels: 2, outputChannels: 2, kernelSize: 1)
        conv.weight = Tensor(shape: [2, 2, 1, 1], scalars: [1, 2, 3, 4])
        var batchNorm = BatchNorm2d(channels: 2)
        batchNorm.updateTensors(prefix: "") { name, _, tensor in
            if name == "running_mean" { tensor = Tensor(shape: [2], scalars: [0.25, -0.5]) }
        }
        let model = Sequential([.init("block", Sequential([.init("0", conv), .init("1", batchNorm)]))])
        // Distinct gradient values per tensor so a mix-up of names shows.
        var gradients = model
        var counter: Float = 0
        gradients.updateTensors(prefix: "") { _, role, tensor in
            counter += 1
            tensor = Tensor(repeating: role == .parameter ? counter : 100, shape: tensor.shape)
        }
        let before = tensors(of: model)
        let gradientsByName = tensors(of: gradients)
        #expect(Set(before.keys) == ["block.0.weight", "block.0.bias", "block.1.weight", "block.1.bias", "block.1.running_mean", "block.1.running_var"])

        var sgdModel = model
        var sgd = SGD(learningRate: 0.5, weightDecay: 0.1)
        sgd.update(&sgdModel, gradients: gradients)
        var adamModel = model
        var adam = Adam(learningRate: 0.5)
        adam.update(&adamModel, gradients: gradients)
        let (afterSGD, afterAdam) = (tensors(of: sgdModel), tensors(of: adamModel))
        for (name, tensor) in before {
            if name.contains("running") {
                #expect(afterSGD[name] == tensor, "SGD changed buffer \(name)")
                #expect(afterAdam[name] == tensor, "Adam changed buffer \(name)")
            } else {
                let gradient = gradientsByName[name]!.scalars
                let expected = tensor.scalars.indices.map { tensor.scalars[$0] - 0.5 * (gradient[$0] + 0.1 * tensor.scalars[$0]) }
                assertClose(afterSGD[name]!, Tensor(shape: tensor.shape, scalars: expected), "SGD on \(name)")
                // Adam's first step moves every scalar by the learning rate against its (positive) gradient.
                assertClose(afterAdam[name]!, tensor - 0.5, rtol: 1e-6, atol: 1e-6, "Adam on \(name)")
            }
        }
        #expect(Set(adam.moments.keys) == ["block.0.weight", "block.0.bias", "block.1.weight", "block.1.bias"])
    }

    /// The gradient layer from `Sequential.backward` is ∂L/∂θ: one small SGD step on a fixed batch
    /// lowers the loss by lr · ‖∇L‖² to first order.
    @Test func sgdStepWithBackpropagatedGradientsLowersTheLoss() {
        let network = Sequential([
            .init("conv", Conv2d(inputChannels: 3, outputChannels: 6, kernelSize: 3, padding: .symmetric(1))),
            .init("relu", Activation.relu),
            .init("pool", MaxPool2d(kernelSize: 2)),
            .init("gap", GlobalAveragePool()),
            .init("fc", Linear(inputFeatures: 6, outputFeatures: 4)),
        ]).randomlyInitialized(seed: 21)
        let images = randomTensor([8, 3, 8, 8], seed: 22)
        let labels = [0, 1, 2, 3, 3, 2, 1, 0]
        func loss(_ network: Sequential) -> Float { crossEntropy(logits: network(images), targets: labels).loss }

        let (logits, cache) = network.forward(images)
        let (lossBefore, gradLogits) = crossEntropy(logits: logits, targets: labels)
        let gradNetwork = network.backward(gradLogits, cache: cache, parameterGradients: true).gradLayer!
        let squaredNorm = gradNetwork.namedTensors(role: .parameter).reduce(Float(0)) { sum, entry in
            sum + entry.tensor.scalars.reduce(0) { $0 + $1 * $1 }
        }
        #expect(squaredNorm > 0)

        let learningRate: Float = 1e-2
        var stepped = network
        var optimizer = SGD(learningRate: learningRate)
        optimizer.update(&stepped, gradients: gradNetwork)
        let decrease = lossBefore - loss(stepped)
        #expect(decrease > 0)
        #expect(abs(decrease - learningRate * squaredNorm) < 0.1 * learningRate * squaredNorm, "decrease \(decrease), predicted \(learningRate * squaredNorm)")
        #expect(loss(network) == lossBefore)
    }
}
