"""Keras 3 adapter: bcelab's losses and metrics for ``model.compile``.

Losses (``keras.losses.Loss``): :class:`BinaryCrossentropy` and :class:`BinaryKLDivergence`.
Metrics (``keras.metrics.Metric``, state held as Keras variables, a fixed number of sums):
:class:`BinaryAccuracy`, :class:`LogLoss`, :class:`NormalizedEntropy`, :class:`ExcessLoss`
and :class:`CalibrationError`.  They keep Keras's names (``from_logits``,
``label_smoothing``, ``reduction``, ``name``, ``dtype``) and Keras's argument order
``(y_true, y_pred)``, the one exception to bcelab's prediction-first order.

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
:class:`bcelab.ShapeError`.  A ``sample_weight`` of shape ``(batch,)`` or ``(batch, 1)`` (any shape that, with 1s
appended, broadcasts to ``y_pred``'s) weighs all the sample's outputs, and a Keras mask
(``Masking`` before a sequence output ``(batch, T, n)``) leaves the masked steps out, in
the losses and the metrics, with the numbers of Keras's own loss and metrics.

Value checks (targets in [0, 1], NaN, probabilities in [0, 1]) run on concrete tensors:
on the torch backend they run in every eager train step; on the jax backend ``model.fit``
traces the step with ``jax.jit`` and the checks are skipped (shape and dtype checks
still run while tracing).  Pass ``run_eagerly=True`` to ``compile`` to check values.

On the torch backend, in eager mode on the CPU, :class:`BinaryCrossentropy` with the
default (or ``"sum"``) reduction and no mask hands the call to the same fused kernel as the
PyTorch losses (:mod:`bcelab.torch.autograd`): loss and gradient in one
pass, the same numbers as the element-wise path.

The classes subclass Keras's, so they are made on first access (:func:`__getattr__`),
after ``KERAS_BACKEND`` has been chosen: ``import bcelab.keras`` does not import Keras.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import keras_module
from .losses import build_losses
from .metrics import build_metrics

if TYPE_CHECKING:
    BinaryAccuracy: type
    BinaryCrossentropy: type
    BinaryKLDivergence: type
    CalibrationError: type
    ExcessLoss: type
    LogLoss: type
    NormalizedEntropy: type

__all__ = [
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "BinaryKLDivergence",
    "CalibrationError",
    "ExcessLoss",
    "LogLoss",
    "NormalizedEntropy",
]

_BUILT: dict[str, type] = {}


def _build() -> dict[str, type]:
    """Make every class once Keras is imported, and register it for Keras's model saving."""
    keras = keras_module()
    register = keras.saving.register_keras_serializable(package="bcelab")
    built = {}
    for cls in [*build_losses(keras), *build_metrics(keras)]:
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
        built[cls.__name__] = register(cls)
    return built


def __getattr__(name: str) -> Any:
    if name in __all__:
        if not _BUILT:
            _BUILT.update(_build())
        return _BUILT[name]
    raise AttributeError(f"module 'bcelab.keras' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
