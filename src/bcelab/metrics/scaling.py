r"""The mergeable sums behind Platt and temperature scaling (fitted by
:mod:`bcelab.metrics.scaling_fit`).

With :math:`z = \mathrm{logit}(p)`, :math:`t = a z + b` and :math:`q = \sigma(t)`, the weighted
log loss of the recalibrated predictions and its derivatives are sums over rows:

.. math::

    L = \sum w\,[y\,\mathrm{softplus}(-t) + (1 - y)\,\mathrm{softplus}(t)], \quad
    \nabla L = \sum w (q - y) \binom{z}{1}, \quad
    \nabla^2 L = \sum w\,q (1 - q) \begin{pmatrix} z^2 & z \\ z & 1 \end{pmatrix}

For one parameter vector, :class:`ScalingStats` accumulates them in one pass over the
rows (``update`` batch by batch, ``merge`` across workers; weights and |z| sqrt(w) below
1e100).  :class:`~bcelab.metrics.scaling_fit.ScalingFitter` turns passes into Newton
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

import numpy as np

from .._core import formulas
from .._core.display import counted
from .._core.options import check_choice
from ..errors import DataError, DomainError, OptionError, ShapeError
from .inputs import to_numpy
from .recalibration import to_logits

__all__ = ["SCALING_METHODS", "ScalingStats"]

SCALING_METHODS: tuple[str, ...] = ("platt", "temperature")
#: Σw, Σwy, loss, gradient (a, b), Hessian (aa, ab, bb), Σw z, Σw y z
_SUMS = ("w", "wy", "loss", "ga", "gb", "haa", "hab", "hbb", "wz", "wyz")
_SLICE = 1 << 18
_MAGIC = b"BCSCAL1\0"  # to_bytes: this tag, 2 + 2 x len(_SUMS) float64, 4 int64
_NBYTES = len(_MAGIC) + 8 * (2 + 2 * len(_SUMS)) + 8 * 4
_BIG = 1e100  # w and |z| sqrt(w): sums of w and w z^2 over 1e8 rows stay below 1e208


def _too_big(fname: str, z: np.ndarray, w: np.ndarray, zw: np.ndarray) -> tuple[str, str, str]:
    """The parts of the error for a weight, or a finite logit times the square root of
    its weight, of 1e100 or more: the fit's sums of w and w z^2 would overflow."""
    expected = f"{fname}: weights w and finite logits z with w and |z| sqrt(w) below 1e100"
    i = int(np.argmax(w))
    if w[i] >= _BIG:
        return (
            expected,
            f"received a weight of {w[i]:.3g}",
            "divide the weights by their largest value",
        )
    i = int(np.argmax(zw))
    weighted = "" if w[i] == 1.0 else f" with a weight of {w[i]:.3g} (|z| sqrt(w) {zw[i]:.3g})"
    return (
        expected,
        f"received a logit of {z[i]:.3g}{weighted}",
        "clip the logits first, e.g. to [-1e6, 1e6]: a logit this large is a probability of "
        "exactly 0 or 1 to double precision, and clipping it changes no prediction",
    )


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
                f"{counted(int(np.count_nonzero(~((w >= 0) & (w < np.inf)))), 'weight')} not",
                "fix or drop those rows' weights",
            )
        keep = (y >= 0) & (y <= 1) & ~np.isnan(z)
        with np.errstate(over="ignore"):  # an overflow is infinite, and refused below
            zw = np.abs(np.where(np.isfinite(z), z, 0)) * np.sqrt(w)
            big = float(np.max(np.maximum(zw, w), initial=0.0))
        if not big < _BIG:  # the fit's sums of w and w z^2 must stay finite
            raise DomainError(*_too_big(fname, z, w, zw))
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
        name = check_choice(
            name, _SUMS, name="name", fname="ScalingStats.total", hint="pass e.g. 'loss'"
        )
        j = _SUMS.index(name)
        return float(self._hi[j] + self._lo[j])

    @property
    def loss(self) -> float:
        """Mean log loss over the rows with a finite logit (NaN without such rows)."""
        w = self.total("w")
        return self.total("loss") / w if w > 0 else math.nan
