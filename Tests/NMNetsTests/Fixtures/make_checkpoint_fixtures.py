#!/usr/bin/env python3
"""Writes the small PyTorch checkpoint fixtures used by TorchCheckpointTests.swift.

Run from anywhere (needs torch):

    python3 Tests/NMNetsTests/Fixtures/make_checkpoint_fixtures.py [path/to/efficientnet-lite0-57934424.pth]

Outputs, next to this script:
  small_legacy.pth          state dict, legacy (pre-zip) serialisation, pickle protocol 2
  small_zip.pth             the same, zip serialisation (torch >= 1.6 default), protocol 2
  small_zip_proto4.pth      the same as a plain dict, zip, pickle protocol 4 (FRAME, STACK_GLOBAL, MEMOIZE)
  small_expected.json       {"sha256_small_legacy": hex, "entries": [{"name", "dtype", "shape", "values"}]}
                            for the three files above (in file order), taken from torch.load — the
                            independent reference
  storage_view_legacy.pth   hand-written legacy file whose tensor uses a storage *view*
                            (view_metadata), as torch < 1.0 wrote them; torch.load reads it back
  storage_view_expected.json  same layout as small_expected.json (without the checksum)
  out_of_bounds_legacy.pth  hand-written legacy file: a [2, 3] tensor over a 5-element storage
  size_mismatch_legacy.pth  hand-written legacy file: storage declared with 6 elements, holds 5
  bad_magic.pth             a pickle of 12345 instead of the magic number
  set_proto4.pkl            pickle.dumps({"a": {1, 2}}, protocol=4): EMPTY_SET is not whitelisted
  deflated_zip.pth          small_zip.pth re-zipped with data.pkl deflate-compressed
  corrupted_zip.pth         small_zip.pth with one byte of data/0 flipped (CRC-32 mismatch)
  malicious.pkl             raw pickle whose __reduce__ returns (os.system, ('echo pwned',)), protocol 2
  malicious_proto4.pkl      the same, protocol 4 (STACK_GLOBAL)
  malicious_legacy.pth      torch.save of {"weight": <that object>}, legacy format
  malicious_zip.pth         the same, zip format
  truncated_legacy.pth      small_legacy.pth cut in the middle of its last storage
  truncated_zip.pth         small_zip.pth cut in half (no end-of-central-directory record)
  not_a_state_dict.pth      torch.save({"name": "hello"}) (legacy)
  list_checkpoint.pth       torch.save([tensor]) (zip)
  efficientnet_lite0_summary.json  only when the EfficientNet-Lite0 .pth path is given: per entry
                            dtype, shape, float64 sum and the first 4 row-major values
"""

