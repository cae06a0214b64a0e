"""What the passes of a recalibration accumulate, on every engine.

A :class:`~bcelab.evaluation.tasks.Plan` with an ``accumulator`` makes the unit tasks
build another state than the metrics' ``BinaryStats``; the engines and their fixed merge
tree stay the same, so local threads and Dask give bit-identical states here too.

* :class:`ScalingAccumulator`: one Newton step of Platt or temperature scaling, the
  loss, gradient and Hessian at fixed ``(a, b)``
  (:class:`bcelab.metrics.scaling.ScalingStats`).
* :class:`MappedAccumulator`: the metrics of the recalibrated predictions
  ``map.apply(p)`` (a ``BinaryStats`` per segment, like an evaluation).

Both see the rows exactly as the evaluation did: the same negative weighting
(:func:`~bcelab.evaluation.tasks.batch_arrays`) and, with ``clip``, the clipped
probabilities (:func:`prepared_preds`).  Accumulators are frozen dataclasses, so they
pickle with the plan to the Dask workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..metrics import BinaryStats, RecalibrationMap
from ..metrics.scaling import ScalingStats
from .reader import Batch
from .tasks import Plan, batch_arrays

__all__ = ["MappedAccumulator", "ScalingAccumulator", "prepared_preds"]


def prepared_preds(preds: np.ndarray, plan: Plan) -> np.ndarray:
    """The predictions the evaluation scored: probabilities clipped to ``[clip, 1 - clip]``
    when the plan clips (NaN stays NaN), else unchanged."""
    if plan.clip is None or plan.columns.logits:
        return preds
    return np.clip(preds, plan.clip, 1.0 - plan.clip)


@dataclass(frozen=True)
class ScalingAccumulator:
    """One pass of Newton's method for Platt or temperature scaling at ``(a, b)``."""

    a: float
    b: float

    def empty(self) -> ScalingStats:
        return ScalingStats(self.a, self.b)

    def update(self, state: Any, batch: Batch, rows: np.ndarray | None, plan: Plan) -> None:
        p, y, w = batch_arrays(batch, rows, plan)
        state.update(prepared_preds(p, plan), y, weights=w, logits=plan.columns.logits)

    def decode(self, data: bytes) -> ScalingStats:
        return ScalingStats.from_bytes(data)


@dataclass(frozen=True)
class MappedAccumulator:
    """The metric state of the recalibrated predictions ``recalibration_map.apply(p)``.

    The kernel runs on one thread, as in an evaluation (see
    :func:`~bcelab.evaluation.tasks.run_unit_objects`).
    """

    recalibration_map: RecalibrationMap

    def empty(self) -> BinaryStats:
        return BinaryStats(threads=1)

    def update(self, state: Any, batch: Batch, rows: np.ndarray | None, plan: Plan) -> None:
        p, y, w = batch_arrays(batch, rows, plan)
        q = self.recalibration_map.apply(prepared_preds(p, plan), logits=plan.columns.logits)
        state.update(q, y, weights=w, clip=plan.clip, strict=plan.strict)

    def decode(self, data: bytes) -> BinaryStats:
        return BinaryStats.from_bytes(data)
