r"""Expected and maximum calibration error, merged from the fine histogram.

With coarse bins :math:`B_j`, :math:`W_j = \sum_{B_j} w` and :math:`W = \sum_j W_j`:

.. math::

    \mathrm{ECE} = \sum_j \frac{W_j}{W}\,\bigl|\bar p_j - \bar y_j\bigr|
                = \frac{1}{W} \sum_j \Bigl|\sum_{B_j} w (p - y)\Bigr|, \qquad
    \mathrm{MCE} = \max_{j:\,W_j > 0} \bigl|\bar p_j - \bar y_j\bigr|

* **uniform**: :math:`B_j = [j/n, (j+1)/n)` (the last bin includes 1).  Every
  :math:`j/n` that is a fine-bin edge (all of them for n = 15, and for every n that
  divides 100) makes the result exact; otherwise the fine bin holding :math:`j/n`
  goes to the coarse bin of its lower edge, and the bound below counts it.
* **equal-mass**: the rows sorted by p are cut where the cumulative weight crosses
  :math:`jW/n`; a row belongs to the bin in which the weight before it falls.  The cut
  is moved to the nearer edge of the fine bin containing that crossing, or, when that
  fine bin holds a single row, past the row (its place by the rule): then it is exact.

Moving rows of total weight :math:`m` from one coarse bin to another changes two of
the :math:`|\sum w (p - y)|` by at most :math:`m` each, so the reported bound is
:math:`2 \sum_{\text{split fine bins}} W_b / W`, and at most
:math:`\max(\mathrm{ECE}, 1 - \mathrm{ECE})`, since every ECE lies in [0, 1] (equal-mass
bins of hard 0/1 predictions split their two ties wherever the rows fall, so the split
bins hold all of the weight there).

An equal-mass crossing within :data:`TIE` of the total weight of a fine bin's edge or
midpoint counts as on it: the cumulative sums round differently when every weight is
multiplied by a constant that is not a power of two (3, 1e100), and the bins must not
move with that rounding.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..kernels import stats_driver
from .histogram import layout

__all__ = [
    "TIE",
    "coarse_sums",
    "ece_equal_mass",
    "ece_from_assignment",
    "ece_uniform",
    "equal_mass_assignment",
    "uniform_assignment",
]

#: relative to the total weight, the distance below which an equal-mass crossing counts
#: as on a fine bin's edge or midpoint (about 1e-12: far above the cumulative sums'
#: rounding over the fine bins, far below one row in 1e9)
TIE = 2.0**-40


def coarse_sums(
    pos: np.ndarray, neg: np.ndarray, wp: np.ndarray, coarse: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Σ pos, Σ (pos + neg) and Σ wp per coarse bin, each added in fine-bin order (the
    compiled loop of :mod:`bcelab.kernels.histogram_loops` when numba's loops can be had,
    else ``np.bincount``: the same order, the same bits)."""
    coarse = np.asarray(coarse, dtype=np.int64)
    inside = coarse.size == 0 or (int(coarse.min()) >= 0 and int(coarse.max()) < n)
    loops = stats_driver.compiled_loops() if inside else None
    if loops is None:
        return (
            np.bincount(coarse, weights=pos, minlength=n),
            np.bincount(coarse, weights=pos + neg, minlength=n),
            np.bincount(coarse, weights=wp, minlength=n),
        )
    out = np.zeros((3, n))
    loops.coarse_sums(coarse, pos, neg, wp, out)
    return out[0], out[1], out[2]


def ece_from_assignment(
    pos: np.ndarray, neg: np.ndarray, wp: np.ndarray, coarse: np.ndarray, n: int
) -> tuple[float, float]:
    """(ECE, MCE) when fine bin ``i`` belongs to coarse bin ``coarse[i]``."""
    wy, ww, wpp = coarse_sums(pos, neg, wp, coarse, n)
    total = float(ww.sum())
    if total == 0:
        return math.nan, math.nan
    gap = np.abs(wpp - wy)
    nz = ww > 0
    return float(gap.sum() / total), float((gap[nz] / ww[nz]).max())


