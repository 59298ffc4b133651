"""Helpers shared by the reference scripts in this folder (paths, file writing, statistics).

Not a script: imported by efficientnet_lite0_reference.py, small_models_reference.py and
neuromask_reference.py. See README.md in this folder.

Conventions of every file written here:
  * arrays: NumPy .npy (format 1.0), dtype '<f4' (little-endian float32), C order;
  * scalars and metadata: JSON (UTF-8, indent 1);
  * weights: safetensors with PyTorch state_dict key names; float32 tensors ("F32") plus the
    BatchNorm `num_batches_tracked` counters, which are int64 scalars ("I64", shape []).
"""
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

SCRIPT_DIR = Path(__file__).resolve().parent
REPO = SCRIPT_DIR.parent.parent
# The project's checkout sits next to `shared` (see shared/README.md); NEUROMASK_SHARED overrides.
SHARED = Path(os.environ.get("NEUROMASK_SHARED", REPO.parent / "shared")).resolve()
TORCH_REFERENCE = SHARED / "tools" / "torch_reference"
OUT = REPO / "Tests" / "NMNetsTests" / "References"


def setup_torch():
    """One thread and deterministic kernels, so re-running gives the same bytes."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def import_torch_reference():
    """Makes ../shared/tools/torch_reference importable (run-time only; never copied)."""
    if not TORCH_REFERENCE.is_dir():
        sys.exit("torch_reference tools not found at %s (set NEUROMASK_SHARED)" % TORCH_REFERENCE)
    if str(TORCH_REFERENCE) not in sys.path:
        sys.path.insert(0, str(TORCH_REFERENCE))


def rel(path):
    return os.path.relpath(path, REPO)


def save_npy(name, array):
    """Writes OUT/name as float32 C-order .npy; returns the shape as a list."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    array = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    np.save(path, array)
    print("  %-44s %-20s %9d bytes" % (name, list(array.shape), path.stat().st_size))
    return list(array.shape)


def save_json(name, obj):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    print("  %-44s %-20s %9d bytes" % (name, "(json)", path.stat().st_size))


def save_weights(name, module, generator):
    """Saves module.state_dict() (float32 tensors, int64 num_batches_tracked) as safetensors.
    The header metadata has one key, {"generator": generator}: safetensors writes metadata from
    a hash map, so several keys would come out in a different order on every run."""
    from safetensors.torch import save_file
    sd = {}
    for k, v in module.state_dict().items():
        v = v.detach().cpu()
        sd[k] = v.to(torch.float32).contiguous() if v.is_floating_point() else v.contiguous()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    save_file(sd, str(path), metadata={"generator": generator})
    n = sum(v.numel() for k, v in sd.items() if v.is_floating_point())
    print("  %-44s %-20s %9d bytes" % (name, "(%d tensors, %d floats)" % (len(sd), n), path.stat().st_size))
    return {k: list(v.shape) for k, v in sd.items()}


def summary_stats(t):
    """mean, population std (ddof 0) and the sum of the first 100 values in C order of a
    tensor, all accumulated in float64; plus its shape and its first 8 values."""
    a = t.detach().to(torch.float64).contiguous().flatten()
    return {
        "shape": list(t.shape),
        "mean": float(a.mean()),
        "std": float(a.std(unbiased=False)),
        "sum_first_100": float(a[:100].sum()),
        "first_8": [float(v) for v in a[:8]],
    }
