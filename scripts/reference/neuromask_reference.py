"""NeuroMask reference trajectory on a tiny CIFAR-style net (CIFAR-demo settings of the paper).

Run from anywhere (a few seconds):
    python3 scripts/reference/neuromask_reference.py

Needs: torch, numpy, scikit-image, pillow, safetensors; imports, at run time,
../shared/tools/torch_reference/neuromask_torch.py (NeuroMask, TF1RMSProp: the faithful port
of the authors' TF1 code) and common.py (photo loading), and small_models_reference.py in this
folder (the CifarNet architecture).

The setting (the authors' CIFAR-10 demo, neuromask_cifar10_demo.py):
  classifier  f(x) = net(x - 0.5)   (the authors' CIFARModel.__call__ subtracts 0.5), net =
              CifarNet of small_models_reference.py at width /8: features.0 Conv2d(3,8,3),
              features.2 Conv2d(8,8,3), features.5 Conv2d(8,16,3), features.7 Conv2d(16,16,3),
              all 'valid', ReLU after each, MaxPool2d(2) after the 2nd and 4th; flatten (C,H,W)
              16*5*5 = 400; classifier.0 Linear(400,32), classifier.2 Linear(32,32),
              classifier.4 Linear(32,10), ReLU between. Random weights, seed 7, with
              classifier.4 (weight and bias) then scaled x20 so the net is confident and the
              prediction term moves w visibly.
  image x     ../shared/images/chelsea.png stretched to 32x32 (skimage.transform.resize
              defaults), [1,3,32,32] in [0,1].
  target      c = argmax f(x).
  w           [32,32] (the TF variable [H,W,1] with the unit axis dropped; same bytes),
              w0 = numpy.random.default_rng(0).uniform(-10, 10, (32, 32)) as float32.
  mask        m = sigmoid(w / T), T = 1;  masked input x * m (broadcast over channels).
  loss        L = 0.4 * CE(f(x*m), c) + 0.35 * mean(|w + 10|) + 0.15 * mean(conv_valid(w, K)^2),
              K = 3x3 Laplacian (-1 everywhere, +8 in the centre), conv output [30,30].
  optimiser   TF1 RMSProp: ms0 = 1, ms <- ms + (g^2 - ms)*(1 - 0.9), w <- w - 0.03*g/sqrt(ms+1e-10).
Iteration i evaluates the losses at w_i (pre-update), then updates w_i -> w_{i+1}.

Writes to Tests/NMExplainTests/References/:
  neuromask_tiny_model.safetensors       weights of `net` (float32, torch key names)
  neuromask_tiny_image.npy               [1,3,32,32] x
  neuromask_tiny_w0.npy                  [32,32] initial w (float32; start the port from it)
  neuromask_tiny_w1.npy, _w2.npy, _w10.npy   [32,32] w after 1, 2 and 10 updates
  neuromask_tiny_ms1.npy, _ms10.npy      [32,32] RMSProp mean-square accumulator after 1 and 10
  neuromask_tiny_grad_pred_iter0.npy     [32,32] d CE / d w at w0 (unweighted term)
  neuromask_tiny_grad_sparse_iter0.npy   [32,32] d mean(|w+10|) / d w at w0 (unweighted)
  neuromask_tiny_grad_smooth_iter0.npy   [32,32] d mean(conv(w,K)^2) / d w at w0 (unweighted)
  neuromask_tiny_grad_total_iter0.npy    [32,32] d L / d w at w0 (= 0.4, 0.35, 0.15 weighted sum)
  neuromask_tiny.json                    settings, target, logits of f(x), and per iteration
                                         0..10 the loss terms, total, and the masked logits.
Computed in float64 from the float32 files above, stored as float32.
"""
import numpy as np
import torch

import refutil
import small_models_reference as small

SIZE = 32
COEFFS = (0.4, 0.35, 0.15)
TEMP = 1.0
WEIGHT_LIMIT = 10.0
LR = 0.03
ITERS = 10
SAVE_AFTER = (1, 2, 10)
MODEL_SEED = 7
LOGIT_SCALE = 20.0
W_SEED = 0


