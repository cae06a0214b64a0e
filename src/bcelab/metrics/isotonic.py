r"""Isotonic regression (pool adjacent violators) on a histogram of predictions.

The input is a sequence of bins in increasing order of the prediction p; bin i holds a
positive mass :math:`P_i` and a negative mass :math:`N_i` (a soft label y counts
:math:`w y` and :math:`w (1 - y)`), :math:`M_i = P_i + N_i`.  The weighted isotonic
regression of the bin rates :math:`P_i / M_i` with weights :math:`M_i` pools adjacent
bins into blocks :math:`B` with one value :math:`q_B = P_B / M_B` each, non-decreasing
from block to block.  The same blocks minimise the log loss and the Brier score of the
recalibrated bins (isotonic regression minimises every Bregman loss at once), and a
block's scores are

.. math::

    \mathrm{LL}_B = M_B\,H(q_B) = -P_B \log q_B - N_B \log(1 - q_B), \qquad
    \mathrm{BS}_B = P_B (1 - q_B)^2 + N_B q_B^2 = \frac{P_B N_B}{M_B}

(with :math:`0 \log 0 = 0`).  :func:`pool_adjacent_violators` first pools every maximal
run of decreasing rates at once, with NumPy, for as long as that shrinks the sequence
quickly (two adjacent violators always end in one block, so any order of pooling gives
the same blocks), then finishes with the classic one-pass stack.  The cost is O(bins).
Rates are compared as the quotients :math:`P_i / M_i` (in [0, 1] for weights of any
scale), not as cross products :math:`P_i M_j`, which overflow or vanish for weights
beyond 1e154 or below 1e-154.

:func:`single_score_bins` tells which bins hold one distinct prediction (so that no fit
on rows can give them two values); :func:`split_relaxation` builds the sequence whose
isotonic fit is a lower bound of every fit on the rows, see
:mod:`bcelab.metrics.decomposition`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._core import formulas
from ..errors import DataError
from ..kernels import stats_driver

__all__ = [
    "IsotonicCurve",
    "block_scores",
    "check_steps",
    "isotonic_curve",
    "pool_adjacent_violators",
    "single_score_bins",
    "split_relaxation",
]

#: stop the vectorised pooling when a round removes less than this share of the blocks
_MIN_SHRINK = 0.05


def _pool_runs(
    first: np.ndarray, pos: np.ndarray, mass: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """One vectorised round: pool every maximal run of strictly decreasing rates."""
    rate = pos / mass
    viol = rate[:-1] > rate[1:]
    if not viol.any():
        return first, pos, mass, True
    new = np.concatenate(([True], ~viol))
    group = np.cumsum(new) - 1
    return first[new], np.bincount(group, pos), np.bincount(group, mass), False


def _stack(
    first: np.ndarray, pos: np.ndarray, mass: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one-pass stack algorithm on blocks (Python loop; used on few blocks)."""
    f_out: list[int] = []
    p_out: list[float] = []
    m_out: list[float] = []
    for f, p, m in zip(first.tolist(), pos.tolist(), mass.tolist(), strict=True):
        while p_out and p_out[-1] / m_out[-1] > p / m:
            p += p_out.pop()
            m += m_out.pop()
            f = f_out.pop()
        f_out.append(f)
        p_out.append(p)
        m_out.append(m)
    return np.asarray(f_out, dtype=np.int64), np.asarray(p_out), np.asarray(m_out)