import collections
import hashlib
import io
import json
import math
import os
import pickle
import struct
import sys
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def json_value(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def describe(name, tensor):
    return {
        "name": name,
        "dtype": str(tensor.dtype).replace("torch.", ""),
        "shape": list(tensor.shape),
        # float64 holds every float32/float16/bfloat16 value and these small ints exactly.
        "values": [json_value(v) for v in tensor.detach().to(torch.float64).flatten().tolist()],
    }


def small_state_dict():
    """A module state dict (OrderedDict with _metadata) plus entries covering every dtype and
    the storage layouts the reader must handle."""
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 2, kernel_size=2), torch.nn.BatchNorm2d(2))
    with torch.no_grad():
        module[1].running_mean.copy_(torch.tensor([0.25, -0.5]))
        module[1].running_var.copy_(torch.tensor([1.5, 2.0]))
        module[1].num_batches_tracked.fill_(7)
    state = module.state_dict()  # OrderedDict; pickled with BUILD for its _metadata attribute

    state["half"] = torch.tensor([1.5, -2.25, 65504.0, 2.0**-24, -0.0, 1 / 3, float("inf"), -float("inf")],
                                 dtype=torch.float16)
    state["bfloat16"] = torch.tensor([1.0, -3.140625, 1e30, 2.0**-130], dtype=torch.bfloat16)
    state["double"] = torch.tensor([[1 / 3, -2.5], [1e-40, 123456.789]], dtype=torch.float64)
    state["long"] = torch.tensor([-5, 0, 123456], dtype=torch.int64)
    state["int32"] = torch.tensor([[-2147483648, 7]], dtype=torch.int32)
    state["uint8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    state["bool"] = torch.tensor([True, False, True])
    state["scalar"] = torch.tensor(2.5)
    state["empty"] = torch.zeros(0, 3)

    base = torch.arange(12, dtype=torch.float32) * 0.5 - 1
    state["view.base"] = base                      # shares one storage with the next three
    state["view.offset"] = base[4:10].view(2, 3)   # storage_offset 4, contiguous
    state["view.transposed"] = base[:6].view(2, 3).t()  # stride (1, 3): must be materialised
    state["view.strided"] = base[1::4]             # storage_offset 1, stride (4,)
    state["tied.a"] = state["0.weight"]            # the same tensor twice (tied weights)
    state["tied.b"] = state["0.weight"]
    return state


def save(obj, name, zip_format, protocol=2):
    torch.save(obj, path(name), _use_new_zipfile_serialization=zip_format, pickle_protocol=protocol)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def handwritten_legacy(entries, storages):
    """A legacy checkpoint written without torch.save, for layouts modern torch no longer writes.

    entries: (name, persistent_id, storage_offset, size, stride); a persistent id is
    ('storage', storage type, root_key, location, root_numel, view_metadata) where view_metadata
    is None or (view_key, view_offset, view_numel), as torch < 1.0 wrote views.
    storages: (key, element count written in the header, float32 values)."""

    class Storage:  # stands for a storage; pickled as its persistent id
        def __init__(self, pid):
            self.pid = pid

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            return obj.pid if isinstance(obj, Storage) else None

    state = collections.OrderedDict()
    for name, pid, offset, size, stride in entries:
        state[name] = _Reduce(torch._utils._rebuild_tensor_v2,
                              (Storage(pid), offset, size, stride, False, collections.OrderedDict()))
    out = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001,
                   dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=4))):
        pickle.dump(header, out, protocol=2)
    Writer(out, protocol=2).dump(state)
    pickle.dump([key for key, _, _ in storages], out, protocol=2)
    for _, count, values in storages:
        out.write(struct.pack("<q", count))
        out.write(struct.pack("<%df" % len(values), *values))
    return out.getvalue()


def storage_view_checkpoint():
    root = ("storage", torch.FloatStorage, "root", "cpu", 6, None)
    view = ("storage", torch.FloatStorage, "root", "cpu", 6, ("view", 2, 3))
    return handwritten_legacy(
        # "viewed": storage_offset 1 inside the view [2, 5) = elements 3 and 4 of the root
        [("viewed", view, 1, (2,), (1,)), ("root", root, 0, (2, 3), (3, 1))],
        [("root", 6, [10.0, 11.0, 12.0, 13.0, 14.0, 15.0])])


