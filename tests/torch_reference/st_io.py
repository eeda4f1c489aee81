#!/usr/bin/python3
"""Minimal safetensors reader/writer (numpy + json only) and .npy helpers for the CASP-Net reference.

Format: 8-byte little-endian u64 header length, a UTF-8 JSON header mapping
key -> {"dtype": "F32"|"F16"|"BF16", "shape": [...], "data_offsets": [begin, end]}
(offsets relative to the first byte after the header), an optional
"__metadata__" object of string -> string, then the raw little-endian data.

load() converts every tensor to float32 torch tensors; save() writes F32 by
default, or F16 / BF16 (round to nearest even) for testing loaders.
"""
import json
import struct

import numpy as np
import torch

# dtype name -> (numpy storage dtype, bytes per element)
_DTYPES = {
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),
}


class SafetensorsError(ValueError):
    pass


def _bf16_bits_to_f32(u16):
    return (u16.astype(np.uint32) << np.uint32(16)).view(np.float32)


def _f32_to_bf16_bits(a):
    """float32 array -> uint16 bf16 bit patterns, round to nearest even (NaN stays NaN)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = a.view(np.uint32).astype(np.uint64)
    rounding = ((b >> np.uint64(16)) & np.uint64(1)) + np.uint64(0x7FFF)
    r = ((b + rounding) >> np.uint64(16)).astype(np.uint16)
    nan = np.isnan(a)
    if nan.any():
        r[nan] = ((b[nan] >> np.uint64(16)).astype(np.uint16) | np.uint16(0x0040))
    return r


def load(path):
    """Returns (dict key -> float32 torch.Tensor in file order, metadata dict)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise SafetensorsError(f"{path}: file too short for a safetensors header")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8:
        raise SafetensorsError(f"{path}: header length {n} exceeds file size {len(buf)}")
    try:
        header = json.loads(buf[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: bad JSON header: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    base = 8 + n
    data_len = len(buf) - base
    out = {}
    for key, info in header.items():
        try:
            dt = info["dtype"]
            shape = [int(s) for s in info["shape"]]
            b, e = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{path}: malformed header entry for '{key}'") from None
        if dt not in _DTYPES:
            raise SafetensorsError(f"{path}: tensor '{key}' has unsupported dtype {dt} (F32, F16, BF16 only)")
        npdt, size = _DTYPES[dt]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if b < 0 or e < b or e > data_len or e - b != count * size:
            raise SafetensorsError(
                f"{path}: tensor '{key}' has data_offsets [{b}, {e}] inconsistent with "
                f"{dt} shape {shape} or the data size {data_len}")
        raw = np.frombuffer(buf, dtype=npdt, count=count, offset=base + b)
        if dt == "BF16":
            arr = _bf16_bits_to_f32(raw)
        else:
            arr = raw.astype(np.float32)
        out[key] = torch.from_numpy(np.array(arr, dtype=np.float32).reshape(shape))
    return out, dict(meta)


def save(path, tensors, metadata=None, dtype="F32"):
    """Writes tensors (mapping key -> torch.Tensor / ndarray, order kept) as safetensors."""
    if dtype not in _DTYPES:
        raise SafetensorsError(f"unsupported dtype {dtype}")
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    off = 0
    for key, t in tensors.items():
        if isinstance(t, torch.Tensor):
            a = t.detach().to("cpu", torch.float32).contiguous().numpy()
        else:
            a = np.asarray(t, dtype=np.float32)
        a = np.ascontiguousarray(a, dtype="<f4")
        if dtype == "F32":
            data = a.tobytes()
        elif dtype == "F16":
            data = a.astype("<f2").tobytes()
        else:
            data = _f32_to_bf16_bits(a).astype("<u2").tobytes()
        header[key] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(data)]}
        off += len(data)
        blobs.append(data)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((-len(hj)) % 8)  # pad so the data starts 8-byte aligned (safetensors convention)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for data in blobs:
            f.write(data)


def load_npy(path):
    """A .npy file as a float32 torch tensor."""
    return torch.from_numpy(np.ascontiguousarray(np.load(path), dtype=np.float32))


def save_npy(path, t, dtype=torch.float32):
    """Writes a tensor / array as float32 (or float64) .npy."""
    npd = np.float64 if dtype == torch.float64 else np.float32
    if isinstance(t, torch.Tensor):
        t = t.detach().to("cpu", dtype).contiguous().numpy()
    np.save(path, np.ascontiguousarray(t, dtype=npd))
