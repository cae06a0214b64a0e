"""Keras 3 adapter: bcelab's losses and metrics for ``model.compile``.

Losses (``keras.losses.Loss``): :class:`BinaryCrossentropy` and :class:`BinaryKLDivergence`.
Metrics (``keras.metrics.Metric``, state held as Keras variables, a fixed number of sums):
:class:`BinaryAccuracy`, :class:`LogLoss`, :class:`NormalizedEntropy`, :class:`ExcessLoss`
and :class:`CalibrationError`.

Every class calls the core (:func:`bcelab.bce`, :func:`bcelab.bce_with_logits`,
:func:`bcelab.binary_kl`, :func:`bcelab.reduce`, ...) on the backend's own tensors: the
core is written against the Array API, so on the ``jax`` and ``torch`` backends (and
``numpy``) it runs inside compiled train steps unchanged.  The ``tensorflow`` backend is
not supported (TensorFlow tensors are not Array-API arrays): using a class there raises
:class:`bcelab.OptionError`.

Differences from ``keras.losses.BinaryCrossentropy``:

* ``reduction=None`` (or ``"none"``) is element-wise: the loss has the shape of
  ``y_pred``; Keras returns the mean over the last axis, so per-label weights are
  impossible there (tensorflow#35004);
* no hidden epsilon: probabilities 0 and 1 give the exact loss (``clip=`` on request);
* label smoothing uses the same formula ``y (1 - s) + s/2``;
* :class:`BinaryAccuracy` counts a prediction ``p >= threshold`` as class 1 (Keras uses
  ``p > threshold``), like :class:`bcelab.metrics.BinaryStats`, and counts every output of a
  multi-output sigmoid model (``metrics=["accuracy"]`` picks categorical accuracy
  whenever the last axis is longer than 1).

Shapes follow Keras's one rank rule and nothing else: when ``y_true`` has exactly one
axis fewer than ``y_pred`` and ``y_pred``'s last axis has length 1 (labels ``(batch,)``
for a ``Dense(1)`` output), ``y_true`` gets that axis; any other mismatch raises
:class:`bcelab.ShapeError`.

Value checks (targets in [0, 1], NaN, probabilities in [0, 1]) run on concrete tensors:
on the torch backend they run in every eager train step; on the jax backend ``model.fit``
traces the step with ``jax.jit`` and the checks are skipped (shape and dtype checks
still run while tracing).  Pass ``run_eagerly=True`` to ``compile`` to check values.

On the torch backend, in eager mode on the CPU, :class:`BinaryCrossentropy` with the
default (or ``"sum"``) reduction and no mask hands the call to the same fused kernel as
:class:`bcelab.torch.BCELoss` (:mod:`bcelab._torch_autograd`): loss and gradient in one
pass, the same numbers as the element-wise path.

Keras is imported on first use of a class, so ``import bcelab.keras`` works before
``KERAS_BACKEND`` is chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._adapters import call_as, renamed
from .errors import BCELabError, OptionError

__all__ = [
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "BinaryKLDivergence",
    "CalibrationError",
    "ExcessLoss",
    "LogLoss",
    "NormalizedEntropy",
]

FRAMEWORK = "Keras"
SUPPORTED_BACKENDS = ("jax", "torch", "numpy")


def _renamed(err: BCELabError, where: str) -> BCELabError:
    return renamed(err, where, FRAMEWORK)


def _call(where: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return call_as(where, FRAMEWORK, fn, *args, **kwargs)


def _check_backend(where: str) -> None:
    import keras

    name = keras.backend.backend()
    if name not in SUPPORTED_BACKENDS:
        raise OptionError(
            f"{where} ({FRAMEWORK}): the Keras backend must be one of {SUPPORTED_BACKENDS}",
            f"received backend {name!r}",
            "set KERAS_BACKEND=jax or KERAS_BACKEND=torch before importing keras",
        )


def _same_rank(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    """Keras's rank rule: labels ``(batch,)`` against predictions ``(batch, 1)``."""
    from keras import ops

    rt, rp = len(y_true.shape), len(y_pred.shape)
    if rt + 1 == rp and y_pred.shape[-1] == 1:
        y_true = ops.expand_dims(y_true, -1)
    elif rp + 1 == rt and y_true.shape[-1] == 1:
        y_pred = ops.expand_dims(y_pred, -1)
    return y_true, y_pred


