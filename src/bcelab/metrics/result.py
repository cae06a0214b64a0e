"""``BinaryMetrics``: every metric computed from one :class:`~bcelab.metrics.BinaryStats`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .._core.display import count_of, probability_digits

__all__ = ["INFINITE_WITH_LOG_LOSS", "NEEDS", "BinaryMetrics", "infinite_text", "undefined_reason"]

#: what each metric that can be 0 / 0 needs from the rows
NEEDS = {
    "ne": "both classes (it divides by the base rate's entropy)",
    "rig": "both classes (it divides by the base rate's entropy)",
    "calibration": "positive rows (it divides by their weight)",
    "roc_auc": "positive and negative rows",
    "pr_auc": "positive rows",
}


#: the metrics that are infinite when the log loss is (``log_loss_is_infinite``), as text:
#: their JSON form is null, as an undefined metric's is
INFINITE_WITH_LOG_LOSS = {"log_loss": "inf", "excess": "inf", "ne": "inf", "rig": "-inf"}


def infinite_text(m: Mapping[str, Any], name: str) -> str | None:
    """``'inf'`` or ``'-inf'`` for a metric of ``m`` (:meth:`BinaryMetrics.to_dict`) that
    is infinite with the log loss; None for any other."""
    if m.get(name) is None and m.get("log_loss_is_infinite"):
        return INFINITE_WITH_LOG_LOSS.get(name)
    return None


def undefined_reason(m: Mapping[str, Any], name: str) -> str | None:
    """Why the metric ``name`` of ``m`` (:meth:`BinaryMetrics.to_dict`) has no value, in
    the rows' terms; None when it has one (or for a metric that is never 0 / 0)."""
    v = m.get(name)
    if v is not None and not (isinstance(v, float) and math.isnan(v)):
        return None
    t = f"{m.get('threshold', 0.5):g}"
    if name in ("ne", "rig") and m.get("base_entropy") == 0.0:
        only = "1" if m.get("base_rate") == 1.0 else "0"
        return f"every used target is {only}, so the base rate's entropy is 0"
    if name == "calibration" and m.get("base_rate") == 0.0:
        return "no positive targets"
    reasons = {
        "roc_auc": f"needs {NEEDS['roc_auc']}",
        "pr_auc": f"needs {NEEDS['pr_auc']}",
        "accuracy": "no rows used",
        "precision": f"no prediction >= {t}",
        "recall": "no positive targets",
        "f1": f"no positive targets and no prediction >= {t}",
    }
    return reasons.get(name)


@dataclass(frozen=True)
class BinaryMetrics:
    """Metrics of binary predictions; see ``docs/metrics.md`` for every definition.

    Undefined values (e.g. ROC-AUC without negatives) are NaN here and ``None`` in
    :meth:`to_dict`, which also maps an infinite log loss to ``None`` (strict JSON has
    no infinity); ``log_loss_is_infinite`` says which it was.  ``*_bound`` fields are
    the largest possible difference to the exact in-memory value that the fine
    histogram allows (0 where the value is exact).
    """

    # counts and totals
    rows: int
    rows_used: int
    rows_excluded: int
    nan_predictions: int
    invalid_targets: int
    clipped_predictions: int
    weight_total: float
    effective_rows: float
    # loss and information
    log_loss: float
    log_loss_is_infinite: bool
    floor: float
    excess: float
    base_rate: float
    base_entropy: float
    ne: float
    rig: float
    # calibration and accuracy of probabilities
    mean_prediction: float
    calibration: float
    brier: float
    pred_min: float
    pred_max: float
    n_calibration_bins: int
    ece_uniform: float
    mce_uniform: float
    ece_uniform_bound: float
    ece_equal_mass: float
    mce_equal_mass: float
    ece_equal_mass_bound: float
    # ranking
    roc_auc: float
    roc_auc_bound: float
    pr_auc: float
    pr_auc_bound: float
    # decisions at the threshold (p >= threshold is class 1)
    threshold: float
    tp: float
    fp: float
    tn: float
    fn: float
    accuracy: float
    precision: float
    recall: float
    f1: float

    def to_dict(self) -> dict[str, float | int | bool | None]:
        """A JSON-safe dict: NaN and infinities become ``None``."""
        out: dict[str, float | int | bool | None] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            out[f.name] = v
        return out

    @staticmethod
    def _end(v: float) -> str:
        """An end of the predictions' range: never 1 (or 0) unless it is exactly that."""
        return probability_digits(v) if isinstance(v, float) and math.isfinite(v) else str(v)

    def _effective_text(self, g: Callable[[float], str]) -> str:
        if math.isnan(self.effective_rows) and self.weight_total > 0:
            return "n/a: the squares of weights beyond 1e±154 leave float64's range"
        return g(self.effective_rows)

    def __str__(self) -> str:
        def g(v: float, d: int = 6) -> str:
            return f"{v:.{d}g}" if isinstance(v, float) else str(v)

        lines = [
            f"rows              {self.rows} (used {self.rows_used}, excluded "
            f"{self.rows_excluded}: {count_of(self.nan_predictions, 'NaN or null prediction')}, "
            f"{count_of(self.invalid_targets, 'missing or invalid target')}; {self.clipped_predictions} clipped)",
            f"weight            {g(self.weight_total)} (effective rows {self._effective_text(g)})",
            f"log loss          {g(self.log_loss)}  = floor {g(self.floor)} + excess "
            f"{g(self.excess)}",
            f"base rate         {g(self.base_rate)}  (entropy {g(self.base_entropy)})",
            f"NE / RIG          {self._ne_text(g)}",
            f"calibration       {self._calibration_text(g)}  (mean prediction "
            f"{g(self.mean_prediction)}; range [{self._end(self.pred_min)}, "
            f"{self._end(self.pred_max)}])",
            f"Brier             {g(self.brier)}",
            f"ECE / MCE         uniform {g(self.ece_uniform)} / {g(self.mce_uniform)}, "
            f"equal-mass {g(self.ece_equal_mass)} / {g(self.mce_equal_mass)} "
            f"({self.n_calibration_bins} bins)",
            f"ROC-AUC           {self._area_text('roc_auc')}",
            f"PR-AUC            {self._area_text('pr_auc')}",
            f"at p >= {g(self.threshold)}  {self._threshold_text(g)}",
        ]
        return "\n".join(lines)

    def _why(self, name: str, shown: str) -> str:
        why = undefined_reason(self.to_dict(), name)
        return shown if why is None else f"undefined: {why}"

    def _threshold_text(self, g: Callable[[float], str]) -> str:
        """Accuracy, precision, recall and F1, each with the reason where it is 0 / 0."""
        d = self.to_dict()

        def rate(name: str) -> str:
            why = undefined_reason(d, name)
            return g(getattr(self, name)) if why is None else f"undefined ({why})"

        return ", ".join(f"{k.replace('f1', 'F1')} {rate(k)}" for k in _DECISIONS)

    def _calibration_text(self, g: Callable[[float], str]) -> str:
        return self._why("calibration", g(self.calibration))

    def _ne_text(self, g: Callable[[float], str]) -> str:
        return self._why("ne", f"{g(self.ne)} / {g(self.rig)}")

    def _area_text(self, name: str) -> str:
        area, bound = getattr(self, name), getattr(self, f"{name}_bound")
        shown = f"binning error ≤ {bound:.2g}" if bound > 0 else "no binning error"
        return self._why(name, f"{area:.6g}  ({shown})")


_DECISIONS = ("accuracy", "precision", "recall", "f1")
