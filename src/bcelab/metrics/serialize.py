"""The binary encoding of a metric state: versioned, checksummed, no pickle.

Layout (all integers little-endian)::

    b"BCELSTAT"                      8 bytes  magic
    version                          u16      (1)
    header length H                  u32
    header                           H bytes  UTF-8 JSON: {"layout": ..., "arrays":
                                              [[name, dtype, shape], ...]}
    array data                       the arrays' bytes in header order (little-endian)
    crc32                            u32      of everything before it

Decoding checks every part (magic, version, lengths, dtypes, shapes, checksum, the bin
layout) and raises :class:`bcelab.errors.DataError` with what was wrong; it never
executes anything from the input.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = ["VERSION", "arrays_from_bytes", "arrays_to_bytes", "check_arrays"]

MAGIC = b"BCELSTAT"
VERSION = 1
_DTYPES = {"f8": np.dtype("<f8"), "i8": np.dtype("<i8")}


def _bad(received: str) -> DataError:
    return DataError(
        f"BinaryStats.from_bytes: bytes written by BinaryStats.to_bytes (format version {VERSION})",
        received,
        "re-create the state from the data; the bytes are corrupt, truncated, "
        "or from another program",
    )


#: a layout's family (the start of its id) -> the class whose ``to_bytes`` writes it
_WRITERS = (("paired:", "PairedBootstrapStats"), ("", "BinaryStats"))


def _writer(layout: str) -> str:
    return next(name for start, name in _WRITERS if layout.startswith(start))


def arrays_to_bytes(arrays: dict[str, np.ndarray], *, layout_id: str) -> bytes:
    meta = {
        "layout": layout_id,
        "arrays": [[k, v.dtype.str[1:], list(v.shape)] for k, v in arrays.items()],
    }
    header = json.dumps(meta, separators=(",", ":")).encode()
    parts = [MAGIC, struct.pack("<HI", VERSION, len(header)), header]
    for v in arrays.values():
        parts.append(np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")).tobytes())
    body = b"".join(parts)
    return body + struct.pack("<I", zlib.crc32(body))


def arrays_from_bytes(data: bytes, *, layout_id: str | tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays of :func:`arrays_to_bytes`'s bytes, written with ``layout_id`` (or one of
    several: the caller tells them apart by the arrays' names)."""
    accepted = (layout_id,) if isinstance(layout_id, str) else layout_id
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DataError(
            "BinaryStats.from_bytes: bytes",
            f"received {type(data).__name__}",
            "pass the bytes returned by to_bytes()",
        )
    data = bytes(data)
    if len(data) < len(MAGIC) + 10 or data[: len(MAGIC)] != MAGIC:
        raise _bad(f"the bytes do not start with the magic of a bcelab state ({MAGIC!r})")
    body, crc = data[:-4], struct.unpack("<I", data[-4:])[0]
    if zlib.crc32(body) != crc:
        raise _bad("the checksum does not match (corrupt or truncated data)")
    version, hlen = struct.unpack_from("<HI", body, len(MAGIC))
    if version != VERSION:
        raise _bad(f"format version {version}")
    start = len(MAGIC) + 6
    try:
        meta = json.loads(body[start : start + hlen].decode())
        if meta["layout"] not in accepted:
            writer, reader = _writer(str(meta["layout"])), _writer(accepted[0])
            if writer != reader:
                raise DataError(
                    _bad("").expected,
                    f"the bytes of a {writer} (written by its to_bytes), not of a {reader}",
                    f"read them with {writer}.from_bytes",
                )
            raise _bad(
                f"a different histogram layout ({meta['layout']!r}, this version "
                f"uses {accepted[0]!r})"
            )
        specs = [
            (str(n), _DTYPES[str(d)], tuple(int(s) for s in shp)) for n, d, shp in meta["arrays"]
        ]
    except DataError:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise _bad(f"an unreadable header ({type(e).__name__})") from None
    pos = start + hlen
    out: dict[str, np.ndarray] = {}
    for name, dt, shape in specs:
        # Python integers: np.prod wraps around for shapes such as [2**62, 4]
        n = math.prod(shape) * dt.itemsize
        if min(shape, default=0) < 0 or pos + n > len(body):
            raise _bad(f"array {name!r} runs past the end of the data")
        out[name] = (
            np.frombuffer(body, dtype=dt, count=n // dt.itemsize, offset=pos)
            .reshape(shape)
            .astype(dt.newbyteorder("="))
        )
        pos += n
    if pos != len(body):
        raise _bad(f"{len(body) - pos} unexpected trailing bytes")
    return out


def check_arrays(arrays: Any, *, template: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate state arrays against an empty state's; return owned copies."""
    fname = "BinaryStats.from_arrays"
    if not isinstance(arrays, dict) or set(arrays) != set(template):
        got = sorted(arrays) if isinstance(arrays, dict) else type(arrays).__name__
        raise DataError(
            f"{fname}: a dict with keys {sorted(template)}",
            f"received {got}",
            "pass the dict returned by to_arrays()",
        )
    out: dict[str, np.ndarray] = {}
    for k, ref in template.items():
        v = arrays[k]
        if hasattr(v, "detach"):  # torch tensors after all_reduce
            v = v.detach().cpu().numpy()
        v = np.asarray(v)
        # the exact dtype (either byte order): float32 or int32 arrays (an all-reduce in
        # float32, jax without x64) have already lost digits or wrapped around
        same = v.dtype.kind == ref.dtype.kind and v.dtype.itemsize == ref.dtype.itemsize
        if v.shape != ref.shape or not same:
            raise DataError(
                f"{fname}: {k!r} of shape {ref.shape} and dtype {ref.dtype}",
                f"received shape {v.shape} and dtype {v.dtype}",
                "pass the arrays from to_arrays() of this bcelab version, with their "
                "dtypes (int64 and float64) unchanged",
            )
        out[k] = np.array(v, dtype=ref.dtype, copy=True)
    problems = _problems(out)
    if problems:
        raise DataError(
            f"{fname}: a consistent metric state",
            "received " + ", ".join(problems),
            "the state is corrupt; re-create it from the data",
        )
    return out


def _problems(a: dict[str, np.ndarray]) -> list[str]:
    """What is inconsistent in state arrays of the right shapes and dtypes (every sum is
    of terms >= 0; a sum may be +inf: an infinite loss, or weights that overflow)."""
    c, h, hi, lo = a["counts"], a["hist"], a["sums"], a["sums_lo"]
    problems = []
    if (c < 0).any() or (a["hist_n"] < 0).any():
        problems.append("negative counts")
    if c[1] > c[0] or c[2:].max(initial=0) > c[0]:
        problems.append("more used or excluded rows than rows")
    if int(a["hist_n"].sum()) != int(c[1]):
        problems.append("histogram counts that do not add up to the rows used")
    if np.isnan(lo).any() or not ((hi >= 0) & (hi + lo >= 0)).all():
        problems.append("NaN or negative sums (weights, losses)")
    if np.isnan(h).any() or (h < 0).any():
        problems.append("NaN or negative histogram sums")
    pmin, pmax = float(a["pmin"][0]), float(a["pmax"][0])
    if c[1] > 0 and not 0.0 <= pmin <= pmax <= 1.0:
        problems.append(f"a prediction range [{pmin!r}, {pmax!r}] outside 0 <= min <= max <= 1")
    elif pmin != pmin or pmax != pmax:
        problems.append("a NaN prediction range")
    return problems
