r"""The paired Poisson bootstrap kernels (numba): per-row values, weights, replicates.

:mod:`bcelab.metrics.paired` drives these loops over blocks of rows; the NumPy twin
:mod:`bcelab.kernels.bootstrap_reference` gives the same state bit for bit (tested).

1. :func:`row_values`: per row, in float64, the weighted values
   ``w, w y, w (1 - y), w p_A, w p_B, w BCE_A, w BCE_B, w (p_A - y)^2, w (p_B - y)^2``
   (column order :data:`VALUE_NAMES`), the fine and coarse bins of both models, and
   the row's mixed key (:mod:`bcelab.kernels.bootstrap_rng`).  The loss is the core
   formula ``y a + (1 - y) b`` with ``a = -log p`` and ``b = -log1p(-p)`` (or the two
   softplus terms from logits), with the stand-in input where a coefficient is 0, so
   ``0 log 0 = 0``; ``exp``/``log`` come from :mod:`bcelab.kernels.fastmath`.
2. :func:`draw_block`: every row's Poisson weights for every replicate column
   (int8), two columns per hash, vectorised over the hashes and over the columns.
3. :func:`sort_by_bin`: the rows of a block in order of (coarse bin, label kind).
4. :func:`replicate_pass`: one model's histogram (and sums) for a range of columns;
   rows go four at a time within a bin, so ``hist[bin, q, r] += sum_g c[g, r] X[g, q]``
   is one vectorised loop per quantity with one store per four rows.  The values
   :math:`X` are exact integers (units of :math:`2^{-32}`), split into a low word
   (40 bits) and a high word that is only touched for rows with values of 256 or more.
5. :func:`point_add` (from :mod:`bcelab.kernels.bootstrap_point`): the point estimate
   (every weight 1).

Every addition is an integer addition, so no result depends on the order of the rows,
on the block or batch boundaries or on the threads.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
from numba import njit, uint64

from .bootstrap_point import point_add
from .bootstrap_reference import MOMENT_PAIRS, N_VALUES, VALUE_NAMES
from .bootstrap_rng import GAMMA
from .fastmath import exp_nonpos, f64_to_bits, log1p_any, log1p_unit, log_pos

__all__ = [
    "MOMENT_PAIRS",
    "N_VALUES",
    "VALUE_NAMES",
    "draw_block",
    "point_add",
    "replicate_pass",
    "row_values",
    "sort_by_bin",
]

_JIT: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}
_LOG2 = math.log(2.0)


@njit(inline="always", **_JIT)
def _mix(z: Any) -> Any:
    """The SplitMix64 finaliser (:func:`bcelab.kernels.bootstrap_rng.mix`)."""
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


@njit(inline="always", **_JIT)
def _base_bin(p: float, shift: int, off: int, side: int, nk: int) -> int:
    """:func:`bcelab.metrics.histogram.base_index` from the bits of ``q = min(p, 1 - p)``."""
    upper = p >= 0.5
    qb: int = f64_to_bits(min(p, 1.0 - p))
    key = (qb >> shift) - off
    key -= 1 if (upper and (qb & ((1 << shift) - 1)) == 0) else 0
    lo_idx = 0 if key < 0 else 1 + key
    hi_idx = 2 * side - 1 if key < 0 else side + (nk - 1 - key)
    return hi_idx if upper else lo_idx


@njit(inline="always", **_JIT)
def _prob_loss(y: float, z: float, logits: bool, lo_c: float, hi_c: float) -> tuple[float, float]:
    """(probability, BCE) of one row: the core formula with the stand-in inputs."""
    y0 = y == 0.0
    y1 = y == 1.0
    if logits:
        e = exp_nonpos(-abs(z))
        lg = log1p_unit(e)
        a = _LOG2 if y0 else max(-z, 0.0) + lg
        b = _LOG2 if y1 else max(z, 0.0) + lg
        prob = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
    else:
        prob = min(max(z, lo_c), hi_c)
        a = -log_pos(1.0 if y0 else prob)
        b = -log1p_any(-(0.0 if y1 else prob))
    return prob, y * a + (1.0 - y) * b


@njit(**_JIT)
def row_values(
    y: Any,
    pa: Any,
    pb: Any,
    w: Any,
    has_w: bool,
    keys: np.ndarray,
    seed_mixed: Any,
    logits: bool,
    lo_c: float,
    hi_c: float,
    consts: np.ndarray,
    cut_val: np.ndarray,
    cut_off: np.ndarray,
    of_fine: np.ndarray,
    vals: np.ndarray,
    bins: np.ndarray,
    kk: np.ndarray,
    valid: np.ndarray,
) -> None:
    """Per-row values ``vals[q, j]`` (column-major), bins ``bins[j]`` (fine A, fine B,
    coarse A, coarse B) and mixed keys.

    ``valid[j]`` is 1 for a row with a target in [0, 1], two non-NaN predictions and a
    weight > 0; the other rows get zeros (so they add exactly 0 wherever they go).
    ``consts`` holds the fine layout's ``(shift, offset, SIDE, NOCT * K)``.
    """
    shift, off, side, nk = consts[0], consts[1], consts[2], consts[3]
    for j in range(y.shape[0]):
        yi = np.float64(y[j])
        za = np.float64(pa[j])
        zb = np.float64(pb[j])
        wi = np.float64(w[j]) if has_w else 1.0
        ok = (yi >= 0.0) & (yi <= 1.0) & (za == za) & (zb == zb) & (wi > 0.0)
        kk[j] = _mix(keys[j] ^ seed_mixed)
        if not ok:
            valid[j] = 0
            vals[:, j] = 0.0
            bins[j, :] = 0
            continue
        valid[j] = 1
        prob_a, loss_a = _prob_loss(yi, za, logits, lo_c, hi_c)
        prob_b, loss_b = _prob_loss(yi, zb, logits, lo_c, hi_c)
        da = prob_a - yi
        db = prob_b - yi
        vals[0, j] = wi
        vals[1, j] = wi * yi
        vals[2, j] = wi * (1.0 - yi)
        vals[3, j] = wi * prob_a
        vals[4, j] = wi * prob_b
        vals[5, j] = wi * loss_a
        vals[6, j] = wi * loss_b
        vals[7, j] = wi * (da * da)
        vals[8, j] = wi * (db * db)
        for m in range(2):
            prob = prob_a if m == 0 else prob_b
            bb = _base_bin(prob, shift, off, side, nk)
            fb = bb + cut_off[bb] + (1 if prob >= cut_val[bb] else 0)
            bins[j, m] = fb
            bins[j, 2 + m] = of_fine[fb]


@njit(**_JIT)
def sort_by_bin(
    bins: np.ndarray,
    col: int,
    vals: np.ndarray,
    valid: np.ndarray,
    n_bins: int,
    order: np.ndarray,
    skey: np.ndarray,
    bin_rows: np.ndarray,
) -> int:
    """Counting sort of the valid rows by (``bins[:, col]``, label kind); returns their number.

    Also adds each valid row to ``bin_rows[bin]`` (the state's rows per coarse bin).

    The label kind is 0 for ``y = 0``, 1 for ``y = 1`` and 2 for a soft label, so the
    rows of one bin come grouped by label and a group of hard labels leaves one of
    ``w y``, ``w (1 - y)`` at zero (:func:`replicate_pass` skips it).  ``skey[i]`` is
    the key ``3 * bin + kind`` of the row ``order[i]``.
    """
    nk = 3 * n_bins
    counts = np.zeros(nk + 1, dtype=np.int64)
    for j in range(valid.shape[0]):
        if valid[j]:
            kind = 0 if vals[1, j] == 0.0 else (1 if vals[2, j] == 0.0 else 2)
            counts[3 * bins[j, col] + kind + 1] += 1
            bin_rows[bins[j, col]] += 1
    for b in range(nk):
        counts[b + 1] += counts[b]
    for j in range(valid.shape[0]):
        if valid[j]:
            kind = 0 if vals[1, j] == 0.0 else (1 if vals[2, j] == 0.0 else 2)
            key = 3 * bins[j, col] + kind
            order[counts[key]] = j
            skey[counts[key]] = key
            counts[key] += 1
    return int(counts[nk - 1])


_SIGN32 = 0x80000000
#: 32-bit word of a 64-bit hash that holds its low half (the even replicate)
_LOW_WORD = 0 if sys.byteorder == "little" else 1


@njit(**_JIT)
def draw_block(
    kk: np.ndarray, valid: np.ndarray, r0: int, n_rep: int, thr: np.ndarray, cmat: np.ndarray
) -> None:
    """Weights ``cmat[j, c]`` (int8) of replicate column ``r0 + c`` for every valid row ``j``.

    ``r0`` is even and ``cmat`` has an even number of columns: the two halves of one
    hash give two columns.  Per row, one vectorised loop computes the hashes and a
    second one counts, for each 32-bit half, the thresholds at or below it: ``thr``
    holds the thresholds minus ``2**31`` as int32 (so that signed 32-bit lanes compare
    them), and seven comparisons give ``min(c, 7)``.  The rare weights of 7 or more
    (P(c >= 7) = 8e-5 per weight) are finished by a third loop.  Column ``n_rep`` (the
    reference) has weight 1.
    """
    t0, t1, t2, t3, t4, t5, t6 = thr[0], thr[1], thr[2], thr[3], thr[4], thr[5], thr[6]
    npair = cmat.shape[1] // 2
    base = r0 // 2 + 1
    hv = np.empty(npair, dtype=np.uint64)
    u = hv.view(np.uint32)  # the halves of hash t: low u[2 t + _LOW_WORD], high the other
    for j in range(kk.shape[0]):
        if not valid[j]:
            continue
        k = kk[j]
        c = cmat[j]
        for t in range(npair):
            hv[t] = _mix(k + uint64(base + t) * uint64(GAMMA))
        for r in range(2 * npair):
            v = np.int32(u[r ^ _LOW_WORD] ^ np.uint32(_SIGN32))
            c[r] = np.int8((v >= t0) + (v >= t1) + (v >= t2) + (v >= t3) + (v >= t4)
                           + (v >= t5) + (v >= t6))  # fmt: skip
        top = 0
        for r in range(2 * npair):
            top |= c[r] == 7
        if top:
            for r in range(2 * npair):
                if c[r] == 7:
                    v = np.int32(u[r ^ _LOW_WORD] ^ np.uint32(_SIGN32))
                    s = 7
                    while s < thr.shape[0] and v >= thr[s]:
                        s += 1
                    c[r] = s
        if r0 <= n_rep < r0 + 2 * npair:
            c[n_rep - r0] = 1


@njit(inline="always", **_JIT)
def _axpy4(d: np.ndarray, c0: Any, c1: Any, c2: Any, c3: Any, x: np.ndarray) -> None:
    """``d[r] += sum_g c_g[r] * x[g]`` for the four rows of a batch (one vector loop)."""
    x0, x1, x2, x3 = x[0], x[1], x[2], x[3]
    for r in range(d.shape[0]):
        d[r] += c0[r] * x0 + c1[r] * x1 + c2[r] * x2 + c3[r] * x3


@njit(inline="always", **_JIT)
def _split_words(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.int64:
    """``X = round(v * 2**32)`` of every row split at bit 40 into ``lo`` and ``hi`` (one
    vectorised loop); returns the OR of the high words (0: no row needs them)."""
    big = np.int64(0)
    for j in range(v.shape[0]):
        x = v[j]
        h = math.floor(x * 0.00390625)  # X >> 40 with X = x * 2**32
        lo[j] = np.int64(math.floor((x * 4294967296.0 - h * 1099511627776.0) + 0.5))
        hi[j] = np.int64(h)
        big |= np.int64(h)
    return big


@njit(**_JIT)
def replicate_pass(
    order: np.ndarray,
    skey: np.ndarray,
    count: int,
    cmat: np.ndarray,
    vals: np.ndarray,
    hq: np.ndarray,
    sq: np.ndarray,
    hist_lo: np.ndarray,
    hist_hi: np.ndarray,
    sums_lo: np.ndarray,
    sums_hi: np.ndarray,
    r0: int,
    r1: int,
) -> None:
    """Add rows ``order[:count]`` (sorted by :func:`sort_by_bin`) to replicate columns ``r0 .. r1``.

    ``hist_*[bin, q, r] += c X`` for the value rows ``hq`` of ``vals`` (three) and
    ``sums_*[sq[s, 1], r] += c X`` for the value rows ``sq[s, 0]`` (possibly none), with
    the weights ``c = cmat[row, r]`` of :func:`draw_block` and ``X = round(value * 2**32)``
    split at bit 40 (computed for every row first, in row order).  Rows go four at a
    time within a sort key, so each column's store serves four rows, and a quantity
    that is zero for all four (``w y`` for negatives) is skipped.
    """
    nq = hq.shape[0]
    nv = nq + sq.shape[0]
    x_lo = np.empty((nv, vals.shape[1]), dtype=np.int64)
    x_hi = np.empty((nv, vals.shape[1]), dtype=np.int64)
    any_hi = np.int64(0)
    for q in range(nv):
        any_hi |= _split_words(vals[hq[q] if q < nq else sq[q - nq, 0]], x_lo[q], x_hi[q])
    xl = np.zeros((nv, 4), dtype=np.int64)
    xh = np.zeros((nv, 4), dtype=np.int64)
    i = 0
    while i < count:
        key = skey[i]
        e = i + 1
        while e < count and e - i < 4 and skey[e] == key:
            e += 1
        b = key // 3
        # a group of fewer than four rows repeats its first row, with X = 0 (it adds 0)
        c0 = cmat[order[i], r0:r1]
        c1 = cmat[order[i + 1 if i + 1 < e else i], r0:r1]
        c2 = cmat[order[i + 2 if i + 2 < e else i], r0:r1]
        c3 = cmat[order[i + 3 if i + 3 < e else i], r0:r1]
        for q in range(nv):
            big = np.int64(0)
            nz = np.int64(0)
            for g in range(4):
                lo = x_lo[q, order[i + g]] if i + g < e else np.int64(0)
                hi = x_hi[q, order[i + g]] if (any_hi and i + g < e) else np.int64(0)
                xl[q, g] = lo
                xh[q, g] = hi
                big |= hi
                nz |= lo
            if nz:
                d_lo = hist_lo[b, q, r0:r1] if q < nq else sums_lo[sq[q - nq, 1], r0:r1]
                _axpy4(d_lo, c0, c1, c2, c3, xl[q])
            if big:
                d_hi = hist_hi[b, q, r0:r1] if q < nq else sums_hi[sq[q - nq, 1], r0:r1]
                _axpy4(d_hi, c0, c1, c2, c3, xh[q])
        i = e