def _eager_check(y_true: Any, y_pred: Any, *, probs: bool, where: str) -> None:
    """Value checks for concrete JAX arrays, which the core treats as lazy and never checks.

    Tracers have no values: under ``jax.jit`` (``model.fit`` on the jax backend) nothing
    is checked; with ``run_eagerly=True`` the targets are concrete and are checked, while
    the predictions are ``jax.grad`` tracers.  Other backends' tensors are checked by the
    core itself.
    """
    import array_api_compat

    if not array_api_compat.is_jax_array(y_pred):
        return
    import jax
    import numpy as np

    from ._core.prepare import prepare

    fname = "bce" if probs else "bce_with_logits"
    if isinstance(y_true, jax.core.Tracer):
        return
    y = np.asarray(y_true)
    if isinstance(y_pred, jax.core.Tracer):
        _call(
            where, prepare, y, y, fname=fname, probs=False, nan_policy="raise", pred_name="targets"
        )
    else:
        _call(where, prepare, np.asarray(y_pred), y, fname=fname, probs=probs, nan_policy="raise")


def _expand_weights(sample_weight: Any, y_pred: Any, dtype: Any) -> Any:
    """One weight per sample (a leading part of the shape) applied to all its elements.

    Keras itself only matches ``(batch,)`` weights to ``(batch, 1)`` losses; element-wise
    losses need the explicit expansion (the core's documented prefix rule).
    """
    from keras import ops

    if sample_weight is None:
        return None
    sw = ops.convert_to_tensor(sample_weight, dtype=dtype)
    ws, ps = tuple(sw.shape), tuple(y_pred.shape)
    if len(ws) < len(ps) and ps[: len(ws)] == ws:
        sw = ops.broadcast_to(ops.reshape(sw, ws + (1,) * (len(ps) - len(ws))), ps)
    return sw


_BUILT: dict[str, type] = {}
#: Keras reductions that the core's fused kernel computes directly (torch backend).
_KERAS_REDUCTIONS = {"sum_over_batch_size": "mean", "mean": "mean", "sum": "sum"}

# The classes subclass keras.losses.Loss / keras.metrics.Metric, so they are built on first
# access (module __getattr__ below), after KERAS_BACKEND has been chosen.
BinaryAccuracy: type
BinaryCrossentropy: type
BinaryKLDivergence: type
CalibrationError: type
ExcessLoss: type
LogLoss: type
NormalizedEntropy: type


def __getattr__(name: str) -> Any:
    if name in __all__:
        if not _BUILT:
            _BUILT.update(_build())
        return _BUILT[name]
    raise AttributeError(f"module 'bcelab.keras' has no attribute {name!r}")


