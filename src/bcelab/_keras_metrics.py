"""The Keras metric classes of :mod:`bcelab.keras` (built on first use, see there).

Each metric's state is a fixed vector (or, for calibration, a fixed histogram) of
weighted sums in Keras variables; every update calls the core on the backend's tensors.
"""

from __future__ import annotations

from typing import Any

from .errors import OptionError
from .keras import FRAMEWORK, _call, _check_backend, _eager_check, _same_rank

__all__ = ["build_metrics"]


def build_metrics(register: Any) -> list[type]:
    """Define the metric classes (Keras must be importable) and return them."""
    import keras
    from keras import ops

    from ._core.prepare import prepare as core_prepare
    from .information import binary_entropy, binary_kl
    from .losses import bce, bce_with_logits, sigmoid
    from .reduction import reduce

    class _Sums(keras.metrics.Metric):
        """A metric whose state is a fixed vector of weighted sums (float32 variables)."""

        n_sums = 2

        def __init__(self, *, from_logits: bool = False, name: str, dtype: Any = None) -> None:
            super().__init__(name=name, dtype=dtype)
            self.from_logits = bool(from_logits)
            self.sums = self.add_variable(
                shape=self._state_shape(), initializer="zeros", name="sums", dtype=self.dtype
            )

        def _state_shape(self) -> tuple[int, ...]:
            return (self.n_sums,)

        @property
        def where(self) -> str:
            return f"bcelab.keras.{type(self).__name__}"

        def _prepare(self, y_true: Any, y_pred: Any) -> Any:
            _check_backend(self.where)
            y_true = ops.convert_to_tensor(y_true, dtype=self.dtype)
            y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
            y_true, y_pred = _same_rank(y_true, y_pred)
            _eager_check(y_true, y_pred, probs=not self.from_logits, where=self.where)
            fname = "bce_with_logits" if self.from_logits else "bce"
            return _call(
                self.where,
                core_prepare,
                y_pred,
                y_true,
                fname=fname,
                probs=not self.from_logits,
                nan_policy="raise",
            )

        def _sum(self, values: Any, sample_weight: Any) -> Any:
            return _call(self.where, reduce, values, reduction="sum", weights=sample_weight)

        def _weights(self, sample_weight: Any) -> Any:
            if sample_weight is None:
                return None
            return ops.convert_to_tensor(sample_weight, dtype=self.dtype)

        def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
            prep = self._prepare(y_true, y_pred)
            sw = self._weights(sample_weight)
            terms = [*self._terms(prep, y_true), ops.ones_like(prep.y)]
            new = ops.stack([ops.cast(self._sum(t, sw), self.dtype) for t in terms])
            self.sums.assign_add(new)

        def _terms(self, prep: Any, y_true: Any) -> list[Any]:
            raise NotImplementedError

        def _probs(self, prep: Any) -> Any:
            return sigmoid(prep.pred) if self.from_logits else prep.pred

        def _bce(self, prep: Any) -> Any:
            fn = bce_with_logits if self.from_logits else bce
            return _call(self.where, fn, prep.pred_in, prep.y)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "from_logits": self.from_logits}

    @register
    class BinaryAccuracy(_Sums):
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
            self.threshold = float(threshold)

        def _terms(self, prep: Any, y_true: Any) -> list[Any]:
            one = ops.cast(self._probs(prep) >= self.threshold, prep.y.dtype)
            return [prep.y * one + (1.0 - prep.y) * (1.0 - one)]

        def result(self) -> Any:
            return self.sums[0] / self.sums[1]

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "threshold": self.threshold}

    @register
    class LogLoss(_Sums):
        r"""Weighted mean binary cross-entropy, :math:`\sum_i w_i \ell_i / \sum_i w_i`."""

        def __init__(
            self, *, from_logits: bool = False, name: str = "log_loss", dtype: Any = None
        ) -> None:
            super().__init__(from_logits=from_logits, name=name, dtype=dtype)

        def _terms(self, prep: Any, y_true: Any) -> list[Any]:
            return [self._bce(prep)]

        def result(self) -> Any:
            return self.sums[0] / self.sums[1]

    @register
    class NormalizedEntropy(_Sums):
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

        def _terms(self, prep: Any, y_true: Any) -> list[Any]:
            return [self._bce(prep), prep.y]

        def result(self) -> Any:
            base = self.sums[1] / self.sums[2]
            return (self.sums[0] / self.sums[2]) / binary_entropy(base)

    @register
    class ExcessLoss(_Sums):
        r"""Mean excess of BCE over its floor, :math:`\overline{\mathrm{KL}(y \| p)}` (0 = perfect)."""

        def __init__(
            self, *, from_logits: bool = False, name: str = "excess_loss", dtype: Any = None
        ) -> None:
            super().__init__(from_logits=from_logits, name=name, dtype=dtype)

        def _terms(self, prep: Any, y_true: Any) -> list[Any]:
            return [_call(self.where, binary_kl, prep.pred_in, prep.y, logits=self.from_logits)]

        def result(self) -> Any:
            return self.sums[0] / self.sums[1]

    @register
    class CalibrationError(_Sums):
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
            if int(n_bins) < 1:
                raise OptionError(
                    f"bcelab.keras.CalibrationError ({FRAMEWORK}): n_bins >= 1",
                    f"received n_bins={n_bins!r}",
                    "use e.g. n_bins=15",
                )
            self.n_bins = int(n_bins)
            super().__init__(from_logits=from_logits, name=name, dtype=dtype)

        def _state_shape(self) -> tuple[int, ...]:
            return (self.n_bins, 3)

        def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
            prep = self._prepare(y_true, y_pred)
            p = ops.cast(self._probs(prep), self.dtype)
            y = ops.cast(prep.y, self.dtype)
            w = ops.ones_like(p)
            sw = self._weights(sample_weight)
            if sw is not None:
                w = ops.cast(_call(self.where, reduce, w, reduction="none", weights=sw), self.dtype)
            idx = ops.minimum(ops.cast(ops.floor(p * self.n_bins), "int32"), self.n_bins - 1)
            data = ops.reshape(ops.stack([w, w * p, w * y], axis=-1), (-1, 3))
            hist = ops.segment_sum(data, ops.reshape(idx, (-1,)), num_segments=self.n_bins)
            self.sums.assign_add(ops.cast(hist, self.dtype))

        def result(self) -> Any:
            h = self.sums
            return ops.sum(ops.abs(h[:, 1] - h[:, 2])) / ops.sum(h[:, 0])

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "n_bins": self.n_bins}

    return [BinaryAccuracy, LogLoss, NormalizedEntropy, ExcessLoss, CalibrationError]
