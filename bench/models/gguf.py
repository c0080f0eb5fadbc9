"""Read what the manifest needs from a GGUF file's header, and detect truncated files before loading.

Why not the ``gguf`` package: its reader memory-maps the file and materializes every metadata array (a
49k-entry vocabulary becomes ~100k numpy arrays) to answer questions we need six fields for, and on a
truncated file it fails with numpy errors rather than saying "truncated". The header format is small and
stable (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), so we parse it directly and skip
arrays without building them.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from bench.errors import ModelError

__all__ = ["GGUFInfo", "read_gguf_info"]

_MAGIC = b"GGUF"
# value type → struct format for scalars
_SCALAR = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9

# ggml tensor type → (elements per block, bytes per block); from ggml's type traits.
_GGML_BLOCK = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 36),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
    39: (32, 17),
}
_GGML_TYPE_NAME = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    6: "Q5_0",
    7: "Q5_1",
    8: "Q8_0",
    9: "Q8_1",
    10: "Q2_K",
    11: "Q3_K",
    12: "Q4_K",
    13: "Q5_K",
    14: "Q6_K",
    15: "Q8_K",
    16: "IQ2_XXS",
    17: "IQ2_XS",
    18: "IQ3_XXS",
    19: "IQ1_S",
    20: "IQ4_NL",
    21: "IQ3_S",
    22: "IQ2_S",
    23: "IQ4_XS",
    24: "I8",
    25: "I16",
    26: "I32",
    27: "I64",
    28: "F64",
    29: "IQ1_M",
    30: "BF16",
    34: "TQ1_0",
    35: "TQ2_0",
    39: "MXFP4",
}
# llama_ftype (general.file_type) → the quantization name people use.
_FILE_TYPE = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
}
_WANTED_STRINGS = ("general.architecture", "general.name", "tokenizer.chat_template", "tokenizer.ggml.model")


@dataclass(frozen=True)
class GGUFInfo:
    """Facts from a GGUF header. ``tensor_bytes`` is llama-bench's "size"; ``n_params`` its "params"."""

    path: Path
    file_bytes: int
    version: int
    architecture: str
    name: str | None
    n_params: int
    tensor_bytes: int
    quantization: str
    context_length: int | None
    has_chat_template: bool
    n_tensors: int
    metadata: dict[str, Any] = field(default_factory=dict)


class _Truncated(Exception):
    pass


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _Truncated
    return data


def _unpack(f: BinaryIO, fmt: str) -> Any:
    return struct.unpack(fmt, _read(f, struct.calcsize(fmt)))[0]


def _string(f: BinaryIO, limit: int) -> bytes:
    n = _unpack(f, "<Q")
    if n > limit:
        raise ValueError(f"string length {n} exceeds the file size")
    return _read(f, n)


def _skip_value(f: BinaryIO, vtype: int, limit: int) -> None:
    if vtype in _SCALAR:
        _read(f, struct.calcsize(_SCALAR[vtype]))
    elif vtype == _STRING:
        _string(f, limit)
    elif vtype == _ARRAY:
        etype, count = _unpack(f, "<I"), _unpack(f, "<Q")
        if count > limit:
            raise ValueError(f"array length {count} exceeds the file size")
        if etype in _SCALAR:
            f.seek(struct.calcsize(_SCALAR[etype]) * count, 1)
        else:
            for _ in range(count):
                _skip_value(f, etype, limit)
    else:
        raise ValueError(f"unknown metadata value type {vtype}")


def _value(f: BinaryIO, vtype: int, limit: int) -> Any:
    if vtype in _SCALAR:
        return _unpack(f, _SCALAR[vtype])
    if vtype == _STRING:
        return _string(f, limit).decode("utf-8", "replace")
    _skip_value(f, vtype, limit)
    return None


def read_gguf_info(path: Path) -> GGUFInfo:
    """Parse the header; raise ``ModelError`` (one line) for a missing, non-GGUF or truncated file."""
    try:
        size = path.stat().st_size
        f = path.open("rb")
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found (give a .gguf path or a catalog name)") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file: {exc.strerror}") from None
    with f:
        try:
            return _parse(f, path, size)
        except _Truncated:
            raise ModelError(
                f"{path}: truncated GGUF file ({size} bytes; the header or tensor data is cut short); "
                "download or assemble it again"
            ) from None
        except (ValueError, struct.error, OverflowError) as exc:
            raise ModelError(f"{path}: not a valid GGUF file: {exc}") from None


def _parse(f: BinaryIO, path: Path, size: int) -> GGUFInfo:
    if size < 24:
        if f.read(4) == _MAGIC:
            raise _Truncated
        raise ValueError("too small to be a GGUF file")
    magic = _read(f, 4)
    if magic != _MAGIC:
        raise ValueError(f"bad magic {magic!r} (expected b'GGUF')")
    version = _unpack(f, "<I")
    if version not in (2, 3):
        raise ValueError(f"unsupported GGUF version {version}")
    n_tensors, n_kv = _unpack(f, "<Q"), _unpack(f, "<Q")
    if n_tensors > size or n_kv > size:
        raise ValueError("tensor or metadata count exceeds the file size")
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = _string(f, size).decode("utf-8", "replace")
        vtype = _unpack(f, "<I")
        meta[key] = _value(f, vtype, size)
    alignment = int(meta.get("general.alignment") or 32)
    n_params = 0
    data_end = 0
    type_counts: dict[int, int] = {}
    for _ in range(n_tensors):
        _string(f, size)
        n_dims = _unpack(f, "<I")
        if n_dims > 8:
            raise ValueError(f"tensor with {n_dims} dimensions")
        dims = [_unpack(f, "<Q") for _ in range(n_dims)]
        ttype, offset = _unpack(f, "<I"), _unpack(f, "<Q")
        n_el = math.prod(dims)
        n_params += n_el
        type_counts[ttype] = type_counts.get(ttype, 0) + n_el
        block = _GGML_BLOCK.get(ttype)
        nbytes = (n_el // block[0]) * block[1] if block else 0
        data_end = max(data_end, offset + nbytes)
    data_start = -(-f.tell() // alignment) * alignment
    if data_start + data_end > size:
        raise _Truncated
    arch = str(meta.get("general.architecture") or "unknown")
    ftype = meta.get("general.file_type")
    if isinstance(ftype, int) and ftype in _FILE_TYPE:
        quant = _FILE_TYPE[ftype]
    else:  # the tensor type holding most parameters
        quant = (
            _GGML_TYPE_NAME.get(max(type_counts, key=lambda k: type_counts[k]), "?") if type_counts else "?"
        )
    ctx = meta.get(f"{arch}.context_length")
    return GGUFInfo(
        path=path,
        file_bytes=size,
        version=version,
        architecture=arch,
        name=meta.get("general.name"),
        n_params=n_params,
        tensor_bytes=data_end,
        quantization=quant,
        context_length=int(ctx) if isinstance(ctx, int) else None,
        has_chat_template=bool(meta.get("tokenizer.chat_template")),
        n_tensors=n_tensors,
        metadata={k: v for k, v in meta.items() if k in _WANTED_STRINGS or not isinstance(v, str)},
    )