def _build() -> dict[str, type]:
    import keras
    from keras import ops

    from .information import binary_kl
    from .losses import bce, bce_with_logits

    register = keras.saving.register_keras_serializable(package="bcelab")

    class _Loss(keras.losses.Loss):
        def __init__(
            self,
            *,
            from_logits: bool,
            label_smoothing: float,
            reduction: Any,
            name: str,
            dtype: Any,
        ) -> None:
            super().__init__(name=name, reduction=reduction, dtype=dtype)
            self.from_logits = bool(from_logits)
            self.label_smoothing = float(label_smoothing)

        @property
        def where(self) -> str:
            return f"bcelab.keras.{type(self).__name__}"

        def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
            masked = getattr(y_pred, "_keras_mask", None) is not None
            y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
            y_true = ops.convert_to_tensor(y_true, dtype=self.dtype)
            y_true, y_pred = _same_rank(y_true, y_pred)
            _eager_check(y_true, y_pred, probs=not self.from_logits, where=self.where)
            sw = _expand_weights(sample_weight, y_pred, self.dtype)
            if not masked and keras.backend.backend() == "torch":
                fast = self._fused(y_true, y_pred, sw)
                if fast is not None:
                    return fast
            return super().__call__(y_true, y_pred, sample_weight=sw)

        def _fused(self, y_true: Any, y_pred: Any, sw: Any) -> Any:
            """Reduced loss from the fused kernel (eager torch on the CPU), or None."""
            return None

        def get_config(self) -> dict[str, Any]:
            return {
                **super().get_config(),
                "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing,
            }

    @register
    class BinaryCrossentropy(_Loss):
        r"""Exact binary cross-entropy for Keras 3 (jax, torch and numpy backends).

        .. math::

            \ell(p, y) = -\bigl(w_+\, y \log p + (1 - y) \log(1 - p)\bigr)

        computed by :func:`bcelab.bce` (probabilities, the Keras default) or
        :func:`bcelab.bce_with_logits` (``from_logits=True``).  ``reduction=None`` keeps
        one loss per element; the default ``"sum_over_batch_size"`` is the mean over all
        elements, which equals Keras's value.
        """

        def __init__(
            self,
            *,
            from_logits: bool = False,
            label_smoothing: float = 0.0,
            pos_weight: float | None = None,
            clip: float | None = None,
            reduction: Any = "sum_over_batch_size",
            name: str = "binary_crossentropy",
            dtype: Any = None,
        ) -> None:
            super().__init__(
                from_logits=from_logits,
                label_smoothing=label_smoothing,
                reduction=reduction,
                name=name,
                dtype=dtype,
            )
            self.pos_weight = pos_weight
            self.clip = clip

        def _fused(self, y_true: Any, y_pred: Any, sw: Any) -> Any:
            # Keras's "sum_over_batch_size" (and "mean") is sum / number of elements, with
            # sample weights too: the core's "mean"; "sum" is "sum".  Other reductions
            # (None, "mean_with_sample_weight", whose total weight 0 gives 0 in Keras)
            # take the element-wise path below.
            reduction = _KERAS_REDUCTIONS.get(self.reduction)
            if reduction is None:
                return None
            from ._torch_autograd import fused_loss

            return _call(
                self.where,
                fused_loss,
                y_pred,
                y_true,
                None if sw is None else sw.contiguous(),
                from_logits=self.from_logits,
                pos_weight=self.pos_weight,
                label_smoothing=self.label_smoothing,
                reduction=reduction,
                clip=self.clip,
            )

        def call(self, y_true: Any, y_pred: Any) -> Any:
            _check_backend(self.where)
            y_true, y_pred = _same_rank(y_true, y_pred)
            pw = self.pos_weight
            if pw is not None and not isinstance(pw, (int, float)):
                pw = ops.convert_to_tensor(pw, dtype=y_pred.dtype)
            if self.from_logits:
                return _call(
                    self.where,
                    bce_with_logits,
                    y_pred,
                    y_true,
                    pos_weight=pw,
                    label_smoothing=self.label_smoothing,
                )
            return _call(
                self.where,
                bce,
                y_pred,
                y_true,
                pos_weight=pw,
                clip=self.clip,
                label_smoothing=self.label_smoothing,
            )

        def get_config(self) -> dict[str, Any]:
            pw = self.pos_weight
            pw = pw if pw is None or isinstance(pw, (int, float)) else [float(v) for v in pw]
            return {**super().get_config(), "pos_weight": pw, "clip": self.clip}

    @register
    class BinaryKLDivergence(_Loss):
        r"""BCE minus its floor, :math:`\mathrm{KL}(y \| p) = \mathrm{BCE}(y, p) - H(y)`.

        Same gradient as :class:`BinaryCrossentropy`; 0 at a perfect fit, also for soft
        targets (autoencoders).  Computed by :func:`bcelab.binary_kl`.
        """

        def __init__(
            self,
            *,
            from_logits: bool = False,
            label_smoothing: float = 0.0,
            reduction: Any = "sum_over_batch_size",
            name: str = "binary_kl_divergence",
            dtype: Any = None,
        ) -> None:
            super().__init__(
                from_logits=from_logits,
                label_smoothing=label_smoothing,
                reduction=reduction,
                name=name,
                dtype=dtype,
            )

        def call(self, y_true: Any, y_pred: Any) -> Any:
            _check_backend(self.where)
            y_true, y_pred = _same_rank(y_true, y_pred)
            return _call(
                self.where,
                binary_kl,
                y_pred,
                y_true,
                logits=self.from_logits,
                label_smoothing=self.label_smoothing,
            )

    from ._keras_metrics import build_metrics

    classes: list[type] = [BinaryCrossentropy, BinaryKLDivergence, *build_metrics(register)]
    for cls in classes:
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
    return {cls.__name__: cls for cls in classes}
