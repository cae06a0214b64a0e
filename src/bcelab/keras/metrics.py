"""The Keras metric classes of :mod:`bcelab.keras` (made on first use, see there).

Each metric's state is a fixed vector (or, for calibration, a fixed histogram) of
weighted sums in Keras variables; every update calls the core on the backend's tensors,
prediction first.  The classes subclass ``keras.metrics.Metric``, so each is made by a
factory once Keras is imported.
"""

from __future__ import annotations

from typing import Any

from .._core.options import check_positive_int, check_unit_interval
from .._core.prepare import prepare
from ..information import binary_entropy, binary_kl
from ..losses import bce, bce_with_logits, sigmoid
from ..reduction import reduce
from .common import (
    FRAMEWORK,
    broadcast_weights,
    call_core,
    check_backend,
    eager_check,
    keras_mask,
    same_rank,
)

__all__ = ["build_metrics"]


def prepare_batch(metric: Any, y_true: Any, y_pred: Any) -> Any:
    """Checked inputs in the metric's dtype (:func:`bcelab._core.prepare.prepare`)."""
    ops = metric.ops
    check_backend(metric.where)
    y_true = ops.convert_to_tensor(y_true, dtype=metric.dtype)
    y_pred = ops.convert_to_tensor(y_pred, dtype=metric.dtype)
    y_pred, y_true = same_rank(y_pred, y_true)
    eager_check(y_pred, y_true, from_logits=metric.from_logits, where=metric.where)
    return call_core(
        metric.where,
        prepare,
        y_pred,
        y_true,
        fname="bce_with_logits" if metric.from_logits else "bce",
        probs=not metric.from_logits,
        nan_policy="raise",
    )


def sums_base(keras: Any) -> Any:
    """The base of the metrics: a fixed vector of weighted sums (one Keras variable)."""
    ops = keras.ops

    class Sums(keras.metrics.Metric):
        ops = keras.ops
        n_sums = 2

        def __init__(self, *, from_logits: bool = False, name: str, dtype: Any = None) -> None:
            super().__init__(name=name, dtype=dtype)
            self.from_logits = bool(from_logits)
            self.sums = self.add_variable(
                shape=self.state_shape(), initializer="zeros", name="sums", dtype=self.dtype
            )

        def state_shape(self) -> tuple[int, ...]:
            return (self.n_sums,)

        @property
        def where(self) -> str:
            return f"bcelab.keras.{type(self).__name__}"

        def weights_and_mask(self, prep: Any, sample_weight: Any, mask: Any) -> dict[str, Any]:
            """``reduce``'s ``weights`` and ``mask``: ``sample_weight`` and Keras's mask of
            ``y_pred``, one per element (as Keras's own metrics, which weight each sample's
            mean by both)."""
            like, where = prep.pred, self.where
            sw = broadcast_weights(
                sample_weight, like, self.dtype, where=where, name="sample_weight"
            )
            keep = broadcast_weights(mask, like, "bool", where=where, name="Keras's mask")
            return {"weights": sw, "mask": keep}

        def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
            mask = keras_mask(y_pred)
            prep = prepare_batch(self, y_true, y_pred)
            kw = self.weights_and_mask(prep, sample_weight, mask)
            terms = [*self.terms(prep), ops.ones_like(prep.y)]
            sums = [call_core(self.where, reduce, t, reduction="sum", **kw) for t in terms]
            self.sums.assign_add(ops.stack([ops.cast(s, self.dtype) for s in sums]))

        def terms(self, prep: Any) -> list[Any]:
            """The per-element values whose weighted sums the state keeps (before the count)."""
            raise NotImplementedError

        def probs(self, prep: Any) -> Any:
            return sigmoid(prep.pred) if self.from_logits else prep.pred

        def bce(self, prep: Any) -> Any:
            fn = bce_with_logits if self.from_logits else bce
            return call_core(self.where, fn, prep.pred_in, prep.y)

        def mean(self) -> Any:
            return self.sums[0] / self.sums[-1]

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "from_logits": self.from_logits}

    return Sums


def binary_accuracy(base: Any) -> type:
    class BinaryAccuracy(base):
        r"""Fraction of outputs on the right side of the threshold; every output counts.

        .. math::

            \mathrm{acc} = \frac{\sum_i w_i \bigl(y_i [p_i \ge t] + (1 - y_i) [p_i < t]\bigr)}
            {\sum_i w_i}

        (for hard labels: the fraction of matches; soft targets count as the expected
        accuracy, as in :class:`bcelab.metrics.BinaryStats`).  Tie rule: ``p == threshold``
        is class 1 (Keras's own metric says class 0); with ``from_logits=True``,
        ``sigmoid(x) >= threshold``.
        """

        def __init__(
            self,
            *,
            threshold: float = 0.5,
            from_logits: bool = False,
            name: str = "binary_accuracy",
            dtype: Any = None,
        ) -> None:
            super().__init__(from_logits=from_logits, name=name, dtype=dtype)
            self.threshold = check_unit_interval(
                threshold, name="threshold", fname=f"{self.where} ({FRAMEWORK})"
            )

        def terms(self, prep: Any) -> list[Any]:
            one = self.ops.cast(self.probs(prep) >= self.threshold, prep.y.dtype)
            return [prep.y * one + (1.0 - prep.y) * (1.0 - one)]

        def result(self) -> Any:
            return self.mean()

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "threshold": self.threshold}

    return BinaryAccuracy