class Shifted(torch.nn.Module):
    """f(x) = net(x - 0.5), as the authors' CIFARModel.__call__."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x - 0.5)


def build_net():
    torch.manual_seed(MODEL_SEED)
    net = small.CifarNet(c1=8, c2=16, hidden=32)
    small.init_weights(net, MODEL_SEED)
    with torch.no_grad():  # a confident net, so the prediction term weighs in the trajectory
        net.classifier[4].weight.mul_(LOGIT_SCALE)
        net.classifier[4].bias.mul_(LOGIT_SCALE)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def run(nm_module, net, img, w0, dtype):
    """Runs the shared port's NeuroMask loop from w0 in `dtype`; returns a dict of results."""
    model = Shifted(net.to(dtype)).eval()
    nm = nm_module.NeuroMask(model, SIZE, SIZE, weight_limit=WEIGHT_LIMIT, temp=TEMP,
                             learning_rate=LR, coeffs=COEFFS, is_cifar=True)
    # Start from the NumPy-seeded w0 instead of the port's torch-seeded init.
    nm.kernel = nm.kernel.to(dtype)
    nm.mask_w = torch.from_numpy(w0).to(dtype)[..., None].clone().requires_grad_(True)
    nm.opt = nm_module.TF1RMSProp(nm.mask_w, lr=LR, ms_init=1.0)
    x = torch.from_numpy(img).to(dtype)
    with torch.no_grad():
        logits_clean = model(x)[0]
    target = torch.tensor([int(logits_clean.argmax())])

    out = {"target": int(target[0]), "logits_clean": logits_clean, "w": {}, "ms": {}, "log": []}
    _, _, _, parts = nm.losses(x, target)
    names = ("pred", "sparse", "smooth")
    grads = [torch.autograd.grad(p, nm.mask_w, retain_graph=True)[0] for p in parts]
    out["grads_iter0"] = dict(zip(names, (g[..., 0] for g in grads)))
    total, _, _, _ = nm.losses(x, target)
    out["grads_iter0"]["total"] = torch.autograd.grad(total, nm.mask_w)[0][..., 0]

    for i in range(ITERS + 1):
        if i < ITERS:
            total, logits, _, parts = nm.step(x, target)   # losses at w_i, then w_i -> w_{i+1}
        else:
            with torch.no_grad():
                total, logits, _, parts = nm.losses(x, target)  # losses at w_10, no update
        probs = torch.softmax(logits.detach()[0], 0)
        out["log"].append({
            "iteration": i, "total": float(total.detach()), "pred_loss": float(parts[0]),
            "sparse_loss": float(parts[1]), "smooth_loss": float(parts[2]),
            "target_probability": float(probs[target[0]]),
            "masked_logits": [float(v) for v in logits.detach()[0]]})
        if i + 1 in SAVE_AFTER and i < ITERS:
            out["w"][i + 1] = nm.mask_w.detach()[..., 0].clone()
            out["ms"][i + 1] = nm.opt.ms.detach()[..., 0].clone()
    return out


