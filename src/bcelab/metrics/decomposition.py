r"""Why a model loses: score = uncertainty − discrimination + miscalibration (CORP).

For the log loss and the Brier score S (Bröcker 2009; Dimitriadis, Gneiting & Jordan
2021, "CORP"), with :math:`\hat q` the isotonic (PAV) recalibration of the predictions
and :math:`\bar y = \sum w y / \sum w`:

.. math::

    \mathrm{UNC} = S(\bar y), \quad
    \mathrm{DSC} = \mathrm{UNC} - S(\hat q), \quad
    \mathrm{MCB} = S(p) - S(\hat q), \qquad
    S(p) = \mathrm{UNC} - \mathrm{DSC} + \mathrm{MCB}

so the identity holds by construction.  UNC is the score of always predicting the base
rate (:math:`H(\bar y)` in nats for the log loss, :math:`\bar y (1 - \bar y)` for the
Brier score with hard labels): the floor of a model that knows nothing.  DSC is what
the ranking earns below it; MCB is what a monotone recalibration map would remove.

**From a histogram.**  :math:`S(p)` comes from the exact sums of the state
(:math:`\sum w\,\mathrm{BCE} / \sum w`, :math:`\sum w (p - y)^2 / \sum w`).
:math:`S(\hat q)` is the score of PAV fitted on the fine histogram
(:mod:`bcelab.metrics.isotonic`): every row of a bin gets the value of the bin's block.

**The bound.**  Let :math:`S_{\mathrm{bin}}` be the binned fit's score and
:math:`S_{\mathrm{row}}` the exact fit's, the isotonic regression of y on p over the
rows (rows with equal p get equal values, as in scikit-learn; p is the float64
probability the state bins, the sigmoid of a logit).  (1) The binned fit is
constant on each bin and non-decreasing, so it is one of the functions the exact fit
minimises over: :math:`S_{\mathrm{row}} \le S_{\mathrm{bin}}` (isotonic regression
minimises the log loss and the Brier score at once).  (2) Take the exact fit f and, in
every bin, give the bin's positive mass the largest value f takes in the bin and its
negative mass the smallest.  No row's loss grows, and the result is a non-decreasing fit
of the sequence "negatives of bin 1, positives of bin 1, negatives of bin 2, ...", so
the isotonic fit of that sequence, :math:`S_{\mathrm{split}}`, is
:math:`\le S_{\mathrm{row}}`.  A bin that holds one distinct prediction (one row, or a
mean prediction on one of its edges) cannot be split and stays whole.  The state keeps
sums, not rows, so predictions within a few float64 ulps of a bin edge (the sums'
rounding) count as that edge: the bound is for the exact fit with such near-ties tied.
Hence

.. math::

    S_{\mathrm{split}} \le S_{\mathrm{row}} \le S_{\mathrm{bin}}, \qquad
    0 \le \mathrm{MCB}_{\mathrm{row}} - \mathrm{MCB}_{\mathrm{bin}}
      = \mathrm{DSC}_{\mathrm{row}} - \mathrm{DSC}_{\mathrm{bin}}
      \le S_{\mathrm{bin}} - S_{\mathrm{split}} = \mathrm{bound}.

It is the smallest bound the histogram allows: if every bin's negatives had smaller
predictions than its positives, the exact fit would reach :math:`S_{\mathrm{split}}`.
Both :math:`S(p)` (the predictions themselves are an isotonic fit) and UNC (a constant
is one) are :math:`\ge S_{\mathrm{row}}`, so :math:`S_{\mathrm{bin}}` is lowered to
:math:`\min(S_{\mathrm{bin}}, S(p), \mathrm{UNC})` before use: MCB and DSC are never
negative and the bound still holds.  A relative 1e-12 is added for rounding.  The
exact values lie in ``[value, value + bound]`` for MCB and DSC (within ``± bound`` for
the Brier score with soft labels, below).

**Soft labels and the Brier score.**  A soft label y counts :math:`w y` positive and
:math:`w (1 - y)` negative mass, which gives the same fit as the isotonic regression of
y with weights w, and the log loss is linear in y.  The Brier score is not:
:math:`(p - y)^2 = y (1 - p)^2 + (1 - y) p^2 - y (1 - y)`, so with soft labels every
Brier term carries the label variance :math:`c = \sum w y (1 - y) / \sum w`, which no
forecast removes (UNC becomes :math:`\bar y (1 - \bar y) - c`).  The state keeps no
:math:`\sum w y^2`; :func:`soft_label_variance` brackets c from the histogram (the
spread of p in a bin is 0.2-0.4 % of min(p, 1 - p)), and the half-width of that bracket
is added to the Brier bound.  With hard labels c = 0 exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._core import formulas
from .._core.display import count_of
from .._core.options import check_bool, check_instance, real_number
from ..errors import EmptyReductionError, OptionError
from .binned_inputs import check_histogram
from .compute import state_weight_error
from .isotonic import block_scores, pool_adjacent_violators, single_score_bins, split_relaxation
from .stats import BinaryStats

__all__ = [
    "CalibrationDecomposition",
    "ScoreDecomposition",
    "decompose_binned",
    "decompose_stats",
    "log_loss_terms",
    "soft_label_variance",
]

#: relative allowance for floating-point rounding added to every bound
ROUNDING = 1e-12
BOUND_HINT = "pass with_bound=False to skip the bound (about half the work), else True"


def _json(v: float) -> float | None:
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class ScoreDecomposition:
    """``score = uncertainty − discrimination + miscalibration`` for one score.

    ``bound``: the exact (in-memory) miscalibration and discrimination lie in
    ``[value, value + bound]``, and the uncertainty is exact; for the Brier score with
    soft labels all three are within ``± bound``.  NaN when the bound was not computed.
    """

    score: float
    uncertainty: float
    discrimination: float
    miscalibration: float
    bound: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-safe: ``score``, ``uncertainty``, ``discrimination``, ``miscalibration``,
        ``bound`` (non-finite values, e.g. an infinite log loss, become ``None``)."""
        return {
            "score": _json(self.score),
            "uncertainty": _json(self.uncertainty),
            "discrimination": _json(self.discrimination),
            "miscalibration": _json(self.miscalibration),
            "bound": _json(self.bound),
        }


