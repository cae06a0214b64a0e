r"""``PairedComparison``: model A vs model B per metric, with bootstrap intervals and p-values.

For each metric (:data:`bcelab.metrics.paired_compute.METRICS`): ``a`` and ``b`` are
the point values (every weight 1, fine histogram), ``diff = b - a``.  With the
replicate differences :math:`d_r` (coarse histogram, :math:`r < R`) and the reference
difference :math:`d_{\mathrm{ref}}` (coarse histogram, every weight 1), the bootstrap
distribution is

.. math::

    d^*_r = d_r + (\mathrm{diff} - d_{\mathrm{ref}}),

i.e. the replicates are moved by the binning difference; not the sum-based metrics of
:data:`FROM_SUMS` (log loss, NE, Brier, calibration, uncertainty), which are exact in
every replicate, so their replicates are used as they are, and not a replicate whose
difference is 0 (within :data:`ROUNDING_ULPS`): it drew none of the rows the two models
score differently, so its difference stays exactly 0.  ``ci`` is the
percentile interval of :math:`d^*` at ``confidence``, ``p_value`` the two-sided
bootstrap p-value (of :math:`2\,\mathrm{diff} - d^*` instead for the metrics in
:data:`REFLECTED`: the basic interval), ``se`` the standard deviation of :math:`d^*`
(:mod:`bcelab.metrics.intervals`).  Replicates where a metric is undefined (e.g. AUC
without positives) are left out.  ``se_delta`` (log loss, NE, calibration) holds the
delta-method standard errors of ``a``, ``b`` and ``diff`` from the same state, as a
cross-check of ``se``; they take the rows as independent, so they are NaN when rows are
keyed by an id column (rows that share an id are a cluster, which only ``se`` follows).  ``better`` says which direction is better for the metric
(``None`` for the decomposition's uncertainty, which is the same for both models).

``resampling_units`` is how many independent units the bootstrap resamples: the rows
(exactly), or the distinct ids when rows are keyed by an id column (estimated)
(:func:`bcelab.metrics.paired_compute.resampling_units`).  When one unit holds every
row (a single row, or one id for all of them), every replicate is the data scaled by its
count: the intervals, p-values and ``se`` are then NaN, as the replicates say nothing
about the spread.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core.display import count_of
from .._core.options import check_choice
from .._core.replicates import check_confidence, check_enough_replicates
from ..errors import DomainError, EmptyReductionError, OptionError
from .histogram import layout
from .intervals import bootstrap_p_value, percentile_interval
from .paired_compute import (
    METRICS,
    delta_ses,
    point_metrics,
    point_weight,
    replicate_metrics,
    resampling_units,
)
from .paired_layout import KC, MIN_MEAN_WEIGHT, coarse_layout

__all__ = ["BETTER", "FROM_SUMS", "REFLECTED", "PairedComparison", "check_metrics", "compare_state"]

BETTER: dict[str, str | None] = {
    "log_loss": "lower",
    "ne": "lower",
    "brier": "lower",
    "calibration": "closer to 1",
    "ece": "lower",
    "roc_auc": "higher",
    "pr_auc": "higher",
    "uncertainty": None,
    "discrimination": "higher",
    "miscalibration": "lower",
}
#: Metrics whose interval and p-value come from the replicates reflected about the
#: estimate, ``2 diff - d*`` (the *basic* bootstrap interval, Davison & Hinkley 1997,
#: section 5.2): both parts of the decomposition rest on an isotonic fit to the rows it
#: scores, which overfits, more so on a resample with repeated rows.  When one model
#: overfits more than the other (against a constant model, most of all) the replicate
#: differences sit beside the estimate, and the percentile interval is moved by that
#: bias where the basic interval takes it off.  Seeded simulations of a constant model
#: against a good one on 1,000 rows: the 95% interval covered the population's
#: discrimination difference in 60% (percentile) against 92% (basic) of data sets.
REFLECTED = frozenset({"discrimination", "miscalibration"})
#: Metrics of the exact sums, the same in the point estimate and in every replicate: their
#: replicates are not moved (the point and the reference replicate differ by the rounding
#: of two fixed-point scales, ~1e-14, which would break the ties at 0 of rows that only
#: one model scores differently: two models that differ on one row of 2,000 got p = 0.00995
#: where the replicates without that row, 36% of them, are exactly 0, p = 0.73).
FROM_SUMS = frozenset({"log_loss", "ne", "brier", "calibration", "uncertainty"})
#: Differences within this many ulps of the metrics' size are rounding, and count as 0.
#: The metrics outside :data:`FROM_SUMS` come from each model's own histogram, summed in
#: its own order: two models that rank every row alike (B a monotone map of A) got a
#: PR-AUC difference of 0 with replicates of -1.1e-16 and -2.2e-16, an interval that
#: excluded 0 and p = 0.0498 ("A better") where no pair of rows is ordered differently.
ROUNDING_ULPS = 64
METHOD = {
    "bootstrap": "paired Poisson(1) bootstrap; weights from a counter-based generator "
    "(SplitMix64) keyed by (seed, row key, replicate)",
    "interval": "percentile (the floor((R + 1) alpha / 2)-th replicate from each end), "
    "replicates moved by the binning difference (point - reference; "
    "none for the metrics of exact sums, nor for a replicate whose difference is 0); "
    "discrimination and miscalibration: basic (the moved replicates reflected about the "
    "estimate, 2 diff - d*)",
    "p_value": "two-sided bootstrap: 2 min(1 + #{d* <= 0}, 1 + #{d* >= 0}) / (R + 1); "
    "discrimination and miscalibration: the same of 2 diff - d*",
    "rounding": f"differences within {ROUNDING_ULPS} ulps of the metrics' size count as 0 "
    "(the metrics from the histograms)",
    "ece": "uniform, 15 bins",
    "decomposition": "log loss = uncertainty - discrimination + miscalibration "
    "(isotonic recalibration by PAV on histogram bins)",
    "delta_method": "log_loss, ne, calibration: rows as i.i.d. units",
}


def _clean(v: Any) -> Any:
    """JSON-safe: NaN and infinities become None, NumPy scalars Python numbers."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


