"""The result of :func:`bcelab.evaluation.compare`: model A vs model B, overall and per segment.

:meth:`ComparisonResult.to_dict` is the JSON of ``bcelab compare --json`` (it holds no
timing, so every engine writes the same bytes); :func:`verdict` states which model is
better in log loss and whether the gap is mainly discrimination or miscalibration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..metrics import PairedBootstrapStats, PairedComparison
from .compare_figures import forest
from .compare_text import render_comparison
from .reader import Columns
from .segment_keys import json_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ComparisonResult", "SegmentComparison", "verdict"]


@dataclass(frozen=True)
class SegmentComparison:
    """One value of the ``by`` column: its state and comparison (None when no row of it
    could be used)."""

    value: Any
    stats: PairedBootstrapStats
    comparison: PairedComparison | None


def _f(v: float, spec: str = ".3g") -> str:
    return format(v + 0.0, spec)  # + 0.0: a zero difference prints as 0, never -0


def _finite(*vals: Any) -> bool:
    return all(isinstance(v, float) and math.isfinite(v) for v in vals)


_PARTS = ("discrimination", "miscalibration")


def _excludes_0(m: dict[str, Any]) -> bool:
    lo, hi = m["ci"]
    return _finite(lo, hi) and (lo > 0 or hi < 0)


def verdict(metrics: dict[str, dict[str, Any]], confidence: float) -> dict[str, Any]:
    """Which model is better in log loss, how sure, and why (JSON-ready).

    ``better`` is ``"A"`` or ``"B"`` when the interval of B − A excludes 0, else None.
    The log-loss difference splits exactly into a ranking part (minus the difference in
    discrimination) and a calibration part (the difference in miscalibration), since
    both models share the uncertainty; ``mainly`` names the larger part, unless neither
    log loss nor either part differs clearly (then the split is noise, and ``None``).
    """
    m = metrics["log_loss"]
    diff, (lo, hi), p = m["diff"], m["ci"], m["p_value"]
    pct = f"{100 * confidence:g}%"
    if not _finite(diff, lo, hi, p):
        return {"metric": "log_loss", "better": None, "mainly": None, "text": "", "why": ""}
    ci = f"{pct} CI {_f(lo)} to {_f(hi)}, p = {_f(p)}"
    better = ("B" if diff < 0 else "A") if lo > 0 or hi < 0 else None
    if better is None:
        text = f"No clear difference in log loss: B − A = {_f(diff, '+.3g')} ({ci}; the interval includes 0)."
    else:
        worse = "A" if better == "B" else "B"
        text = (
            f"{better} is better than {worse} in log loss by {_f(abs(diff))} "
            f"(B − A = {_f(diff, '+.3g')}, {ci})."
        )
    d_dsc = metrics["discrimination"]["diff"]
    d_mcb = metrics["miscalibration"]["diff"]
    mainly, why = None, ""
    if _finite(d_dsc, d_mcb) and d_dsc == 0.0 and d_mcb == 0.0:
        why = "Neither part differs: the models rank and calibrate these rows alike."
    elif _finite(d_dsc, d_mcb):
        larger = "discrimination" if abs(d_dsc) >= abs(d_mcb) else "miscalibration"
        calib = f"{_f(d_mcb, '+.3g')} from calibration (miscalibration B − A)"
        rank = (
            f"{_f(-d_dsc, '+.3g')} from ranking (minus discrimination B − A, {_f(d_dsc, '+.3g')})"
        )
        parts = (rank, calib) if larger == "discrimination" else (calib, rank)
        split = f"B − A = {_f(diff, '+.3g')} is {parts[0]} and {parts[1]}"
        if better is None and not any(_excludes_0(metrics[k]) for k in _PARTS):
            why = f"Neither part differs clearly either (both intervals include 0): {split}."
        else:
            mainly = larger
            why = f"Mainly {mainly}: {split}."
    return {"metric": "log_loss", "better": better, "mainly": mainly, "text": text, "why": why}


@dataclass(frozen=True)
class ComparisonResult:
    """Model A vs model B on the same rows: ``comparison`` overall, ``segments`` per ``by`` value.

    ``stats`` is the merged paired state (every row), ``seconds`` the wall time of the
    pass and of the statistics, ``engine`` the engine that read the rows.
    """

    stats: PairedBootstrapStats
    comparison: PairedComparison
    segments: tuple[SegmentComparison, ...]
    columns: Columns
    source: tuple[str, ...]
    files: int
    engine: str
    seconds: float

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """Per metric: ``a``, ``b``, ``diff`` (B − A), ``ci``, ``p_value``, ... (overall)."""
        out: dict[str, dict[str, Any]] = self.to_dict()["metrics"]
        return out

    def verdict(self) -> dict[str, Any]:
        """See :func:`verdict`."""
        return verdict(self.comparison.to_dict()["metrics"], self.comparison.confidence)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (non-finite numbers become ``null``); no timing."""
        c = self.columns
        comp = self.comparison.to_dict()
        kind = "logit" if c.logits else "pred"
        out: dict[str, Any] = {
            "source": list(self.source),
            "files": self.files,
            "columns": {
                "target": c.target,
                kind: {"a": c.pred, "b": c.pred_b},
                "weight": c.weight,
                "by": c.by,
                "id": c.id,
                "positive_label": c.positive_label,
            },
            "keyed_by": comp["keyed_by"],
            "rows": comp["rows"],
            "rows_used": comp["rows_used"],
            "resampling_units": comp["resampling_units"],
            "excluded": self._excluded(self.stats),
            "replicates": comp["replicates"],
            "seed": comp["seed"],
            "confidence": comp["confidence"],
            "verdict": verdict(comp["metrics"], self.comparison.confidence),
            "metrics": comp["metrics"],
        }
        if c.by is not None:
            out["segments"] = [
                {
                    "value": json_value(s.value),
                    "rows": s.stats.rows,
                    "rows_used": s.stats.count("used"),
                    "resampling_units": None
                    if s.comparison is None
                    else s.comparison.to_dict()["resampling_units"],
                    "metrics": None if s.comparison is None else s.comparison.to_dict()["metrics"],
                }
                for s in self.segments
            ]
        out["method"] = comp["method"]
        out["histogram_bins"] = comp["histogram_bins"]
        return out

    @staticmethod
    def _excluded(st: PairedBootstrapStats) -> dict[str, int]:
        names = ("nan_a", "nan_b", "invalid_target", "clipped_a", "clipped_b")
        return {n: st.count(n) for n in names}

    def plot(self) -> Figure:
        """The forest plot of the differences B − A with their intervals."""
        return forest(self.to_dict())

    def __str__(self) -> str:
        return render_comparison(self)

    def _repr_html_(self) -> str:
        from .compare_markup import notebook_view  # start-up time: only a notebook needs it

        return notebook_view(self.to_dict())