@dataclass(frozen=True)
class CalibrationDecomposition:
    """The decomposition of the log loss (nats) and of the Brier score."""

    log_loss: ScoreDecomposition
    brier: ScoreDecomposition

    def to_dict(self) -> dict[str, dict[str, float | None]]:
        """``{"log_loss": {...}, "brier": {...}}`` (see :meth:`ScoreDecomposition.to_dict`)."""
        return {"log_loss": self.log_loss.to_dict(), "brier": self.brier.to_dict()}

    def summary_line(self) -> str:
        """One line in the spirit of floor + excess, for the text output."""
        d = self.log_loss
        ranking = (
            f"uncertainty {d.uncertainty:.4g} − discrimination {d.discrimination:.4g} = "
            f"{d.uncertainty - d.discrimination:.4g}"
        )
        if not math.isfinite(d.score):
            return (
                "the log loss is infinite (a prediction of exactly 0 or 1 was wrong); "
                f"recalibrating would bring it down to the ranking's {ranking}"
            )
        share = 100.0 * d.miscalibration / d.score if d.score > 0 else 0.0
        return (
            f"recalibrating would remove {d.miscalibration:.4g} of the log loss "
            f"{d.score:.4g} ({share:.1f}%); the rest is ranking: {ranking}"
        )

    def __str__(self) -> str:
        rows = [f"{'':16}{'log loss':>12}{'Brier':>12}"]
        for name in ("score", "uncertainty", "discrimination", "miscalibration", "bound"):
            a, b = getattr(self.log_loss, name), getattr(self.brier, name)
            rows.append(f"{name:16}{a:12.6g}{b:12.6g}")
        return "\n".join(rows)

    def _repr_html_(self) -> str:
        head = "<tr><th></th><th>log loss</th><th>Brier</th></tr>"
        body = "".join(
            f"<tr><td>{name}</td><td>{getattr(self.log_loss, name):.6g}</td>"
            f"<td>{getattr(self.brier, name):.6g}</td></tr>"
            for name in ("score", "uncertainty", "discrimination", "miscalibration", "bound")
        )
        return f"<table>{head}{body}</table>"


def _parts(
    score: float, unc: float, s_bin: float, s_split: float | None, extra: float
) -> tuple[float, float, float]:
    """(discrimination, miscalibration, bound) from the scores (all means); ``extra`` is
    added to the bound."""
    s_fit = min(s_bin, unc, score)
    if s_split is None:
        bound = math.nan
    else:
        bound = max(s_fit - s_split, 0.0) + ROUNDING * (abs(s_fit) + abs(unc)) + extra
    return unc - s_fit, score - s_fit, bound