class _Reduce:
    """Pickles as func(*args)."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def write_json(name, obj, indent=1):
    with open(path(name), "w") as f:
        json.dump(obj, f, indent=indent)
        f.write("\n")


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def main():
    state = small_state_dict()
    save(state, "small_legacy.pth", zip_format=False)
    save(state, "small_zip.pth", zip_format=True)
    save(dict(state), "small_zip_proto4.pth", zip_format=True, protocol=4)

    # The reference: what torch itself reads back (all three files hold the same entries).
    expected = None
    for name in ("small_legacy.pth", "small_zip.pth", "small_zip_proto4.pth"):
        # torch's weights_only unpickler lacks FRAME (protocol 4); we wrote that file ourselves.
        loaded = torch.load(path(name), weights_only=not name.endswith("proto4.pth"))
        described = [describe(k, v) for k, v in loaded.items()]
        assert expected is None or described == expected, name
        expected = described
    legacy = open(path("small_legacy.pth"), "rb").read()
    write_json("small_expected.json", {"sha256_small_legacy": hashlib.sha256(legacy).hexdigest(), "entries": expected})

    write("storage_view_legacy.pth", storage_view_checkpoint())
    loaded = torch.load(path("storage_view_legacy.pth"), weights_only=True)
    write_json("storage_view_expected.json", {"entries": [describe(k, v) for k, v in loaded.items()]})

    root5 = ("storage", torch.FloatStorage, "root", "cpu", 5, None)
    write("out_of_bounds_legacy.pth",
          handwritten_legacy([("weight", root5, 0, (2, 3), (3, 1))], [("root", 5, [1.0, 2.0, 3.0, 4.0, 5.0])]))
    root6 = ("storage", torch.FloatStorage, "root", "cpu", 6, None)
    write("size_mismatch_legacy.pth",
          handwritten_legacy([("weight", root6, 0, (5,), (1,))], [("root", 5, [1.0, 2.0, 3.0, 4.0, 5.0])]))
    write("bad_magic.pth", pickle.dumps(12345, protocol=2))
    write("set_proto4.pkl", pickle.dumps({"a": {1, 2}}, protocol=4))

    with zipfile.ZipFile(path("small_zip.pth")) as source, zipfile.ZipFile(path("deflated_zip.pth"), "w") as target:
        for info in source.infolist():
            method = zipfile.ZIP_DEFLATED if info.filename.endswith("/data.pkl") else zipfile.ZIP_STORED
            target.writestr(info.filename, source.read(info), compress_type=method)
    zipped = bytearray(open(path("small_zip.pth"), "rb").read())
    with zipfile.ZipFile(path("small_zip.pth")) as source:
        info = source.getinfo("small_zip/data/0")
        name_length, extra_length = struct.unpack("<HH", zipped[info.header_offset + 26:info.header_offset + 30])
        zipped[info.header_offset + 30 + name_length + extra_length] ^= 0x01
    write("corrupted_zip.pth", bytes(zipped))

    with open(path("malicious.pkl"), "wb") as f:
        pickle.dump(Evil(), f, protocol=2)
    with open(path("malicious_proto4.pkl"), "wb") as f:
        pickle.dump(Evil(), f, protocol=4)
    save({"weight": Evil()}, "malicious_legacy.pth", zip_format=False)
    save({"weight": Evil()}, "malicious_zip.pth", zip_format=True)

    with open(path("truncated_legacy.pth"), "wb") as f:
        f.write(legacy[:-5])  # the last storage loses its last 5 bytes
    zipped = open(path("small_zip.pth"), "rb").read()
    with open(path("truncated_zip.pth"), "wb") as f:
        f.write(zipped[: len(zipped) // 2])

    save({"name": "hello"}, "not_a_state_dict.pth", zip_format=False)
    save([torch.ones(2)], "list_checkpoint.pth", zip_format=True)

    if len(sys.argv) > 1:
        loaded = torch.load(sys.argv[1], weights_only=True)
        summary = collections.OrderedDict()
        for k, v in loaded.items():
            summary[k] = {
                "dtype": str(v.dtype).replace("torch.", ""),
                "shape": list(v.shape),
                "sum": v.to(torch.float64).sum().item(),
                "first": [json_value(x) for x in v.to(torch.float64).flatten()[:4].tolist()],
            }
        write_json("efficientnet_lite0_summary.json", summary, indent=None)
        floats = [v for v in loaded.values() if v.is_floating_point()]
        print("entries", len(loaded), "floating entries", len(floats),
              "floating elements", sum(v.numel() for v in floats),
              "all elements", sum(v.numel() for v in loaded.values()))


if __name__ == "__main__":
    main()
