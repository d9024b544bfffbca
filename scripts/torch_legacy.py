"""Read a legacy (non-zip) PyTorch checkpoint with Python's standard library only.

The legacy format (torch.save with _use_new_zipfile_serialization=False) is five
pickles and raw data, back to back:
  1. a magic number (0x1950a86a20f9469cfc6c), 2. the protocol version (1001),
  3. system info ({'little_endian': True, ...}), 4. the object itself, where each
  tensor is `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` and
  each storage a persistent id ('storage', torch.FloatStorage, key, device, numel, view),
  5. the list of storage keys in the order their data follows;
then for each key: an 8-byte little-endian element count and the raw little-endian data.

    tensors = load('efficientnet-lite0.pth')   # {name: (dtype, shape, flat list)}

Used by scripts/convert_torch_to_safetensors.py and scripts/make_features_fixture.py;
taggan itself reads the same format in Swift (Sources/Features/TorchCheckpoint.swift).
"""
import collections
import pickle
import struct

MAGIC = 0x1950A86A20F9469CFC6C
# storage class -> (safetensors dtype, struct code, bytes per element)
STORAGES = {
    "FloatStorage": ("F32", "f", 4),
    "DoubleStorage": ("F64", "d", 8),
    "HalfStorage": ("F16", "e", 2),
    "LongStorage": ("I64", "q", 8),
    "IntStorage": ("I32", "i", 4),
}


class _StorageType:
    def __init__(self, name):
        self.name = name


class _TensorRef:
    """A tensor not yet filled: its storage key, offset, shape and strides."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    return _TensorRef(storage, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, _device, numel = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        return (storage_type.name, key, numel)


def _is_contiguous(ref):
    step = 1
    for d, s in zip(reversed(ref.size), reversed(ref.stride)):
        if d != 1 and s != step:
            return False
        step *= d
    return True


def _gather(data, ref):
    """Row-major copy of a strided view (weights converted from TensorFlow keep its
    channel-last order in storage, e.g. strides (1, 32, 288, 96) for a 32x3x3x3 kernel)."""
    offsets = [ref.offset]
    for d, s in zip(ref.size, ref.stride):
        offsets = [o + i * s for o in offsets for i in range(d)]
    return tuple(data[o] for o in offsets)


def load(path):
    """{name: (dtype, shape, values)} in the checkpoint's order; values a flat list."""
    with open(path, "rb") as f:
        magic = pickle.load(f)
        if magic != MAGIC:
            raise ValueError(f"{path}: not a legacy torch checkpoint (magic {magic!r})")
        pickle.load(f)  # protocol version
        info = pickle.load(f)
        if not info.get("little_endian", True):
            raise ValueError(f"{path}: big-endian checkpoint")
        state = _Unpickler(f).load()
        keys = pickle.load(f)
        storages = {}
        for key in keys:
            header = f.read(8)
            if len(header) != 8:
                raise ValueError(f"{path}: truncated before storage {key}")
            (count,) = struct.unpack("<q", header)
            kinds = [ref.storage[0] for ref in state.values() if ref.storage[1] == key]
            dtype, code, width = STORAGES[kinds[0]]
            raw = f.read(count * width)
            if len(raw) != count * width:
                raise ValueError(f"{path}: storage {key} truncated")
            storages[key] = (dtype, struct.unpack(f"<{count}{code}", raw))
    out = collections.OrderedDict()
    for name, ref in state.items():
        dtype, data = storages[ref.storage[1]]
        count = 1
        for d in ref.size:
            count *= d
        values = data[ref.offset: ref.offset + count] if _is_contiguous(ref) else _gather(data, ref)
        out[name] = (dtype, ref.size, values)
    return out


if __name__ == "__main__":
    import sys

    tensors = load(sys.argv[1])
    total = 0
    for name, (dtype, shape, values) in tensors.items():
        total += len(values) if dtype.startswith("F") else 0
        print(name, dtype, list(shape))
    print(len(tensors), "tensors,", total, "float parameters")