def decompose_binned(
    wpos: np.ndarray,
    wneg: np.ndarray,
    *,
    score_log_loss: float,
    score_brier: float,
    single_score: np.ndarray | None = None,
    label_variance: float = 0.0,
    label_variance_error: float = 0.0,
    with_bound: bool = True,
) -> CalibrationDecomposition:
    """The decomposition from any histogram whose bins are in increasing order of p.

    Args:
        wpos, wneg: positive and negative mass per bin (1-d, same length).
        score_log_loss, score_brier: the scores of the predictions themselves (weighted
            means over the same rows, from exact sums).
        single_score: optional bool per bin, True where the bin holds one distinct
            prediction (:func:`bcelab.metrics.isotonic.single_score_bins`); without it
            every bin may be split, which gives a valid but larger bound.
        label_variance, label_variance_error: Σ w y (1 − y) / Σ w and the half-width of
            its bracket (0 for hard labels; :func:`soft_label_variance`).
        with_bound: False skips the bound (``bound`` is NaN), about half the work.

    Cost: O(bins), vectorised.  Raises :class:`EmptyReductionError` when the
    histogram holds no mass.
    """
    with_bound = check_bool(
        with_bound, name="with_bound", fname="decompose_binned", hint=BOUND_HINT
    )
    wpos, wneg, single = check_histogram(wpos, wneg, single_score, score_log_loss, score_brier)
    c, c_err = real_number(label_variance), real_number(label_variance_error)
    if not (0.0 <= c <= 0.25 and 0.0 <= c_err < math.inf):
        raise OptionError(
            "decompose_binned: label_variance in [0, 0.25] and label_variance_error >= 0, finite",
            f"received label_variance={label_variance!r}, "
            f"label_variance_error={label_variance_error!r}",
            "pass soft_label_variance()'s (estimate, half-width), or 0 and 0 for hard labels",
        )
    mass = wpos + wneg
    total = float(mass.sum())
    if not total > 0:
        raise EmptyReductionError(
            "decompose_binned: a histogram with positive total weight",
            f"received {mass.size} bins with total weight {total!r}",
            "pass the histogram of at least one row with weight > 0",
        )
    base = min(max(float(wpos.sum()) / total, 0.0), 1.0)
    _, bpos, bmass = pool_adjacent_violators(wpos, mass)
    ll_bin, bs_bin = block_scores(bpos, bmass)
    ll_split: float | None = None
    bs_split: float | None = None
    if with_bound:
        seq_pos, seq_mass = split_relaxation(wpos, wneg, single)
        _, spos, smass = pool_adjacent_violators(seq_pos, seq_mass)
        ll_split, bs_split = (v / total for v in block_scores(spos, smass))
    unc_ll = float(formulas.entropy(np, np.float64(base)))
    d, m, b = _parts(score_log_loss, unc_ll, ll_bin / total, ll_split, 0.0)
    log_loss = ScoreDecomposition(score_log_loss, unc_ll, d, m, b)
    # Brier: every term of the split form carries + c (module docstring)
    d, m, b = _parts(score_brier + c, base * (1.0 - base), bs_bin / total, bs_split, c_err)
    brier = ScoreDecomposition(score_brier, base * (1.0 - base) - c, d, m, b)
    return CalibrationDecomposition(log_loss, brier)


def log_loss_terms(wpos: np.ndarray, wneg: np.ndarray, score: float) -> tuple[float, float, float]:
    """(uncertainty, discrimination, miscalibration) of the log loss ``score``: the terms
    :func:`decompose_binned` gives with ``with_bound=False``, bit for bit, for a caller
    whose float64 histogram is already known to be valid with a positive total (the
    paired bootstrap's replicates: one call per replicate, where the checks cost a
    fifth of the time)."""
    mass = wpos + wneg
    total = float(mass.sum())
    base = min(max(float(wpos.sum()) / total, 0.0), 1.0)
    _, bpos, bmass = pool_adjacent_violators(wpos, mass)
    ll_bin, _ = block_scores(bpos, bmass)
    unc = float(formulas.entropy(np, np.float64(base)))
    d, m, _ = _parts(score, unc, ll_bin / total, None, 0.0)
    return unc, d, m