def main():
    refutil.setup_torch()
    refutil.import_torch_reference()
    import neuromask_torch
    from common import load_photo

    net = build_net()
    img = np.ascontiguousarray(
        load_photo(str(refutil.SHARED / "images" / "chelsea.png"), SIZE).transpose(2, 0, 1)[None])
    w0 = np.random.default_rng(W_SEED).uniform(-WEIGHT_LIMIT, WEIGHT_LIMIT, (SIZE, SIZE)).astype(np.float32)

    r = run(neuromask_torch, net, img, w0, torch.float64)
    r32 = run(neuromask_torch, build_net(), img, w0, torch.float32)

    # Independent check of the first update: TF1 RMSProp written out in NumPy.
    g0 = r["grads_iter0"]["total"].numpy()
    ms1 = 1.0 + (g0 * g0 - 1.0) * 0.1
    w1 = w0.astype(np.float64) - LR * g0 / np.sqrt(ms1 + 1e-10)
    assert np.allclose(w1, r["w"][1].numpy(), rtol=0, atol=1e-12), "w1 mismatch"
    assert np.allclose(ms1, r["ms"][1].numpy(), rtol=0, atol=1e-12), "ms1 mismatch"
    weighted = sum(c * r["grads_iter0"][k] for c, k in zip(COEFFS, ("pred", "sparse", "smooth")))
    assert torch.allclose(weighted, r["grads_iter0"]["total"], rtol=1e-12, atol=1e-14)

    refutil.OUT = refutil.REPO / "Tests" / "NMExplainTests" / "References"
    print("writing to", refutil.rel(refutil.OUT))
    files = {"neuromask_tiny_model.safetensors": refutil.save_weights(
        "neuromask_tiny_model.safetensors", net,
        "scripts/reference/neuromask_reference.py")}
    files["neuromask_tiny_image.npy"] = refutil.save_npy("neuromask_tiny_image.npy", img)
    files["neuromask_tiny_w0.npy"] = refutil.save_npy("neuromask_tiny_w0.npy", w0)
    for k in SAVE_AFTER:
        files["neuromask_tiny_w%d.npy" % k] = refutil.save_npy("neuromask_tiny_w%d.npy" % k, r["w"][k])
    for k in (1, 10):
        files["neuromask_tiny_ms%d.npy" % k] = refutil.save_npy("neuromask_tiny_ms%d.npy" % k, r["ms"][k])
    for k in ("pred", "sparse", "smooth", "total"):
        name = "neuromask_tiny_grad_%s_iter0.npy" % k
        files[name] = refutil.save_npy(name, r["grads_iter0"][k])

    meta = {
        "generator": "scripts/reference/neuromask_reference.py",
        "reference_code": "../shared/tools/torch_reference/neuromask_torch.py (NeuroMask.losses, "
                          "NeuroMask.step, TF1RMSProp), run in float64",
        "classifier": "f(x) = net(x - 0.5); net = CifarNet width /8 (see the script docstring), "
                      "weights in neuromask_tiny_model.safetensors",
        "image": "../shared/images/chelsea.png stretched to 32x32 with skimage.transform.resize "
                 "defaults, NCHW, [0,1]",
        "w0": "numpy.random.default_rng(%d).uniform(-10, 10, (32, 32)).astype(float32)" % W_SEED,
        "w_layout": "[H, W]; the TF variable is [H, W, 1], same memory order",
        "coefficients": {"pred": COEFFS[0], "sparse": COEFFS[1], "smooth": COEFFS[2]},
        "temperature": TEMP, "weight_limit": WEIGHT_LIMIT,
        "laplacian": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
        "laplacian_padding": "valid (output 30x30), applied to w (not to the mask)",
        "optimizer": {"kind": "TF1 RMSProp", "learning_rate": LR, "decay": 0.9, "momentum": 0.0,
                      "epsilon": 1e-10, "epsilon_inside_sqrt": True, "accumulator_init": 1.0},
        "pred_loss": "softmax cross-entropy of f(x * sigmoid(w / T)) against the target class",
        "sparse_loss": "mean(|w + weight_limit|) over the 32x32 entries",
        "smooth_loss": "mean(conv2d_valid(w, laplacian)^2) over the 30x30 outputs",
        "iteration_semantics": "log[i] holds the losses evaluated at w_i (before update i); "
                               "w_k = w after k updates; log[10] is evaluated at w_10 without "
                               "an update",
        "grads_iter0": "gradients at w0 of the UNWEIGHTED terms (pred, sparse, smooth) and of "
                       "the weighted total",
        "target": r["target"],
        "logits_clean": [float(v) for v in r["logits_clean"]],
        "files": files,
        "log": r["log"],
        "pytorch_float32_vs_this_reference": {
            "w%d_max_abs_diff" % k: float((r32["w"][k].double() - r["w"][k]).abs().max())
            for k in SAVE_AFTER},
        "self_checks": ["w1 and ms1 equal a NumPy transcription of TF1 RMSProp from grad_total",
                        "grad_total equals 0.4*grad_pred + 0.35*grad_sparse + 0.15*grad_smooth"],
    }
    refutil.save_json("neuromask_tiny.json", meta)
    print("  target %d; p(target | clean) %.4f" % (
        r["target"], float(torch.softmax(r["logits_clean"], 0)[r["target"]])))
    for e in r["log"]:
        print("  iter %2d  total %.6f  pred %.6f  sparse %.6f  smooth %.4f  p %.4f" % (
            e["iteration"], e["total"], e["pred_loss"], e["sparse_loss"], e["smooth_loss"],
            e["target_probability"]))
    print("  float32 vs float64:", meta["pytorch_float32_vs_this_reference"])


if __name__ == "__main__":
    main()
