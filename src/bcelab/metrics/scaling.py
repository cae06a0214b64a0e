r"""Platt and temperature scaling fitted by Newton's method over mergeable sums.

With :math:`z = \mathrm{logit}(p)`, :math:`t = a z + b` and :math:`q = \sigma(t)`, the weighted
log loss of the recalibrated predictions and its derivatives are sums over rows:

.. math::

    L = \sum w\,[y\,\mathrm{softplus}(-t) + (1 - y)\,\mathrm{softplus}(t)], \quad
    \nabla L = \sum w (q - y) \binom{z}{1}, \quad
    \nabla^2 L = \sum w\,q (1 - q) \begin{pmatrix} z^2 & z \\ z & 1 \end{pmatrix}

For one parameter vector, :class:`ScalingStats` accumulates them in one pass over the
rows (``update`` batch by batch, ``merge`` across workers; weights and |z| sqrt(w) below
1e100).  :class:`ScalingFitter` turns passes into Newton
steps from a = 1, b = 0 (the identity map): step :math:`-H^{-1} g`, halved while the
loss grows, until the Newton decrement :math:`g^\top H^{-1} g / \sum w` is below
1e-24 (the loss is then optimal to machine precision); typically 4-7 passes.  The loss
is convex in (a, b), so the optimum is the logistic regression of y on logit(p), and a
zero b-gradient means :math:`\sum w q = \sum w y`: calibration 1.  Temperature scaling
is the same with b = 0 and a = 1/T, which must be > 0.

Rows with p exactly 0 or 1 (an infinite logit) are left out of the sums and counted
(``infinite_rows``): for a > 0 they keep their prediction and contribute their exact
limit, 0 when the label agrees and +inf when it does not, whatever the map, so they
cannot move the fit.  Rows with a NaN prediction or a target outside [0, 1] are left
out and counted (``excluded_rows``), as in :class:`~bcelab.metrics.BinaryStats`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import numpy as np

from .._core import formulas
from .._core.options import check_choice, check_positive_int
from ..errors import DataError, DomainError, OptionError, ShapeError
from .inputs import to_numpy
from .recalibration import PlattMap, TemperatureMap, to_logits

__all__ = [
    "SCALING_METHODS",
    "ScalingFitter",
    "ScalingStats",
    "fit_platt",
    "fit_scaling",
    "fit_temperature",
]

SCALING_METHODS: tuple[str, ...] = ("platt", "temperature")
#: Σw, Σwy, loss, gradient (a, b), Hessian (aa, ab, bb), Σw z, Σw y z
_SUMS = ("w", "wy", "loss", "ga", "gb", "haa", "hab", "hbb", "wz", "wyz")
_SLICE = 1 << 18
_MAGIC = b"BCSCAL1\0"  # to_bytes: this tag, 2 + 2 x len(_SUMS) float64, 4 int64
_NBYTES = len(_MAGIC) + 8 * (2 + 2 * len(_SUMS)) + 8 * 4
_BIG = 1e100  # w and |z| sqrt(w): sums of w and w z^2 over 1e8 rows stay below 1e208


class ScalingStats:
    """The loss, gradient and Hessian of scaling at fixed ``(a, b)``: one pass's state.

    ``update`` adds rows in place, ``merge`` adds another state at the same parameters
    in place (both return ``self``); ``a + b`` returns a new state.  Sums are float64
    with compensated (hi, lo) accumulation across batches.
    """

    def __init__(self, a: float = 1.0, b: float = 0.0) -> None:
        self.a = float(a)
        self.b = float(b)
        self._hi = np.zeros(len(_SUMS))
        self._lo = np.zeros(len(_SUMS))
        self.rows = 0
        self.excluded_rows = 0
        self.infinite_rows = 0
        self.infinite_loss = False

    def update(
        self, preds: object, targets: object, *, weights: object = None, logits: bool = False
    ) -> ScalingStats:
        """Add rows (prediction first, target second; any array, flattened)."""
        fname = "ScalingStats.update"
        z = to_logits(preds, logits=logits, fname=fname).ravel()
        y = np.asarray(
            to_numpy(targets, name="targets", fname=fname, kind="targets"), np.float64
        ).ravel()
        w = np.ones_like(z)
        if weights is not None:
            w = np.asarray(
                to_numpy(weights, name="weights", fname=fname, kind="weights"), np.float64
            ).ravel()
        if y.shape != z.shape or w.shape != z.shape:
            raise ShapeError(
                f"{fname}: preds, targets and weights must have the same number of rows",
                f"received {z.shape[0]}, {y.shape[0]} and {w.shape[0]}",
                "pass one value per row in each",
            )
        if not bool(np.all((w >= 0) & (w < np.inf))):
            raise DomainError(
                f"{fname}: weights must be finite and >= 0",
                f"{int(np.count_nonzero(~((w >= 0) & (w < np.inf))))} weights are not",
                "fix or drop those rows' weights",
            )
        keep = (y >= 0) & (y <= 1) & ~np.isnan(z)
        with np.errstate(over="ignore"):  # an overflow is infinite, and refused below
            zw = np.abs(np.where(np.isfinite(z), z, 0)) * np.sqrt(w)
            big = float(np.max(np.maximum(zw, w), initial=0.0))
        if not big < _BIG:  # the fit's sums of w and w z^2 must stay finite
            raise DomainError(
                f"{fname}: weights w and finite logits z with w and |z| sqrt(w) below 1e100",
                f"received {big:.3g}",
                "divide the weights by their largest value; logits this large are saturated",
            )
        inf = keep & np.isinf(z) & (w > 0)
        wrong = inf & (((z > 0) & (y < 1)) | ((z < 0) & (y > 0)))
        fin = keep & ~np.isinf(z) & (w > 0)
        for s in range(0, z.size, _SLICE):
            part = slice(s, s + _SLICE)
            f = fin[part]
            self._add(self._sums(z[part][f], y[part][f], w[part][f]))
        self.rows += int(z.size)
        self.excluded_rows += int(z.size - np.count_nonzero(keep))
        self.infinite_rows += int(np.count_nonzero(inf))
        self.infinite_loss = self.infinite_loss or bool(wrong.any())
        return self

    def _sums(self, z: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        t = self.a * z + self.b
        a_term, b_term = formulas.neglog_terms_logits(np, t, y, guard=False)
        loss = formulas.cross_entropy(y, a_term, b_term, None)
        q = formulas.sigmoid(np, t)
        g = w * (q - y)
        h = w * q * formulas.sigmoid(np, -t)
        wz = w * z
        return np.array(
            [
                w.sum(),
                (w * y).sum(),
                (w * loss).sum(),
                (g * z).sum(),
                g.sum(),
                (h * z * z).sum(),
                (h * z).sum(),
                h.sum(),
                wz.sum(),
                (wz * y).sum(),
            ]
        )

    def _add(self, v: np.ndarray) -> None:
        hi = self._hi
        t = hi + v
        self._lo += np.where(np.abs(hi) >= np.abs(v), (hi - t) + v, (v - t) + hi)
        self._hi = t

    def merge(self, other: ScalingStats) -> ScalingStats:
        """Add the rows of ``other`` (a state at the same ``a``, ``b``) in place."""
        if not isinstance(other, ScalingStats) or (other.a, other.b) != (self.a, self.b):
            raise OptionError(
                f"ScalingStats.merge: a ScalingStats at a={self.a!r}, b={self.b!r}",
                f"received {other!r}",
                "merge only the states of one pass (same parameters)",
            )
        self._add(other._hi)
        self._lo += other._lo
        self.rows += other.rows
        self.excluded_rows += other.excluded_rows
        self.infinite_rows += other.infinite_rows
        self.infinite_loss = self.infinite_loss or other.infinite_loss
        return self

    def to_bytes(self) -> bytes:
        """A fixed-size binary encoding (no pickle): the parameters, sums and counts."""
        floats = np.concatenate(([self.a, self.b], self._hi, self._lo))
        counts = [self.rows, self.excluded_rows, self.infinite_rows, int(self.infinite_loss)]
        return _MAGIC + floats.tobytes() + np.array(counts, dtype=np.int64).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> ScalingStats:
        """Decode :meth:`to_bytes`; :class:`DataError` on bytes of another kind."""
        if not isinstance(data, bytes) or len(data) != _NBYTES or not data.startswith(_MAGIC):
            raise DataError(
                f"ScalingStats.from_bytes: {_NBYTES} bytes written by ScalingStats.to_bytes",
                f"received {len(data) if isinstance(data, bytes) else type(data).__name__}",
                "pass the bytes of ScalingStats.to_bytes unchanged",
            )
        n = 2 + 2 * len(_SUMS)
        floats = np.frombuffer(data, np.float64, n, len(_MAGIC))
        counts = np.frombuffer(data, np.int64, 4, len(_MAGIC) + 8 * n).tolist()
        out = cls(floats[0], floats[1])
        out._hi, out._lo = floats[2 : 2 + len(_SUMS)].copy(), floats[2 + len(_SUMS) :].copy()
        out.rows, out.excluded_rows, out.infinite_rows = counts[:3]
        out.infinite_loss = bool(counts[3])
        return out

    def __add__(self, other: object) -> ScalingStats:
        if not isinstance(other, ScalingStats):
            return NotImplemented
        out = ScalingStats(self.a, self.b).merge(self)
        return out.merge(other)

    def __repr__(self) -> str:
        return f"ScalingStats(a={self.a!r}, b={self.b!r}, rows={self.rows})"

    def total(self, name: str) -> float:
        """One of the sums by name: ``w``, ``wy``, ``loss``, ``ga``, ``gb``, ``haa``,
        ``hab``, ``hbb``, ``wz``, ``wyz`` (over the rows with a finite logit)."""
        j = _SUMS.index(name)
        return float(self._hi[j] + self._lo[j])

    @property
    def loss(self) -> float:
        """Mean log loss over the rows with a finite logit (NaN without such rows)."""
        w = self.total("w")
        return self.total("loss") / w if w > 0 else math.nan


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
        if not (wy > 0 and w - wy > 0):
            raise DataError(
                f"{self.method} scaling: rows of both classes with a finite logit",
                f"received positive weight {wy!r} and negative weight {w - wy!r} "
                f"({stats.infinite_rows} rows at p = 0 or 1 left out)",
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
            g[1], h[0, 1], h[1, 0], h[1, 1] = 0.0, 0.0, 0.0, 1.0
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
    fitter = ScalingFitter(method, max_passes=max_passes)
    while not fitter.done:
        fitter.step(run_pass(fitter.new_stats()))
    return fitter.result()


def fit_platt(
    preds: object,
    targets: object,
    *,
    weights: object = None,
    logits: bool = False,
    max_passes: int = 50,
) -> PlattMap:
    """Platt scaling fitted on in-memory rows (prediction first, target second)."""
    z = to_logits(preds, logits=logits, fname="fit_platt")
    return cast(
        PlattMap,
        fit_scaling(
            lambda s: s.update(z, targets, weights=weights, logits=True),
            method="platt",
            max_passes=max_passes,
        ),
    )


def fit_temperature(
    preds: object,
    targets: object,
    *,
    weights: object = None,
    logits: bool = False,
    max_passes: int = 50,
) -> TemperatureMap:
    """Temperature scaling fitted on in-memory rows (prediction first, target second)."""
    z = to_logits(preds, logits=logits, fname="fit_temperature")
    return cast(
        TemperatureMap,
        fit_scaling(
            lambda s: s.update(z, targets, weights=weights, logits=True),
            method="temperature",
            max_passes=max_passes,
        ),
    )
