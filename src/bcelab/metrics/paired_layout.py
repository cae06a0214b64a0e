r"""The paired bootstrap state's bin layout and its exact fixed-point number formats.

**Bins.**  The point estimate uses the fine histogram of
:mod:`bcelab.metrics.histogram` (20,588 bins).  Each replicate uses a coarse histogram
built from the same construction: every octave of :math:`q = \min(p, 1 - p)` is split
into ``KC = 32`` sub-bins instead of 256 (relative width 1.6 % to 3.1 %), plus the
cut points :math:`k/15`, so the uniform 15-bin ECE is exact in every replicate.  Every
coarse edge is a fine edge: a coarse bin is a run of whole fine bins, and
:func:`coarse_layout` maps each fine bin to its coarse bin.

**Exact sums.**  Every sum of the state is an integer count of a fixed unit, so
adding rows is exact and the state does not depend on the order of the rows, on the
batches, the threads or the merges: the same rows give the same bits.

* Replicates: a weighted per-row value :math:`x \ge 0` (``w y``, ``w p``,
  ``w * BCE``, ...) becomes :math:`X = \mathrm{round}(x\,2^{32})`, stored as
  ``lo = X mod 2^40`` and ``hi = X >> 40``; a replicate adds :math:`c\,X` to two int64
  words (``lo`` in units of :math:`2^{-32}`, ``hi`` in units of :math:`2^{8}`), and a
  carry pass (:func:`normalize_split`) keeps ``lo`` below :math:`2^{40}`.
* Point estimate: :math:`X = \mathrm{round}(x\,2^{64})` in 32-bit limbs (3 limbs for
  first moments, 4 for the products of two weighted values), carried by
  :func:`normalize_limbs`.

Rounding is to nearest (:math:`\lfloor t + 1/2 \rfloor`).  A row's value must be
below :math:`2^{32}` (weights below about 5.7e6 always are); smaller values lose at
most :math:`2^{-33}` (replicates) or :math:`2^{-65}` (point estimate) each.
"""

from __future__ import annotations

import mmap
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .._core.options import check_choice
from ..errors import DataError
from ..kernels.bootstrap_reference import MOMENT_PAIRS, N_VALUES
from .histogram import NOCT, SIDE, K, layout

__all__ = [
    "BINNED",
    "BINNED_KEYS",
    "COMPACT_LAYOUT_ID",
    "COUNT_NAMES",
    "KC",
    "KEYED_BY",
    "KEYED_BY_ID",
    "LAYOUT_ID",
    "LIMB_BITS",
    "MAX_VALUE",
    "MOM_LIMBS",
    "PT_LIMBS",
    "Q_PT",
    "Q_REP",
    "SPLIT",
    "CoarseLayout",
    "carry_point",
    "check_state",
    "coarse_layout",
    "compact_state",
    "count_index",
    "empty_state",
    "expand_state",
    "lazy_zeros",
    "limbs_to_float",
    "limbs_to_int",
    "normalize_limbs",
    "normalize_split",
    "split_to_float",
    "state_shapes",
]

#: sub-bins per octave of the coarse (replicate) histogram
KC = 32
#: replicate values are integers in units of 2**-Q_REP ...
Q_REP = 32
#: ... held as lo (bits below SPLIT) and hi (bits from SPLIT up)
SPLIT = 40
#: point-estimate values are integers in units of 2**-Q_PT, in limbs of LIMB_BITS bits
Q_PT = 64
LIMB_BITS = 32
PT_LIMBS = 3
MOM_LIMBS = 4
#: every weighted per-row value must be below this
MAX_VALUE = 2.0**32
#: the mean weight of the weighted rows must be at least this: each replicate value is
#: rounded to 2**-Q_REP, an error of at most 2**-13 of the sums at this mean (1e-9 moved
#: a log-loss interval by 6%)
MIN_MEAN_WEIGHT = 2.0**-20
#: arrays from this size up are memory-mapped (:func:`lazy_zeros`)
_LAZY_BYTES = 1 << 20
LAYOUT_ID = f"paired:fine=q-frexp:K={K}:NOCT={NOCT}:coarse=KC{KC}+15:rep=Q{Q_REP}/S{SPLIT}:pt=Q{Q_PT}x{LIMB_BITS}"
#: the encoding of :func:`compact_state`: only the bins that hold rows
COMPACT_LAYOUT_ID = f"{LAYOUT_ID}:used-bins"
#: the histograms, indexed (model, bin, ...): their rows per bin first, then the sums
BINNED = {"pt": ("pt_bin_rows", "pt_hist"), "rep": ("rep_bin_rows", "rep_hist_lo", "rep_hist_hi")}
BINNED_KEYS = frozenset(k for keys in BINNED.values() for k in keys)