def pool_adjacent_violators(
    pos: np.ndarray, mass: np.ndarray, *, compiled: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blocks of the isotonic regression of ``pos / mass`` with weights ``mass``.

    Args:
        pos: positive mass per element, in increasing order of the prediction.
        mass: total mass per element (``pos <= mass``); elements with mass 0 are skipped.
        compiled: use the compiled loop (:mod:`bcelab.kernels.histogram_loops`, the same
            steps, equal bit for bit) when numba's loops can be had; False runs the
            NumPy and Python steps here.

    Returns:
        ``(first, pos, mass)`` per block: the index of the block's first element with
        mass > 0, and the block's pooled masses.  Block rates ``pos / mass`` are
        non-decreasing (up to the rounding of the divisions).
    """
    pos = np.asarray(pos, dtype=np.float64)
    mass = np.asarray(mass, dtype=np.float64)
    first = np.flatnonzero(mass > 0)
    pos, mass = pos[first], mass[first]  # new arrays: the compiled loop pools them in place
    loops = stats_driver.compiled_loops() if compiled else None
    if loops is not None:
        k = loops.pav_blocks(first, pos, mass, _MIN_SHRINK)
        return first[:k], pos[:k], mass[:k]
    done = pos.size < 2
    while not done:
        before = pos.size
        first, pos, mass, done = _pool_runs(first, pos, mass)
        if not done and pos.size > before * (1.0 - _MIN_SHRINK):
            break
    if not done:
        first, pos, mass = _stack(first, pos, mass)
    return first, pos, mass


def block_scores(pos: np.ndarray, mass: np.ndarray) -> tuple[float, float]:
    """(Σ log loss, Σ Brier score) of blocks recalibrated to their own rate (see above)."""
    q = np.clip(pos / mass, 0.0, 1.0)
    ll = float(np.sum(mass * formulas.entropy(np, q)))
    bs = float(np.sum(pos * (1.0 - q) * (1.0 - q) + (mass - pos) * q * q))
    return ll, bs


#: the sums' rounding must be at most this fraction of a bin's width for the bin's mean
#: to tell whether its rows sit on an edge
_TELLING = 16.0


def single_score_bins(
    edges: np.ndarray,
    wp: np.ndarray,
    mass: np.ndarray,
    count: np.ndarray,
    *,
    bins: np.ndarray | None = None,
) -> np.ndarray:
    """Bins that hold a single distinct prediction (bool per bin).

    A bin ``[edges[i], edges[i + 1])`` holds one distinct prediction when it holds at
    most one row, or when its weighted mean prediction ``wp / mass`` equals one of its
    two edges: every row then sits on that edge.  The comparison allows for the
    rounding of the two sums (at most ``(count + 4)`` float64 epsilons relative), so a
    bin whose rows lie within that distance of an edge counts as one score; this is
    what makes predictions rounded to multiples of 0.01 or 1/15 (exact bin edges) tie.

    ``bins``: the bins (indices into the ``len(edges) - 1`` bins, increasing) that
    ``wp``, ``mass`` and ``count`` hold, when they hold only some; None: all of them.
    """
    edges = np.asarray(edges, dtype=np.float64)
    wp = np.asarray(wp, dtype=np.float64)
    mass = np.asarray(mass, dtype=np.float64)
    count = np.asarray(count)
    lower, upper = edges[:-1], edges[1:]
    if bins is not None:
        lower, upper = lower[bins], upper[bins]
    tol = (count.astype(np.float64) + 4.0) * np.finfo(np.float64).eps
    # a bin without mass (rows of weight 0) holds nothing to split
    out = (count <= 1) | ~(mass > 0)
    # |wp - e mass| <= tol (|wp| + e mass), divided by the mass: the same test, one more
    # rounding (inside the 4 spare epsilons), and no overflow for masses near 1.8e308
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = wp / mass
    for e in (lower, upper):
        slack = tol * (np.abs(mean) + e)
        # near p = 1 the bins are narrower than the sums' rounding (1 - 1e-9 and
        # 1 - 1.003e-9 are distinct predictions in one bin 1.5e-11 wide, while 20,000
        # rows round by 9e-12): there the test cannot tell, and the bin is not single
        telling = slack * _TELLING <= upper - lower
        out |= telling & (np.abs(mean - e) <= slack)
    return out


def split_relaxation(
    pos: np.ndarray, neg: np.ndarray, single: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The sequence (positive mass, mass) in which every splittable bin becomes its
    negatives followed by its positives (a single-score bin stays whole).

    Its isotonic fit is the best any fit on the rows can do whatever the order of the
    rows inside each bin, so its loss is a lower bound of the exact fit's loss.
    """
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    whole = np.zeros(pos.shape, dtype=bool) if single is None else np.asarray(single, bool)
    seq_pos = np.empty(2 * pos.size)
    seq_mass = np.empty(2 * pos.size)
    seq_pos[0::2] = np.where(whole, pos, 0.0)
    seq_mass[0::2] = np.where(whole, pos + neg, neg)
    seq_pos[1::2] = np.where(whole, 0.0, pos)
    seq_mass[1::2] = np.where(whole, 0.0, pos)
    return seq_pos, seq_mass


@dataclass(frozen=True)
class IsotonicCurve:
    """The isotonic recalibration map as a step function of the prediction.

    Block k covers ``edges[k] <= p < edges[k + 1]`` (the last block includes 1) and maps
    it to ``values[k]``; ``mass[k]`` is the weight of its rows and ``mean_pred[k]`` their
    mean prediction (NaN when unknown).  ``edges[0] = 0``, ``edges[-1] = 1``; values are
    non-decreasing and adjacent blocks have different values.
    """

    edges: np.ndarray
    values: np.ndarray
    mass: np.ndarray
    mean_pred: np.ndarray


def isotonic_curve(
    wpos: np.ndarray,
    wneg: np.ndarray,
    edges: np.ndarray,
    wp: np.ndarray | None = None,
) -> IsotonicCurve:
    """The isotonic fit of a histogram as a step function of p.

    Args:
        wpos, wneg: positive and negative mass per bin, bins in increasing order of p.
        edges: the bins' edges (``len(wpos) + 1`` values, ``edges[0] = 0``,
            ``edges[-1] = 1``).
        wp: optional Σ w·p per bin, for the blocks' mean prediction.

    An empty bin belongs to the block on its left (the first block also takes the empty
    bins before it).  Raises nothing; an all-empty histogram gives one block at 0.
    """
    wpos = np.asarray(wpos, dtype=np.float64)
    mass = wpos + np.asarray(wneg, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    first, bpos, bmass = pool_adjacent_violators(wpos, mass)
    if first.size == 0:
        return IsotonicCurve(np.array([0.0, 1.0]), np.zeros(1), np.zeros(1), np.full(1, np.nan))
    values = np.maximum.accumulate(np.clip(bpos / bmass, 0.0, 1.0))
    new = np.concatenate(([True], values[1:] != values[:-1]))
    group = np.cumsum(new) - 1
    bmass = np.bincount(group, bmass)
    lower = edges[first[new]]
    lower[0] = 0.0
    mean_pred = np.full(bmass.size, np.nan)
    if wp is not None:
        ends = np.append(first[new][1:], mass.size)
        csum = np.concatenate(([0.0], np.cumsum(np.asarray(wp, dtype=np.float64))))
        starts = np.concatenate(([0], first[new][1:]))
        mean_pred = (csum[ends] - csum[starts]) / bmass
    return IsotonicCurve(np.append(lower, 1.0), values[new], bmass, mean_pred)


def _broken_rule(e: np.ndarray, v: np.ndarray) -> str | None:
    """The first rule of an isotonic map's steps that ``e`` and ``v`` break, or None."""
    if v.size < 1 or e.size != v.size + 1:
        return f"{v.size} values and {e.size} edges"
    if not (e[0] == 0.0 and e[-1] == 1.0):
        return f"edges from {float(e[0])!r} to {float(e[-1])!r}"
    # comparisons, not np.diff: the difference of two huge edges overflows (and warns)
    checks = (
        (~(e[1:] > e[:-1]), "edge {i} ({a!r}) is not below edge {j} ({b!r})", e),
        (~((v >= 0) & (v <= 1)), "value {i} is {a!r}", v),
        (~(v[1:] >= v[:-1]), "value {j} ({b!r}) is below value {i} ({a!r})", v),
    )
    for bad, text, arr in checks:
        if bad.any():
            i = int(np.argmax(bad))
            j = min(i + 1, arr.size - 1)
            return text.format(i=i, j=j, a=float(arr[i]), b=float(arr[j]))
    return None


def check_steps(edges: object, values: object) -> tuple[np.ndarray, np.ndarray]:
    """The steps of an isotonic map as read-only float64 arrays, checked: k >= 1 values in
    [0, 1], non-decreasing, and k + 1 strictly increasing edges from 0 to 1."""
    fix = "fit the map with fit_isotonic(stats) or save it with IsotonicMap.save"
    try:
        e = np.array(edges, dtype=np.float64).ravel()
        v = np.array(values, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise DataError(
            "isotonic map: edges and values must be lists of numbers",
            f"received {type(edges).__name__} and {type(values).__name__} ({exc})",
            fix,
        ) from None
    with np.errstate(invalid="ignore"):  # inf - inf in the differences: a broken rule
        broken = _broken_rule(e, v)
    if broken is not None:
        raise DataError(
            "isotonic map: k >= 1 values in [0, 1], non-decreasing, and k + 1 strictly "
            "increasing edges from 0 to 1",
            f"received {broken}",
            fix,
        )
    e.setflags(write=False)
    v.setflags(write=False)
    return e, v
