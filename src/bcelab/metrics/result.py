"""``BinaryMetrics``: every metric computed from one :class:`~bcelab.metrics.BinaryStats`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields

__all__ = ["BinaryMetrics"]


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

    def __str__(self) -> str:
        def g(v: float, d: int = 6) -> str:
            return f"{v:.{d}g}" if isinstance(v, float) else str(v)

        lines = [
            f"rows              {self.rows} (used {self.rows_used}, excluded "
            f"{self.rows_excluded}: {self.nan_predictions} NaN or null predictions, "
            f"{self.invalid_targets} invalid targets; {self.clipped_predictions} clipped)",
            f"weight            {g(self.weight_total)} (effective rows {g(self.effective_rows)})",
            f"log loss          {g(self.log_loss)}  = floor {g(self.floor)} + excess "
            f"{g(self.excess)}",
            f"base rate         {g(self.base_rate)}  (entropy {g(self.base_entropy)})",
            f"NE / RIG          {self._ne_text(g)}",
            f"calibration       {self._calibration_text(g)}  (mean prediction "
            f"{g(self.mean_prediction)}; range [{g(self.pred_min)}, {g(self.pred_max)}])",
            f"Brier             {g(self.brier)}",
            f"ECE / MCE         uniform {g(self.ece_uniform)} / {g(self.mce_uniform)}, "
            f"equal-mass {g(self.ece_equal_mass)} / {g(self.mce_equal_mass)} "
            f"({self.n_calibration_bins} bins)",
            "ROC-AUC           "
            + _area_text(self.roc_auc, self.roc_auc_bound, "needs positive and negative rows"),
            "PR-AUC            "
            + _area_text(self.pr_auc, self.pr_auc_bound, "needs positive rows"),
            f"at p >= {g(self.threshold)}  accuracy {g(self.accuracy)}, precision "
            f"{g(self.precision)}, recall {g(self.recall)}, F1 {g(self.f1)}",
        ]
        return "\n".join(lines)

    def _calibration_text(self, g: Callable[[float], str]) -> str:
        if math.isnan(self.calibration) and self.base_rate == 0.0:
            return "undefined: no positive targets"
        return g(self.calibration)

    def _ne_text(self, g: Callable[[float], str]) -> str:
        if self.base_entropy == 0.0:  # one class only: NE divides by 0
            only = "1" if self.base_rate == 1.0 else "0"
            return f"undefined: every used target is {only}, so the base rate's entropy is 0"
        return f"{g(self.ne)} / {g(self.rig)}"


def _area_text(area: float, bound: float, needs: str) -> str:
    if math.isnan(area):
        return f"undefined: {needs}"
    return f"{area:.6g}  (binning error ≤ {bound:.2g})"