def soft_label_variance(
    wpos: np.ndarray,
    wneg: np.ndarray,
    wp: np.ndarray,
    edges: np.ndarray,
    *,
    sum_w: float,
    sum_wsq: float,
    sum_wh: float,
) -> tuple[float, float]:
    r"""(estimate, half-width) of the label variance :math:`c = \sum w y (1 - y) / \sum w`.

    ``sum_wh`` (Σ w H(y)) is 0 exactly for hard labels, and then so is c.  Otherwise
    :math:`\sum w y^2 = \sum w (p - y)^2 - \sum w p^2 + 2 \sum w p y`, where, per bin
    ``[lo, hi]`` with mass m and Σ w p = s, :math:`\sum w p^2 \in [s^2/m,\,
    (lo + hi) s - lo\,hi\,m]` and :math:`\sum w p y` lies in :math:`[lo, hi]\,P` and in
    :math:`s - [hi, lo]\,N` (the narrower is used).  The bracket is also cut to
    :math:`[0, \min(\bar y (1 - \bar y), \sum w H(y) / (4 \ln 2 \sum w))]`, since
    :math:`H(y) \ge 4 \ln 2\; y (1 - y)` in nats.
    """
    if sum_wh == 0.0:
        return 0.0, 0.0
    pos = np.asarray(wpos, dtype=np.float64)
    neg = np.asarray(wneg, dtype=np.float64)
    s = np.asarray(wp, dtype=np.float64)
    lo, hi = np.asarray(edges[:-1], np.float64), np.asarray(edges[1:], np.float64)
    m = pos + neg
    nz = m > 0
    # s * (s / m), not s**2 / m: the square overflows or vanishes for weights beyond 1e154
    # or below 1e-154, while s / m (the bin's mean prediction) lies in [0, 1]
    a_lo = float(np.sum(s[nz] * (s[nz] / m[nz])))
    a_hi = float(np.sum((lo + hi) * s - lo * hi * m))
    a_lo, a_hi = min(a_lo, a_hi), max(a_lo, a_hi)
    use_pos = pos <= neg
    b_lo = float(np.sum(np.where(use_pos, lo * pos, s - hi * neg)))
    b_hi = float(np.sum(np.where(use_pos, hi * pos, s - lo * neg)))
    sum_p = float(pos.sum())
    slack = ROUNDING * (abs(sum_wsq) + a_hi + 2.0 * abs(b_hi) + sum_p)
    c_lo = (sum_p - (sum_wsq - a_lo + 2.0 * b_hi) - slack) / sum_w
    c_hi = (sum_p - (sum_wsq - a_hi + 2.0 * b_lo) + slack) / sum_w
    base = sum_p / sum_w
    cap = min(base * (1.0 - base), sum_wh / (4.0 * math.log(2.0) * sum_w))
    c_lo, c_hi = min(max(c_lo, 0.0), cap), min(max(c_hi, 0.0), cap)
    return 0.5 * (c_lo + c_hi), 0.5 * (c_hi - c_lo)


def decompose_stats(stats: BinaryStats, *, with_bound: bool = True) -> CalibrationDecomposition:
    """The decomposition of the log loss and the Brier score of one evaluation state.

    The scores come from the state's exact sums, the isotonic fit from its fine
    histogram; see the module docstring for the bound.  Raises
    :class:`EmptyReductionError` when no row with a weight > 0 was usable.

    >>> import numpy as np
    >>> from bcelab.metrics import BinaryStats
    >>> p, y = np.array([0.1, 0.3, 0.3, 0.6, 0.9]), np.array([0.0, 1.0, 0.0, 0.0, 1.0])
    >>> d = decompose_stats(BinaryStats().update(p, y)).log_loss
    >>> [round(v, 4) for v in (d.score, d.uncertainty, d.discrimination, d.miscalibration)]
    [0.5375, 0.673, 0.2911, 0.1556]
    """
    check_instance(
        stats,
        BinaryStats,
        name="stats",
        fname="decompose_stats",
        what="a bcelab.metrics.BinaryStats",
        hint="pass BinaryStats().update(preds, targets)",
    )
    with_bound = check_bool(with_bound, name="with_bound", fname="decompose_stats", hint=BOUND_HINT)
    w = stats.total("w")
    if stats.rows_used == 0 or not w > 0:
        raise EmptyReductionError(
            "decompose_stats: at least one row with a valid target, a prediction and a weight > 0",
            f"received {count_of(stats.rows, 'row')}, {stats.rows_used} usable, total weight {w!r}",
            "check the input columns and the filters",
        )
    err = state_weight_error(stats, "decompose_stats")
    if err is not None:
        raise err
    h = stats.histogram()
    mass = h["wpos"] + h["wneg"]
    c, c_err = soft_label_variance(
        h["wpos"],
        h["wneg"],
        h["wp"],
        h["edges"],
        sum_w=w,
        sum_wsq=stats.total("wsq"),
        sum_wh=stats.total("wh"),
    )
    held = np.flatnonzero((h["wpos"] != 0) | (h["wneg"] != 0))  # empty bins change no fit
    single = single_score_bins(h["edges"], h["wp"][held], mass[held], h["count"][held], bins=held)
    return decompose_binned(
        h["wpos"][held],
        h["wneg"][held],
        score_log_loss=stats.total("wbce") / w,
        score_brier=stats.total("wsq") / w,
        single_score=single,
        label_variance=c,
        label_variance_error=c_err,
        with_bound=with_bound,
    )
