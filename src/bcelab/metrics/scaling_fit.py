r"""Platt and temperature scaling fitted by Newton's method, one pass over the rows per step.

:class:`ScalingFitter` turns passes of :class:`~bcelab.metrics.scaling.ScalingStats` (the
loss and its derivatives as mergeable sums) into Newton steps from a = 1, b = 0 (the
identity map): step :math:`-H^{-1} g`, halved while the loss grows, until the Newton
decrement :math:`g^\top H^{-1} g / \sum w` is below 1e-24; typically 4-7 passes.
When the best map is not unique (Platt scaling of predictions that take one value: every
(a, b) with a z + b = logit of the positive rate fits equally well), the steps are the
least-squares ones, so the fit is the best map closest to the identity.
Predictions that separate the classes (every positive above every negative) have no
finite best map, and are refused, pointing to the isotonic map.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import numpy as np

from .._core.display import count_of
from .._core.options import check_choice, check_instance, check_positive_int
from .._core.reducing import weight_total_error
from ..errors import DataError, OptionError
from .recalibration import PlattMap, TemperatureMap, to_logits
from .scaling import SCALING_METHODS, ScalingStats

__all__ = ["ScalingFitter", "fit_platt", "fit_scaling", "fit_temperature"]


class ScalingFitter:
    """Newton's method for Platt or temperature scaling, one pass per step.

    Drive it with any engine::

        fitter = ScalingFitter("platt")
        while not fitter.done:
            stats = fitter.new_stats()           # empty state at the trial parameters
            for batch in batches:                # or map-reduce on workers + merge
                stats.update(batch.preds, batch.targets, weights=batch.weights)
            fitter.step(stats)
        recalibration_map = fitter.result()

    ``passes``, ``converged``, ``separated`` and ``loss`` (the mean log loss at the
    fitted map, over the rows with a finite logit) describe the fit.
    """

    def __init__(self, method: str = "platt", *, max_passes: int = 50) -> None:
        fname = "ScalingFitter"
        self.method = check_choice(
            method, SCALING_METHODS, name="method", fname=fname, hint="use method='platt'"
        )
        self.max_passes = check_positive_int(max_passes, name="max_passes", fname=fname, example=50)
        self.passes = 0
        self.converged = False
        self.done = False
        self.loss = math.nan
        self._first_loss = math.nan
        self._theta = np.array([1.0, 0.0])  # accepted point
        self._trial = self._theta.copy()
        self._step = np.zeros(2)
        self._scale = 1.0
        self._decrement = math.inf

    def new_stats(self) -> ScalingStats:
        """An empty :class:`ScalingStats` at the parameters the next pass must evaluate."""
        return ScalingStats(float(self._trial[0]), float(self._trial[1]))

    def step(self, stats: ScalingStats) -> bool:
        """Take the result of one pass; returns :attr:`done`."""
        check_instance(
            stats,
            ScalingStats,
            name="stats",
            fname="ScalingFitter.step",
            what="the ScalingStats of a pass, from new_stats()",
            hint="call new_stats(), update it with every row, and pass it back",
        )
        if self.done or (stats.a, stats.b) != (self._trial[0], self._trial[1]):
            raise OptionError(
                "ScalingFitter.step: the state of a pass from new_stats() while not done",
                f"received {stats!r} (done={self.done})",
                "call new_stats() before every pass and stop when done is True",
            )
        self.passes += 1
        if self.passes == 1:
            self._check_first(stats)
            self._first_loss = stats.loss
        elif not stats.loss <= self.loss + 1e-14 * abs(self.loss):
            self._retry()
            return self._finish_if_out_of_passes()
        self._theta = self._trial.copy()
        self.loss = stats.loss
        self._newton(stats)
        return self._finish_if_out_of_passes()

    def _finish_if_out_of_passes(self) -> bool:
        if not self.done and self.passes >= self.max_passes:
            self.done = True
        return self.done

    def _check_first(self, stats: ScalingStats) -> None:
        w, wy = stats.total("w"), stats.total("wy")
        err = weight_total_error(
            f"{self.method} scaling", w, stats.rows, unchanged="nothing in the map"
        )
        if err is not None:
            raise err
        if not (wy > 0 and w - wy > 0):
            raise DataError(
                f"{self.method} scaling: rows of both classes with a finite logit",
                f"received positive weight {wy!r} and negative weight {w - wy!r} "
                f"({count_of(stats.infinite_rows, 'row')} at p = 0 or 1 left out)",
                "fit on data with positives and negatives",
            )
        slope_at_zero = 0.5 * stats.total("wz") - stats.total("wyz")
        if self.method == "temperature" and not slope_at_zero < 0:
            raise DataError(
                "temperature scaling: predictions that rank positives above negatives "
                "on average, so that a finite temperature T > 0 is best",
                f"received predictions whose best 1/T is <= 0 (slope {slope_at_zero!r})",
                "use method='platt' (which may flip the sign) or the isotonic map",
            )

    def _newton(self, stats: ScalingStats) -> None:
        g = np.array([stats.total("ga"), stats.total("gb")])
        h = np.array(
            [[stats.total("haa"), stats.total("hab")], [stats.total("hab"), stats.total("hbb")]]
        )
        if self.method == "temperature":
            # b stays 0: its row and column are the identity, scaled like h[0, 0] (the
            # total weight), so that the least-squares cut-off (relative to the largest
            # singular value) never drops h[0, 0] for weights that are all small or large
            g[1], h[0, 1], h[1, 0], h[1, 1] = 0.0, 0.0, 0.0, stats.total("w")
        step = -np.linalg.lstsq(h, g, rcond=1e-13)[0]
        self._decrement = float(-g @ step) / stats.total("w")
        small = bool(np.all(np.abs(step) <= 1e-15 * (1.0 + np.abs(self._theta))))
        if self._decrement <= 1e-24 or small:
            self.converged = self.done = True
            return
        self._step, self._scale = step, 1.0
        self._set_trial()

    def _retry(self) -> None:
        self._scale *= 0.5
        if self._scale < 1e-9:
            # no decrease can be resolved: converged when the predicted decrease is
            # below the rounding of the loss
            self.done = True
            self.converged = self._decrement <= 1e-12 * abs(self.loss)
            return
        self._set_trial()

    def _set_trial(self) -> None:
        trial = self._theta + self._scale * self._step
        while self.method == "temperature" and not trial[0] > 0:
            self._scale *= 0.5  # 1/T must stay > 0 (its optimum is > 0, checked)
            trial = self._theta + self._scale * self._step
        self._trial = trial

    @property
    def separated(self) -> bool:
        """Whether the loss fell below 1e-9 of the identity map's: predictions that
        separate the classes, whose loss keeps falling towards 0 as the map sharpens into
        a step (the Newton steps stop only where its terms round away)."""
        return bool(self.loss < 1e-9 * self._first_loss)

    def result(self) -> PlattMap | TemperatureMap:
        """The fitted map; :class:`DataError` if the fit did not converge."""
        if self.separated:
            raise DataError(
                f"{self.method} scaling: positives and negatives that overlap in the "
                "predictions, so that a finite map is best",
                f"predictions that separate the classes: the loss fell from "
                f"{self._first_loss:.3g} to {self.loss:.3g} and keeps falling as the map "
                "sharpens into a step",
                "use the isotonic map, which fits a step",
            )
        if not self.converged:
            raise DataError(
                f"{self.method} scaling: a fit that converges within {self.max_passes} passes",
                f"not converged after {self.passes} passes; the labels may be separated "
                "perfectly by the predictions, so that the best map is a step",
                "use the isotonic map, or raise max_passes",
            )
        a, b = float(self._theta[0]), float(self._theta[1])
        if self.method == "temperature":
            return TemperatureMap(1.0 / a)
        return PlattMap(a, b)


def fit_scaling(
    run_pass: Callable[[ScalingStats], ScalingStats],
    *,
    method: str = "platt",
    max_passes: int = 50,
) -> PlattMap | TemperatureMap:
    """Fit by passes: ``run_pass(empty_state)`` must feed every row and return the state.

    ``run_pass`` may stream a file, a folder or a cluster (create states on workers
    with ``ScalingStats(state.a, state.b)`` and merge them).
    """
    hint = "pass a function that updates the state it is given with every row and returns it"
    if not callable(run_pass):
        raise OptionError(
            "fit_scaling: run_pass must be a function run_pass(state) -> state",
            f"received {type(run_pass).__name__}",
            hint,
        )
    fitter = ScalingFitter(method, max_passes=max_passes)
    while not fitter.done:
        state = run_pass(fitter.new_stats())
        check_instance(
            state,
            ScalingStats,
            name="run_pass(state)",
            fname="fit_scaling",
            what="a ScalingStats (the state it was given, updated)",
            hint=hint,
        )
        fitter.step(state)
    return fitter.result()


def _fit_rows(
    method: str, preds: object, targets: object, weights: object, logits: bool, max_passes: int
) -> PlattMap | TemperatureMap:
    z = to_logits(preds, logits=logits, fname=f"fit_{method}")
    return fit_scaling(
        lambda s: s.update(z, targets, weights=weights, logits=True),
        method=method,
        max_passes=max_passes,
    )


def fit_platt(
    preds: object,
    targets: object,
    *,
    weights: object = None,
    logits: bool = False,
    max_passes: int = 50,
) -> PlattMap:
    """Platt scaling fitted on in-memory rows (prediction first, target second)."""
    return cast(PlattMap, _fit_rows("platt", preds, targets, weights, logits, max_passes))


def fit_temperature(
    preds: object,
    targets: object,
    *,
    weights: object = None,
    logits: bool = False,
    max_passes: int = 50,
) -> TemperatureMap:
    """Temperature scaling fitted on in-memory rows (prediction first, target second)."""
    return cast(
        TemperatureMap, _fit_rows("temperature", preds, targets, weights, logits, max_passes)
    )