def log_loss(base: Any) -> type:
    class LogLoss(base):
        r"""Weighted mean binary cross-entropy, :math:`\sum_i w_i \ell_i / \sum_i w_i`."""

        def __init__(
            self, *, from_logits: bool = False, name: str = "log_loss", dtype: Any = None
        ) -> None:
            super().__init__(from_logits=from_logits, name=name, dtype=dtype)

        def terms(self, prep: Any) -> list[Any]:
            return [self.bce(prep)]

        def result(self) -> Any:
            return self.mean()

    return LogLoss


def normalized_entropy(base: Any) -> type:
    class NormalizedEntropy(base):
        r"""Normalized entropy: mean BCE divided by the entropy of the base rate.

        .. math::

            \mathrm{NE} = \frac{\overline{\mathrm{BCE}}}{H(\bar y)}

        1 is the score of always predicting the base rate; lower is better.
        """

        n_sums = 3

        def __init__(
            self, *, from_logits: bool = False, name: str = "normalized_entropy", dtype: Any = None
        ) -> None:
            super().__init__(from_logits=from_logits, name=name, dtype=dtype)

        def terms(self, prep: Any) -> list[Any]:
            return [self.bce(prep), prep.y]

        def result(self) -> Any:
            base_rate = self.sums[1] / self.sums[2]
            # no rows (or every weight 0): a NaN base rate, and NaN, as the other metrics
            entropy = binary_entropy(base_rate, nan_policy="propagate")
            return (self.sums[0] / self.sums[2]) / entropy

    return NormalizedEntropy


def excess_loss(base: Any) -> type:
    class ExcessLoss(base):
        r"""Mean excess of BCE over its floor, :math:`\overline{\mathrm{KL}(y \| p)}` (0 = perfect)."""

        def __init__(
            self, *, from_logits: bool = False, name: str = "excess_loss", dtype: Any = None
        ) -> None:
            super().__init__(from_logits=from_logits, name=name, dtype=dtype)

        def terms(self, prep: Any) -> list[Any]:
            kl = call_core(self.where, binary_kl, prep.pred_in, prep.y, logits=self.from_logits)
            return [kl]

        def result(self) -> Any:
            return self.mean()

    return ExcessLoss


def calibration_error(base: Any) -> type:
    class CalibrationError(base):
        r"""Expected calibration error over ``n_bins`` equal-width probability bins.

        .. math::

            \mathrm{ECE} = \sum_b \frac{W_b}{W} \left| \bar p_b - \bar y_b \right|
            = \frac{1}{W} \sum_b \Bigl| \sum_{i \in b} w_i p_i - \sum_{i \in b} w_i y_i \Bigr|

        Bin ``b`` holds ``b/n <= p < (b+1)/n`` (``p = 1`` goes to the last bin).  The state
        is a fixed ``(n_bins, 3)`` histogram variable of weight, weighted p and weighted y
        sums: no prediction is kept.
        """

        def __init__(
            self,
            *,
            n_bins: int = 15,
            from_logits: bool = False,
            name: str = "calibration_error",
            dtype: Any = None,
        ) -> None:
            fname = f"bcelab.keras.{type(self).__name__} ({FRAMEWORK})"
            self.n_bins = check_positive_int(n_bins, name="n_bins", fname=fname, example=15)
            super().__init__(from_logits=from_logits, name=name, dtype=dtype)

        def state_shape(self) -> tuple[int, ...]:
            return (self.n_bins, 3)

        def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
            ops = self.ops
            mask = keras_mask(y_pred)
            prep = prepare_batch(self, y_true, y_pred)
            p = ops.cast(self.probs(prep), self.dtype)
            y = ops.cast(prep.y, self.dtype)
            w = ops.ones_like(p)
            kw = self.weights_and_mask(prep, sample_weight, mask)
            if kw["weights"] is not None or kw["mask"] is not None:
                w = call_core(self.where, reduce, w, reduction="none", **kw)
                w = ops.cast(w, self.dtype)
            idx = ops.minimum(ops.cast(ops.floor(p * self.n_bins), "int32"), self.n_bins - 1)
            data = ops.reshape(ops.stack([w, w * p, w * y], axis=-1), (-1, 3))
            hist = ops.segment_sum(data, ops.reshape(idx, (-1,)), num_segments=self.n_bins)
            self.sums.assign_add(ops.cast(hist, self.dtype))

        def result(self) -> Any:
            h = self.sums
            return self.ops.sum(self.ops.abs(h[:, 1] - h[:, 2])) / self.ops.sum(h[:, 0])

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "n_bins": self.n_bins}

    return CalibrationError


def build_metrics(keras: Any) -> list[type]:
    """The metric classes (Keras must be importable, with its backend chosen)."""
    base = sums_base(keras)
    factories = (binary_accuracy, log_loss, normalized_entropy, excess_loss, calibration_error)
    return [make(base) for make in factories]