@dataclass(frozen=True)
class PairedComparison:
    """The comparison of two models (see the module docstring); ``to_dict()`` is JSON-ready."""

    metrics: dict[str, dict[str, Any]]
    replicates: int
    seed: int
    confidence: float
    keyed_by: str | None
    rows: int
    rows_used: int
    resampling_units: float = math.nan
    histogram_bins: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"metrics": {name: {"a", "b", "diff", "ci", "p_value", ...}}, "replicates", ...}``."""
        return _clean(
            {
                "metrics": self.metrics,
                "replicates": self.replicates,
                "seed": self.seed,
                "confidence": self.confidence,
                "method": METHOD,
                "histogram_bins": self.histogram_bins,
                "keyed_by": self.keyed_by,
                "rows": self.rows,
                "rows_used": self.rows_used,
                "resampling_units": self.resampling_units,
            }
        )

    def _repr_html_(self) -> str:
        pct = f"{100 * self.confidence:g}%"
        head = "".join(f"<th>{h}</th>" for h in ("metric", "A", "B", "B - A", f"{pct} CI", "p"))
        rows = []
        for name, m in self.metrics.items():
            lo, hi = m["ci"]
            cells = [name, f"{m['a']:.6g}", f"{m['b']:.6g}", f"{m['diff']:+.4g}",
                     f"[{lo:+.4g}, {hi:+.4g}]", f"{m['p_value']:.3g}"]  # fmt: skip
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        caption = (
            f"Paired bootstrap, {self.replicates} replicates (seed {self.seed}), "
            f"{count_of(self.rows_used, 'row', grouped=True)} keyed by {self.keyed_by}"
        )
        return (
            f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )


def _unrounded(d: np.ndarray, size: Any) -> np.ndarray:
    """``d`` with the differences within :data:`ROUNDING_ULPS` of ``size`` set to 0 (NaN
    stays NaN)."""
    tol = ROUNDING_ULPS * np.finfo(np.float64).eps * size
    return np.where(np.abs(d) <= tol, 0.0, d)


def _one_metric(
    point: np.ndarray, reps: np.ndarray, confidence: float, name: str, *, single: bool
) -> dict[str, Any]:
    diff = float(point[1] - point[0])
    n_rep = reps.shape[1] - 1
    d = reps[1, :n_rep] - reps[0, :n_rep]
    star = d
    if name not in FROM_SUMS:
        shift = diff - float(reps[1, n_rep] - reps[0, n_rep])
        size = np.maximum(np.abs(reps[0, :n_rep]), np.abs(reps[1, :n_rep]))
        size = np.maximum(size, max(abs(point[0]), abs(point[1])))
        # a replicate in which the two models score alike (none of the rows they score
        # differently was drawn) stays at 0: the binning shift is not a difference
        tied = _unrounded(d, size) == 0.0
        star = _unrounded(
            np.where(tied, 0.0, d + (shift if math.isfinite(shift) else math.nan)), size
        )
        diff = float(_unrounded(np.array(diff), max(abs(point[0]), abs(point[1]))))
    if name in REFLECTED:  # the basic interval: the replicates reflected about diff
        star = 2.0 * diff - star
    finite = star[np.isfinite(star)]
    # one resampling unit: every replicate is the same data scaled, so the replicates
    # carry no spread and an interval or p-value from them would be meaningless
    lo, hi = (math.nan, math.nan) if single else percentile_interval(star, confidence)
    return {
        "a": float(point[0]),
        "b": float(point[1]),
        "diff": diff,
        "ci": [lo, hi],
        "p_value": math.nan if single else bootstrap_p_value(star),
        "se": float(finite.std(ddof=1)) if finite.size > 1 and not single else math.nan,
        "replicates_used": int(finite.size),
        "better": BETTER[name],
    }


def check_metrics(metrics: object, *, fname: str) -> tuple[str, ...]:
    """``metrics``: None (every metric) or a sequence of names from :data:`METRICS`."""
    if metrics is None:
        return METRICS
    hint = "pass e.g. metrics=('log_loss', 'roc_auc'), or metrics=None for every metric"
    if isinstance(metrics, str):
        names: tuple[object, ...] = (metrics,)
    elif isinstance(metrics, Iterable) and not isinstance(metrics, bytes | Mapping):
        names = tuple(metrics)
    else:
        raise OptionError(
            f"{fname}: metrics must be None or a sequence of names from {METRICS}",
            f"received metrics={metrics!r}",
            hint,
        )
    if not names:
        raise OptionError(
            f"{fname}: metrics must name at least one metric", "received an empty sequence", hint
        )
    for m in names:
        check_choice(
            m,
            METRICS,
            name="metrics",
            fname=fname,
            hint=hint,
        )
    return tuple(dict.fromkeys(names))  # type: ignore[arg-type]


def compare_state(
    a: dict[str, np.ndarray],
    *,
    keyed_by: str | None,
    confidence: float,
    metrics: tuple[str, ...] = METRICS,
) -> PairedComparison:
    """The comparison from a paired state's canonical arrays, for the given metrics."""
    conf = check_confidence(confidence, fname="PairedBootstrapStats.compute")
    replicates = int(a["meta"][0])
    check_enough_replicates(replicates, conf, fname="PairedBootstrapStats.compute", state=True)
    counts = a["counts"]
    rows, used, weighted = int(counts[0]), int(counts[1]), int(counts[2])
    if weighted == 0:
        raise EmptyReductionError(
            "PairedBootstrapStats.compute: at least one row with a valid target, two "
            "predictions and a weight > 0",
            f"received {count_of(rows, 'row')}, {used} usable, {weighted} with a weight > 0",
            "check the input columns and the filters",
        )
    mean_w = point_weight(a) / weighted
    if not mean_w >= MIN_MEAN_WEIGHT:
        raise DomainError(
            "PairedBootstrapStats.compute: weights whose mean is at least 2**-20 (about 1e-6): "
            "the bootstrap sums count units of 2**-32 per row",
            f"the mean weight of the {count_of(weighted, 'row')} with a weight > 0 is {mean_w:.3g}"
            if mean_w > 0
            else f"the {count_of(weighted, 'row')} with a weight > 0 weigh less than 2**-64 each",
            "multiply every weight by the same constant (say, 1 / their mean): no metric changes",
        )
    point = point_metrics(a, metrics)
    reps = replicate_metrics(a, metrics)
    units, single = resampling_units(a)
    out = {m: _one_metric(point[m], reps[m], conf, m, single=single) for m in metrics}
    for m, se in delta_ses(a, weighted).items():
        if m in out:
            out[m]["se_delta"] = {"a": float(se[0]), "b": float(se[1]), "diff": float(se[2])}
    bins = {
        "point": layout().n_fine,
        "replicate": coarse_layout().n,
        "replicate_layout": f"{KC} bins per octave of min(p, 1 - p) plus the cuts k/15",
    }
    return PairedComparison(
        metrics=out,
        replicates=int(a["meta"][0]),
        seed=int(a["meta"][1]),
        confidence=conf,
        keyed_by=keyed_by,
        rows=rows,
        rows_used=used,
        resampling_units=1.0 if single else units,
        histogram_bins=bins,
    )