@functools.lru_cache(maxsize=16)
def uniform_assignment(n: int) -> np.ndarray:
    """Coarse bin of every fine bin for ``n`` equal-width bins (by the fine bin's lower
    edge); read-only, computed once per ``n``."""
    cuts = np.arange(1, n) / n
    out = np.searchsorted(cuts, layout().edges[:-1], side="right")
    out.setflags(write=False)
    return out


def _distinct(idx: np.ndarray) -> np.ndarray:
    """``np.unique`` of an integer array (which, in NumPy 2.4, first imports ``numpy.ma``:
    ~10 ms of a fresh process's first evaluation)."""
    s = np.sort(idx)
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if s.size else s


def _equal_mass_cuts(
    w: np.ndarray, n: int, rows: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    total = float(w.sum())
    cum = np.cumsum(w)
    before = cum - w
    targets = np.arange(1, n) * (total / n)
    # the fine bin in which the cumulative weight crosses each target
    b = np.minimum(np.searchsorted(cum, targets, side="right"), w.shape[0] - 1)
    # distances to that bin's edges; within TIE of the total they count as equal, so
    # that a tie (a target on an edge or a midpoint) is broken the same way at every
    # scale of the weights, whatever the rounding of the sums
    tie = TIE * total
    below, above = targets - before[b], cum[b] - targets
    # move the cut to the nearer edge of that bin: bins < cut[k] are below cut k
    cut = np.where(below <= above + tie, b, b + 1)
    inside = (below > tie) & (above > tie)
    if rows is not None:  # one row: the weight before it lies below the target
        one = inside & (np.asarray(rows)[b] <= 1)
        cut = np.where(one, b + 1, cut)
        inside &= ~one
    return cut, _distinct(b[inside])


def equal_mass_assignment(w: np.ndarray, n: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Coarse bin of every fine bin for ``n`` bins of (nearly) equal weight ``w``;
    ``rows``: the rows of each fine bin, when known (a bin of one row is placed exactly)."""
    cut, _ = _equal_mass_cuts(w, n, rows)
    return np.searchsorted(cut, np.arange(w.shape[0]), side="right")


def ece_uniform(
    pos: np.ndarray, neg: np.ndarray, wp: np.ndarray, n: int, *, bins: np.ndarray | None = None
) -> tuple[float, float, float]:
    """(ECE, MCE, bound) on ``n`` equal-width bins.

    ``bins``: the fine bins the arrays hold, in increasing order, when they hold only
    some (the occupied bins, say); None when they hold every fine bin.
    """
    edges = layout().edges
    cuts = np.arange(1, n) / n
    assignment = uniform_assignment(n)
    if bins is not None:
        assignment = assignment[bins]
    ece, mce = ece_from_assignment(pos, neg, wp, assignment, n)
    w = pos + neg
    j = np.searchsorted(edges, cuts, side="left")
    split = _distinct(j[edges[j] != cuts] - 1)
    if bins is not None:  # the split fine bins among those held
        k = np.minimum(np.searchsorted(bins, split), max(bins.size - 1, 0))
        split = k[bins[k] == split] if bins.size else k[:0]
    total = float(w.sum())
    bound = 2.0 * float(w[split].sum()) / total if total > 0 else math.nan
    return ece, mce, _at_most_the_range(bound, ece)


def ece_equal_mass(
    pos: np.ndarray, neg: np.ndarray, wp: np.ndarray, n: int, *, rows: np.ndarray | None = None
) -> tuple[float, float, float]:
    """(ECE, MCE, bound) on ``n`` bins of equal weight (cuts snapped to fine-bin edges);
    ``rows``: the rows of each fine bin, when known (see the module docstring)."""
    w = pos + neg
    total = float(w.sum())
    if total == 0:
        return math.nan, math.nan, math.nan
    cut, split = _equal_mass_cuts(w, n, rows)
    coarse = np.searchsorted(cut, np.arange(w.shape[0]), side="right")
    ece, mce = ece_from_assignment(pos, neg, wp, coarse, n)
    return ece, mce, _at_most_the_range(2.0 * float(w[split].sum()) / total, ece)


def _at_most_the_range(bound: float, ece: float) -> float:
    """The bound, capped where [0, 1] (every ECE's range) is the tighter one."""
    return min(bound, max(ece, 1.0 - ece)) if math.isfinite(ece) else bound
