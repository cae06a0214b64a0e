r"""The fixed fine histogram of predictions: one bin layout, identical on every worker.

A prediction :math:`p \in [0, 1]` is binned by the binary exponent and the leading
mantissa bits of :math:`q = \min(p, 1 - p)`, so the bins are *relatively* fine in both
tails, where click-through and risk models put most of their predictions:

* :math:`p < 1/2`: ``frexp(p) = (m, e)`` with :math:`m \in [1/2, 1)`; octave
  :math:`[2^{e-1}, 2^e)` is split into ``K = 256`` equal sub-bins.  Octaves
  :math:`e = -39, \dots, -1` (``NOCT = 40`` of them); everything below
  :math:`2^{-41}` (including 0) is one underflow bin.
* :math:`p \ge 1/2`: the same construction on :math:`q = 1 - p`, which is *exact* in
  float64 for :math:`p \in [1/2, 1]` (Sterbenz), mirrored so that every bin is
  half-open on the right in p: ``[lo, hi)``.  Everything above :math:`1 - 2^{-41}`
  (including 1) is one overflow bin.

Every base edge is a dyadic rational, exactly representable in float64, and the bin
index is computed with exact arithmetic only (``frexp``, a subtraction of 1/2 and a
multiplication by a power of two), so NumPy and the numba kernel give bit-identical
bins.  A bin spans a relative width :math:`\Delta q / q \in (2^{-9}, 2^{-8}]`
(0.2 % to 0.4 %).

On top of the base bins, every **cut point** :math:`c \in \{k/100\} \cup \{k/15\}`
(float64, correctly rounded; the 0.5, 0.25, 0.75, ... that are already base edges
are skipped) splits the base bin that contains it into ``[lo, c)`` and ``[c, hi)``.
Consequently every threshold that is a multiple of 0.01, a multiple of 1/15, or a
base edge is *exactly* a bin edge: the confusion matrix at such a threshold and the
uniform 15-bin ECE are exact.  Each base bin in :math:`[0.01, 0.99]` is narrower than
:math:`2^{-10} < 1/300`, the smallest gap between two cut points, so a base bin holds
at most one cut.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

# K (sub-bins per octave), NOCT (octaves per side) and SIDE (base bins per side) live
# beside the compiled binning, which reads them from the bits of p
from ..kernels.constants import NOCT, SIDE, K

__all__ = ["NOCT", "K", "Layout", "base_index", "fine_index", "layout"]

N_BASE = 2 * SIDE
LAYOUT_ID = f"q-frexp:K={K}:NOCT={NOCT}:cuts=100,15"


class Layout(NamedTuple):
    """The bin layout: ``edges[i] <= p < edges[i + 1]`` is fine bin ``i``."""

    edges: np.ndarray  # float64, n_fine + 1 values, edges[0] = 0, edges[-1] = 1
    cut_val: np.ndarray  # float64 per base bin: the cut inside it, or +inf
    cut_off: np.ndarray  # int64 per base bin: number of cuts in lower base bins
    n_fine: int


def base_index_scalar(p: float) -> int:
    """Base bin of one probability (pure Python; the vectorised twin is :func:`base_index`)."""
    if p < 0.5:
        m, e = math.frexp(p)
        o = e + NOCT
        if p == 0.0 or o < 0:
            return 0
        return 1 + o * K + int((m - 0.5) * (2 * K))
    q = 1.0 - p
    m, e = math.frexp(q)
    s_raw = (m - 0.5) * (2 * K)
    s = int(s_raw)
    if q != 0.0 and s == s_raw:  # q exactly on an edge belongs to the bin below it in q
        s -= 1
        if s < 0:
            s = K - 1
            e -= 1
    o = e + NOCT
    if q == 0.0 or o < 0:
        return 2 * SIDE - 1
    return SIDE + (NOCT * K - 1 - (o * K + s))


def base_index(p: np.ndarray) -> np.ndarray:
    """Base bin of each probability in ``p`` (float64 in [0, 1])."""
    p = np.asarray(p, dtype=np.float64)
    lower = p < 0.5
    q = np.where(lower, p, 1.0 - p)
    m, e = np.frexp(q)
    s_raw = (m - 0.5) * (2 * K)
    s = s_raw.astype(np.int64)
    e = e.astype(np.int64)
    on_edge = (~lower) & (q != 0.0) & (s == s_raw)
    s = np.where(on_edge, s - 1, s)
    wrap = s < 0
    s = np.where(wrap, K - 1, s)
    e = np.where(wrap, e - 1, e)
    o = e + NOCT
    tiny = (q == 0.0) | (o < 0)
    within = o * K + s
    idx_lo = np.where(tiny, 0, 1 + within)
    idx_hi = np.where(tiny, 2 * SIDE - 1, SIDE + (NOCT * K - 1 - within))
    return np.where(lower, idx_lo, idx_hi)


def _base_edges() -> np.ndarray:
    """Lower edge of every base bin, plus 1.0 at the end (N_BASE + 1 values, ascending)."""
    lo = np.empty(SIDE, dtype=np.float64)
    lo[0] = 0.0
    o = np.repeat(np.arange(NOCT), K)
    s = np.tile(np.arange(K), NOCT)
    lo[1:] = np.ldexp(0.5 + s / (2 * K), o - NOCT)
    # upper side: bin SIDE + j covers q in (q_lo, q_hi] with within = NOCT*K - 1 - j,
    # i.e. p in [1 - q_hi, 1 - q_lo); the overflow bin starts at 1 - 2**-(NOCT + 1).
    within = NOCT * K - 1 - np.arange(NOCT * K)
    q_hi = np.ldexp(0.5 + (within % K + 1) / (2 * K), within // K - NOCT)
    hi = np.empty(SIDE, dtype=np.float64)
    hi[:-1] = 1.0 - q_hi
    hi[-1] = 1.0 - math.ldexp(1.0, -(NOCT + 1))
    return np.concatenate([lo, hi, [1.0]])


def _cuts() -> list[float]:
    vals = {k / 100 for k in range(1, 100)} | {k / 15 for k in range(1, 15)}
    return sorted(vals)


@lru_cache(maxsize=1)
def layout() -> Layout:
    """The one bin layout (built once per process; identical on every machine)."""
    base = _base_edges()
    cut_val = np.full(N_BASE, np.inf)
    for c in _cuts():
        b = base_index_scalar(c)
        if base[b] == c:
            continue  # already an edge
        if not (base[b] < c < base[b + 1]) or np.isfinite(cut_val[b]):  # pragma: no cover
            raise AssertionError(f"bin layout: cut {c!r} does not fit in base bin {b}")
        cut_val[b] = c
    has_cut = np.isfinite(cut_val).astype(np.int64)
    cut_off = np.concatenate([[0], np.cumsum(has_cut)[:-1]]).astype(np.int64)
    # every base edge, each cut right after the lower edge of its base bin, then 1.0
    inside = np.flatnonzero(has_cut)
    e = np.insert(base[:N_BASE], inside + 1, cut_val[inside])
    e = np.append(e, 1.0)
    for arr in (e, cut_val, cut_off):
        arr.setflags(write=False)
    return Layout(e, cut_val, cut_off, int(N_BASE + has_cut.sum()))


def fine_index(p: np.ndarray) -> np.ndarray:
    """Fine bin of each probability: ``layout().edges[i] <= p < edges[i + 1]`` (p = 1 is last)."""
    lay = layout()
    b = base_index(p)
    return b + lay.cut_off[b] + (np.asarray(p, dtype=np.float64) >= lay.cut_val[b])
