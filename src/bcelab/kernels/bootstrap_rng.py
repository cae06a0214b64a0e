r"""Counter-based Poisson(1) bootstrap weights: a pure function of (seed, row key, replicate).

The paired bootstrap of :mod:`bcelab.metrics.paired` gives row :math:`i` the weight
:math:`c_{ir} \sim \mathrm{Poisson}(1)` in replicate :math:`r`.  There is no generator
state: :math:`c_{ir}` is computed from the seed, the row's 64-bit key and :math:`r`
alone, so it does not depend on the order of the rows, on how they are split into
batches, files, threads or Dask partitions, or on which machine computes it.

**Row keys** (:func:`id_keys`, :func:`file_row_keys`), 64-bit unsigned integers:

* an integer id is its own key (two's complement for negative values);
* a string id is the 64-bit FNV-1a hash of its UTF-8 bytes (offset basis
  ``0xCBF29CE484222325``, prime ``0x100000001B3``); so ``5`` and ``"5"`` differ;
* without ids, row :math:`i` of a source (a file) is keyed by
  :math:`\mathrm{mix}(s \oplus \mathtt{0x243F6A8885A308D3}) + i \bmod 2^{64}`, where
  :math:`s` is the source key (an integer, or the FNV-1a hash of a string such as the
  file path).

**Weights** (:func:`weights`).  With ``mix`` the SplitMix64 finaliser (Steele, Lea &
Flood 2014; the variant of ``java.util.SplittableRandom``)

.. math::

    k_i = \mathrm{mix}(\mathrm{key}_i \oplus \mathrm{mix}(\mathrm{seed} \oplus
          \mathtt{0x9E3779B97F4A7C15})), \qquad
    h_{ij} = \mathrm{mix}(k_i + (j + 1)\,\gamma \bmod 2^{64}), \quad
    \gamma = \mathtt{0x9E3779B97F4A7C15}

(:math:`h_{ij}` is the :math:`j`-th output of a SplitMix64 stream started at
:math:`k_i`).  Replicate :math:`r` uses the low 32 bits of :math:`h_{i, \lfloor r/2
\rfloor}` when :math:`r` is even and the high 32 bits when it is odd, as a uniform
integer :math:`u \in [0, 2^{32})`, and the weight is the Poisson(1) inverse CDF at it:

.. math::

    c_{ir} = \#\{k \in \{0, \dots, 11\} : u \ge T_k\}, \qquad
    T_k = \lceil 2^{32} P(K \le k) \rceil, \quad K \sim \mathrm{Poisson}(1).

The thresholds are computed once, exactly, with 60-digit decimal arithmetic.  Each
probability :math:`P(c = k)` is thus a multiple of :math:`2^{-32}` within
:math:`2^{-32}` of the Poisson(1) one (``T_12`` would be :math:`2^{32}`, so
:math:`c \le 12`; :math:`P(K \ge 13) < 10^{-10}`).  Two rows whose mixed keys differ
by a multiple of :math:`\gamma` smaller than the number of replicates would share
draws; for :math:`n` rows that happens with probability about
:math:`n^2 R / 2^{65}` (0.003 for a billion rows and 200 replicates).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, localcontext
from functools import lru_cache

import numpy as np

from ..errors import DTypeError, OptionError

__all__ = [
    "FNV_OFFSET",
    "FNV_PRIME",
    "GAMMA",
    "MAX_WEIGHT",
    "SOURCE_SALT",
    "file_row_keys",
    "fnv1a",
    "id_keys",
    "mix",
    "mixed_keys",
    "seed_mix",
    "thresholds",
    "weights",
]

GAMMA = 0x9E3779B97F4A7C15
SOURCE_SALT = 0x243F6A8885A308D3
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
#: the largest weight the generator can draw
MAX_WEIGHT = 12
_M64 = (1 << 64) - 1


def mix(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser of every element of a uint64 array (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _mix_int(z: int) -> int:
    return int(mix(np.array([z & _M64], dtype=np.uint64))[0])


def seed_mix(seed: int) -> int:
    """``mix(seed ^ GAMMA)``: the seed's contribution to every row's mixed key."""
    return _mix_int((int(seed) & _M64) ^ GAMMA)


@lru_cache(maxsize=1)
def thresholds() -> np.ndarray:
    """``T_0 .. T_11`` (int64): ``T_k = ceil(2**32 * P(K <= k))`` for K ~ Poisson(1)."""
    with localcontext() as ctx:
        ctx.prec = 60
        e = Decimal(-1).exp()
        cdf, term, out = Decimal(0), Decimal(1), []
        for k in range(MAX_WEIGHT):
            if k:
                term /= k
            cdf += term
            out.append(int((cdf * e * (Decimal(2) ** 32)).to_integral_value(ROUND_CEILING)))
    arr = np.asarray(out, dtype=np.int64)
    arr.setflags(write=False)
    return arr


def fnv1a(values: object) -> np.ndarray:
    """64-bit FNV-1a of the UTF-8 bytes of every string (or of every ``bytes``) in ``values``."""
    items = np.asarray(values, dtype=object).ravel()
    raw = [v.encode("utf-8") if isinstance(v, str) else v for v in items]
    if not all(isinstance(b, bytes) for b in raw):
        bad = next(v for v in items if not isinstance(v, (str, bytes)))
        raise DTypeError(
            "ids must be integers or strings",
            f"received a value of type {type(bad).__name__} ({bad!r})",
            "fill or drop the missing ids"
            if bad is None
            else "give every id one type: all integers, or all strings (e.g. ids.astype(str))",
        )
    n = len(raw)
    h = np.full(n, FNV_OFFSET, dtype=np.uint64)
    lengths = np.fromiter((len(b) for b in raw), dtype=np.int64, count=n)
    step = 1 << 16
    for s in range(0, n, step):  # a padded byte matrix per slice keeps memory small
        part = raw[s : s + step]
        width = int(lengths[s : s + step].max(initial=0))
        if width == 0:
            continue
        mat = np.frombuffer(b"".join(b.ljust(width, b"\0") for b in part), dtype=np.uint8)
        mat = mat.reshape(len(part), width)
        hs = h[s : s + step]
        ln = lengths[s : s + step]
        for col in range(width):
            live = ln > col
            upd = (hs ^ mat[:, col].astype(np.uint64)) * np.uint64(FNV_PRIME)
            hs[:] = np.where(live, upd, hs)
    return h


def id_keys(ids: object) -> np.ndarray:
    """Row keys (uint64) from an id column: integers as themselves, strings by :func:`fnv1a`."""
    arr = np.asarray(ids)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64 if arr.dtype.kind == "i" else np.uint64).ravel().view(np.uint64)
    if arr.dtype.kind in "USO":
        if arr.dtype.kind == "S":
            return fnv1a([bytes(v) for v in arr.ravel()])
        return fnv1a(arr.ravel().astype(object) if arr.dtype.kind == "U" else arr.ravel())
    raise DTypeError(
        "ids must be integers or strings",
        f"received dtype {arr.dtype}",
        "cast the id column to int64 (floats are not exact ids) or to strings",
    )


def source_hash(source_key: object) -> int:
    """A source key as a 64-bit integer: an integer as itself, a string or bytes by FNV-1a."""
    if isinstance(source_key, (int, np.integer)) and not isinstance(source_key, bool):
        return int(source_key) & _M64
    if isinstance(source_key, (str, bytes)):
        return int(fnv1a([source_key])[0])
    raise OptionError(
        "source_key must be an integer or a string (e.g. the file path)",
        f"received {type(source_key).__name__}",
        "pass source_key=str(path)",
    )


def file_row_keys(source_key: object, row_index: np.ndarray) -> np.ndarray:
    """Row keys (uint64) for rows ``row_index`` of the source ``source_key``."""
    base = np.uint64(_mix_int(source_hash(source_key) ^ SOURCE_SALT))
    return np.asarray(row_index).astype(np.int64).view(np.uint64) + base


def mixed_keys(keys: np.ndarray, seed: int) -> np.ndarray:
    """``k_i = mix(key_i ^ seed_mix(seed))`` for every key."""
    return mix(np.asarray(keys, dtype=np.uint64) ^ np.uint64(seed_mix(seed)))


def weights(mixed: np.ndarray, r0: int, r1: int) -> np.ndarray:
    """Weights ``c[i, r - r0]`` (int64) for replicates ``r0 <= r < r1`` of rows with mixed keys."""
    mk = np.asarray(mixed, dtype=np.uint64).reshape(-1, 1)
    r = np.arange(r0, r1, dtype=np.uint64)
    steps = ((r >> np.uint64(1)) + np.uint64(1)) * np.uint64(GAMMA)
    h = mix(mk + steps.reshape(1, -1))
    u = np.where((r & np.uint64(1)) == 0, h & np.uint64(0xFFFFFFFF), h >> np.uint64(32))
    return np.searchsorted(thresholds(), u.astype(np.int64), side="right").astype(np.int64)