class CoarseLayout(NamedTuple):
    """Replicate bins: ``edges[j] <= p < edges[j + 1]``; fine bin ``i`` is in ``of_fine[i]``."""

    edges: np.ndarray  # float64, n + 1 values from 0 to 1
    of_fine: np.ndarray  # int32, one per fine bin
    n: int


def _coarse_key(base: np.ndarray) -> np.ndarray:
    """Coarse group of every base bin of the fine layout (KC sub-bins per octave)."""
    g = K // KC
    lower = base < SIDE
    within_lo = base - 1
    key_lo = np.where(base == 0, 0, 1 + (within_lo // K) * KC + (within_lo % K) // g)
    j = base - SIDE
    within_hi = NOCT * K - 1 - j
    side_c = 1 + NOCT * KC
    key_hi = side_c + (NOCT * KC - 1 - ((within_hi // K) * KC + (within_hi % K) // g))
    key_hi = np.where(base == 2 * SIDE - 1, 2 * side_c - 1, key_hi)
    return np.where(lower, key_lo, key_hi)


@lru_cache(maxsize=1)
def coarse_layout() -> CoarseLayout:
    """The one coarse layout (built once per process, identical on every machine)."""
    lay = layout()
    n_base = 2 * SIDE
    base_of_fine = np.empty(lay.n_fine, dtype=np.int64)
    has_cut = np.isfinite(lay.cut_val)
    for b in range(n_base):
        i = b + int(lay.cut_off[b])
        base_of_fine[i] = b
        if has_cut[b]:
            base_of_fine[i + 1] = b
    key = _coarse_key(base_of_fine)
    lower = lay.edges[:-1]
    starts = np.concatenate(([True], key[1:] != key[:-1]))
    cuts = np.arange(1, 15) / 15
    edges = np.union1d(lower[starts], cuts)
    if not np.isin(cuts, lay.edges).all():  # pragma: no cover - guaranteed by the fine layout
        raise AssertionError("coarse layout: k/15 must be fine edges")
    edges = np.concatenate((edges, [1.0]))
    of_fine = (np.searchsorted(edges, lower, side="right") - 1).astype(np.int32)
    for arr in (edges, of_fine):
        arr.setflags(write=False)
    return CoarseLayout(edges, of_fine, int(edges.shape[0] - 1))


def normalize_split(lo: np.ndarray, hi: np.ndarray) -> bool:
    """Carry ``lo`` into ``hi`` in place so that ``0 <= lo < 2**SPLIT`` (the canonical form).

    Returns whether anything was carried.  Elements without a carry are not written,
    so pages of ``hi`` that were never needed stay unallocated.
    """
    if lo.size == 0 or int(lo.max()) < 1 << SPLIT:
        return False
    carry = lo >> SPLIT
    nz = carry != 0
    np.add(hi, carry, out=hi, where=nz)
    np.bitwise_and(lo, (1 << SPLIT) - 1, out=lo, where=nz)
    return True


def normalize_limbs(a: np.ndarray) -> bool:
    """Carry every limb (last axis, least significant first) into the next, in place.

    Returns whether anything was carried.
    """
    mask = (1 << LIMB_BITS) - 1
    if a.size == 0 or int(a[..., :-1].max()) <= mask:
        return False
    for k in range(a.shape[-1] - 1):
        carry = a[..., k] >> LIMB_BITS
        a[..., k + 1] += carry
        a[..., k] &= mask
    return True


def carry_point(a: dict[str, np.ndarray]) -> None:
    """Carry the point estimate's limbs in place (only the bins that hold rows)."""
    for key in ("pt_sums", "pt_mom"):
        normalize_limbs(a[key])
    h = a["pt_hist"]
    for m in range(2):
        used = np.flatnonzero(a["pt_bin_rows"][m])
        sub = h[m, used]
        if normalize_limbs(sub):
            h[m, used] = sub


def split_to_float(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The float64 values of normalised (lo, hi) pairs (deterministic rounding)."""
    return hi.astype(np.float64) * 2.0 ** (SPLIT - Q_REP) + lo.astype(np.float64) * 2.0**-Q_REP


def limbs_to_float(a: np.ndarray) -> np.ndarray:
    """The float64 values of normalised point limbs (last axis), accumulated from the top."""
    out = np.zeros(a.shape[:-1])
    for k in range(a.shape[-1] - 1, -1, -1):
        out = out + a[..., k].astype(np.float64) * 2.0 ** (LIMB_BITS * k - Q_PT)
    return out


def limbs_to_int(a: np.ndarray) -> list[int]:
    """Exact Python integers (units of 2**-Q_PT) of the limb vectors on the last axis."""
    flat = a.reshape(-1, a.shape[-1])
    return [sum(int(v) << (LIMB_BITS * k) for k, v in enumerate(row)) for row in flat]


#: how a state's rows are keyed, by ``meta[2]`` (0: no rows yet)
KEYED_BY = ("", "id", "file and row")
#: ``meta[2]`` of a state whose rows are keyed by an id column
KEYED_BY_ID = KEYED_BY.index("id")

#: the state's counts, in the order of its ``counts`` array
COUNT_NAMES = (
    "rows",
    "used",
    "weighted",
    "nan_a",
    "nan_b",
    "invalid_target",
    "clipped_a",
    "clipped_b",
)


def count_index(name: object, *, fname: str) -> int:
    """The place of the count ``name`` in :data:`COUNT_NAMES` (a wrong name is refused)."""
    checked = check_choice(name, COUNT_NAMES, name="name", fname=fname, hint="pass e.g. 'used'")
    return COUNT_NAMES.index(checked)


def lazy_zeros(shape: tuple[int, ...]) -> np.ndarray:
    """int64 zeros.  An array of 1 MB or more gets its own anonymous memory map: only the
    pages that are written take memory, and all of it goes back to the OS when the array
    is freed (``malloc`` may hand out recycled heap memory instead, zeroed page by page
    and kept after ``free``, so short-lived states would pile up)."""
    size = int(np.prod(shape, dtype=np.int64)) * 8
    if size < _LAZY_BYTES:
        return np.zeros(shape, dtype=np.int64)
    return np.frombuffer(mmap.mmap(-1, size), dtype=np.int64).reshape(shape)


def state_shapes(n_rep: int) -> dict[str, tuple[int, ...]]:
    """The shapes of a paired state's arrays (all int64) with ``n_rep`` replicates."""
    nf, nc = layout().n_fine, coarse_layout().n
    return {
        "meta": (4,),  # replicates, seed, keyed_by, default source used
        "counts": (len(COUNT_NAMES),),
        "pt_hist": (2, nf, 3, PT_LIMBS),
        "pt_bin_rows": (2, nf),  # rows per fine bin
        "pt_sums": (N_VALUES, PT_LIMBS),
        "pt_mom": (len(MOMENT_PAIRS), MOM_LIMBS),
        "rep_hist_lo": (2, nc, 3, n_rep + 1),
        "rep_hist_hi": (2, nc, 3, n_rep + 1),
        "rep_sums_lo": (4, n_rep + 1),
        "rep_sums_hi": (4, n_rep + 1),
        "rep_bin_rows": (2, nc),  # rows per coarse bin
    }


def empty_state(n_rep: int) -> dict[str, np.ndarray]:
    """The arrays of an empty paired state with ``n_rep`` replicates: zeros, the large
    ones memory-mapped (:func:`lazy_zeros`)."""
    return {k: lazy_zeros(shape) for k, shape in state_shapes(n_rep).items()}


def _problems(arrays: dict[str, np.ndarray], n_rep: int) -> list[str]:
    ref = state_shapes(n_rep)
    if set(arrays) != set(ref):
        return [f"arrays {sorted(arrays)}"]
    bad = [k for k in ref if arrays[k].shape != ref[k] or arrays[k].dtype != np.int64]
    if bad:
        return [f"arrays of the wrong shape or dtype: {bad}"]
    for rows_key, *keys in BINNED.values():
        empty = arrays[rows_key] == 0
        if any(arrays[k][empty].any() for k in keys):
            return ["histogram sums in bins without rows"]
    return _value_problems(arrays)


def _value_problems(arrays: dict[str, np.ndarray]) -> list[str]:
    """What is out of range in state arrays, whole or compact (their values alone)."""
    out = []
    if any((arrays[k] < 0).any() for k in ("counts", "pt_bin_rows", "rep_bin_rows")):
        out.append("negative counts")
    if not 0 <= arrays["meta"][2] <= 2 or not 0 <= arrays["meta"][3] <= 1:
        out.append("an unknown keying")
    rows, used, weighted, *excluded = (int(v) for v in arrays["counts"])
    if not (weighted <= used <= rows and max(excluded[:3]) <= rows and max(excluded[3:]) <= used):
        out.append("more used, weighted, excluded or clipped rows than rows")
    for tag, keys in BINNED.items():  # every weighted row is in one bin of each model
        if any(int(n) != weighted for n in _rows_per_model(arrays, tag, keys[0])):
            out.append(f"{tag} histograms whose rows are not the weighted rows")
    limbs = [arrays[k][..., :-1] for k in ("pt_hist", "pt_sums", "pt_mom")]
    if any(((v < 0) | (v >= 1 << LIMB_BITS)).any() for v in limbs):
        out.append("point limbs outside [0, 2**32)")
    for part in ("hist", "sums"):
        lo, hi = arrays[f"rep_{part}_lo"], arrays[f"rep_{part}_hi"]
        if ((lo < 0) | (lo >= 1 << SPLIT)).any() or (hi < 0).any():
            out.append(f"replicate {part} outside their range")
    return out


def _rows_per_model(arrays: dict[str, np.ndarray], tag: str, rows_key: str) -> list[int]:
    rows = arrays[rows_key]
    if rows.ndim == 2:  # whole: (model, bin)
        return [int(r.sum()) for r in rows]
    return [int(r.sum()) for r in np.split(rows, [int(arrays[f"{tag}_used"][0])])]


def check_state(arrays: dict[str, np.ndarray], *, fname: str) -> tuple[int, int]:
    """``(replicates, seed)`` of canonical state arrays; DataError when they are not consistent."""
    meta = arrays.get("meta") if isinstance(arrays, dict) else None
    ok = meta is not None and _meta_ok(meta)
    problems = (
        _problems(arrays, int(meta[0])) if ok and meta is not None else ["no valid meta array"]
    )
    if problems:
        raise _inconsistent(fname, problems)
    assert meta is not None
    return int(meta[0]), int(meta[1])


def _meta_ok(meta: np.ndarray) -> bool:
    return meta.shape == (4,) and 1 <= int(meta[0]) < 2**31 and meta[1] >= 0


def _inconsistent(fname: str, problems: list[str]) -> DataError:
    return DataError(
        f"{fname}: a consistent paired bootstrap state",
        "received " + ", ".join(problems),
        "re-create the state from the data; the bytes are corrupt or from another program",
    )


def compact_state(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical state arrays with each histogram cut to the bins that hold rows: for
    ``pt`` and ``rep``, ``<tag>_used`` (bins per model), ``<tag>_bins`` (their indices,
    model 0's then model 1's, ascending) and the histograms' rows at those bins.  Equal
    states give equal arrays; an empty state is 14 kB here (R = 200) against 53 MB whole."""
    out = {k: v for k, v in arrays.items() if k not in BINNED_KEYS}
    for tag, keys in BINNED.items():
        used = [np.flatnonzero(arrays[keys[0]][m]) for m in range(2)]
        out[f"{tag}_used"] = np.array([u.size for u in used], dtype=np.int64)
        out[f"{tag}_bins"] = np.concatenate(used).astype(np.int64)
        for k in keys:
            out[k] = np.concatenate([arrays[k][m, u] for m, u in enumerate(used)])
    return out


def _compact_problems(c: dict[str, np.ndarray], ref: dict[str, tuple[int, ...]]) -> list[str]:
    """What is wrong with compact arrays, ``ref`` the whole state's shapes."""
    if set(c) != set(ref) | {f"{t}_{x}" for t in BINNED for x in ("used", "bins")}:
        return [f"arrays {sorted(c)}"]
    if any(c[k].dtype != np.int64 for k in c) or any(
        c[k].shape != ref[k] for k in ref if k not in BINNED_KEYS
    ):
        return ["arrays of the wrong shape or dtype"]
    for tag, keys in BINNED.items():
        used, bins, n_bins = c[f"{tag}_used"], c[f"{tag}_bins"], ref[keys[0]][1]
        if used.shape != (2,) or (used < 0).any() or bins.shape != (int(used.sum()),):
            return [f"{tag} bin counts that do not match their indices"]
        parts = np.split(bins, [int(used[0])])
        if any((np.diff(p) <= 0).any() or (p < 0).any() or (p >= n_bins).any() for p in parts):
            return [f"{tag} bin indices that are not ascending bins of the layout"]
        if any(c[k].shape != (bins.size, *ref[k][2:]) for k in keys):
            return [f"{tag} histograms of the wrong shape"]
        if (c[keys[0]] <= 0).any():
            return [f"{tag} bins listed without rows"]
    return _value_problems(c)


def expand_state(compact: dict[str, np.ndarray], *, fname: str) -> dict[str, np.ndarray]:
    """The whole state arrays of :func:`compact_state`'s (checked first: DataError)."""
    meta = compact.get("meta")
    if meta is None or not _meta_ok(meta):
        raise _inconsistent(fname, ["no valid meta array"])
    problems = _compact_problems(compact, state_shapes(int(meta[0])))
    if problems:
        raise _inconsistent(fname, problems)
    out = empty_state(int(meta[0]))  # after the checks: the bytes hold every replicate's sums
    for k in out:
        if k not in BINNED_KEYS:
            out[k][...] = compact[k]
    for tag, keys in BINNED.items():
        bins = np.split(compact[f"{tag}_bins"], [int(compact[f"{tag}_used"][0])])
        start = (0, bins[0].size, bins[0].size + bins[1].size)
        for k in keys:
            for m in range(2):
                out[k][m, bins[m]] = compact[k][start[m] : start[m + 1]]
    return out
