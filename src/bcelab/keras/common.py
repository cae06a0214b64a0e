"""What the Keras adapter's modules share: Keras itself (imported late), errors, shapes.

Nothing here imports Keras at module level: Keras picks its backend from
``KERAS_BACKEND`` when it is first imported, so :func:`keras_module` imports it on first
use, after the user has chosen.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable
from typing import Any

import array_api_compat
import numpy as np

from .._core.adapters import call_as
from .._core.extras import missing_dependency
from .._core.prepare import prepare
from ..errors import OptionError, ShapeError

__all__ = [
    "FRAMEWORK",
    "KERAS_NAMES",
    "KERAS_REDUCTIONS",
    "SUPPORTED_BACKENDS",
    "broadcast_weights",
    "call_core",
    "check_backend",
    "check_last_axis",
    "check_outputs_axis",
    "eager_check",
    "keras_mask",
    "keras_module",
    "same_rank",
    "set_keras_mask",
]

FRAMEWORK = "Keras"
SUPPORTED_BACKENDS = ("jax", "torch", "numpy")
#: Keras reductions that the core's fused kernel computes directly (torch backend).
KERAS_REDUCTIONS = {"sum_over_batch_size": "mean", "mean": "mean", "sum": "sum"}
#: the core's argument names -> Keras's, in the errors the core raises for a Keras call
KERAS_NAMES = {"preds": "y_pred", "logits": "y_pred", "targets": "y_true"}


def keras_module() -> Any:
    """The ``keras`` module.

    Without ``KERAS_BACKEND``, Keras imports TensorFlow, its default backend; where that
    is not installed, the error says which backends bcelab runs on and how to choose one.
    """
    try:
        import keras  # optional dependency, imported late: Keras reads KERAS_BACKEND at import
    except ImportError as e:
        if not (e.name or "").startswith("tensorflow"):
            raise missing_dependency(e, "bcelab.keras") or e from None
        chosen = os.environ.get("KERAS_BACKEND")
        raise OptionError(
            f"{FRAMEWORK} on one of the backends bcelab runs on, {SUPPORTED_BACKENDS[:2]}",
            f"Keras tried to import TensorFlow (KERAS_BACKEND={chosen or 'unset'}: its "
            "default), which is not installed",
            "set KERAS_BACKEND=torch or KERAS_BACKEND=jax before the first import of keras "
            "(e.g. os.environ['KERAS_BACKEND'] = 'torch' at the top of the script)",
        ) from None
    return keras


def call_core(where: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; a bcelab error is re-raised naming ``where`` and Keras,
    in Keras's names: ``y_pred`` and ``y_true`` for the core's predictions and targets."""
    return call_as(
        where,
        FRAMEWORK,
        fn,
        *args,
        logits_hint="pass from_logits=True",
        names=KERAS_NAMES,
        cast='keras.ops.cast({}, "float32")',
        **kwargs,
    )


def check_backend(where: str) -> None:
    """The core runs on the jax, torch and numpy backends' tensors, not on TensorFlow's."""
    name = keras_module().backend.backend()
    if name not in SUPPORTED_BACKENDS:
        raise OptionError(
            f"{where} ({FRAMEWORK}): the Keras backend must be one of {SUPPORTED_BACKENDS}",
            f"received backend {name!r}",
            "set KERAS_BACKEND=jax or KERAS_BACKEND=torch before importing keras",
        )


def check_outputs_axis(axis: object, *, fname: str) -> int:
    """Keras's ``axis`` of a loss: one integer, the axis of each sample's outputs (checked
    against the predictions at each call by :func:`check_last_axis`)."""
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return int(axis)
    raise OptionError(
        f"{fname}: axis must be an integer (the axis of each sample's outputs)",
        f"received axis={axis!r}",
        "leave axis out: -1, the last axis, as in Keras",
    )


def check_last_axis(axis: int, ndim: int, *, fname: str) -> None:
    """bcelab's Keras losses average each sample's outputs over the last axis only."""
    if axis == -1 or (ndim > 0 and axis == ndim - 1):
        return
    raise OptionError(
        f"{fname}: axis=-1, the last axis of y_pred (bcelab averages each sample's outputs "
        "over the last axis)",
        f"received axis={axis} for a y_pred of {ndim} axes",
        "move the outputs to the last axis (e.g. keras.ops.moveaxis) and leave axis out",
    )


def same_rank(y_pred: Any, y_true: Any) -> tuple[Any, Any]:
    """Keras's rank rule: labels ``(batch,)`` against predictions ``(batch, 1)``.

    Returns ``(y_pred, y_true)``; any other shape mismatch is left to the core's check.
    """
    ops = keras_module().ops
    rt, rp = len(y_true.shape), len(y_pred.shape)
    if rt + 1 == rp and y_pred.shape[-1] == 1:
        y_true = ops.expand_dims(y_true, -1)
    elif rp + 1 == rt and y_true.shape[-1] == 1:
        y_pred = ops.expand_dims(y_pred, -1)
    return y_pred, y_true


def eager_check(y_pred: Any, y_true: Any, *, from_logits: bool, where: str) -> None:
    """Value checks for concrete JAX arrays, which the core treats as lazy and never checks.

    Tracers have no values: under ``jax.jit`` (``model.fit`` on the jax backend) nothing
    is checked; with ``run_eagerly=True`` the targets are concrete and are checked, while
    the predictions are ``jax.grad`` tracers.  Other backends' tensors are checked by the
    core itself.
    """
    if not array_api_compat.is_jax_array(y_pred):
        return
    import jax  # optional dependency: only JAX arrays reach this line

    fname = "bce_with_logits" if from_logits else "bce"
    if isinstance(y_true, jax.core.Tracer):
        return
    y = np.asarray(y_true)
    if isinstance(y_pred, jax.core.Tracer):  # check the targets alone
        call_core(
            where, prepare, y, y, fname=fname, probs=False, nan_policy="raise", pred_name="targets"
        )
    else:
        p = np.asarray(y_pred)
        call_core(where, prepare, p, y, fname=fname, probs=not from_logits, nan_policy="raise")


def keras_mask(x: Any) -> Any:
    """Keras's mask of ``x``, or ``None``.

    Keras keeps it as the attribute ``_keras_mask``, or, for tensors that take no
    attributes (JAX tracers under ``jax.jit``), in a table of its own, which
    ``keras.src.backend.get_keras_mask`` reads (Keras 3.6 and later).
    """
    try:
        from keras.src.backend import get_keras_mask  # Keras's own reader: both places
    except ImportError:  # older Keras 3: the attribute only
        return getattr(x, "_keras_mask", None)
    return get_keras_mask(x)


def set_keras_mask(x: Any, mask: Any) -> None:
    """Give ``x`` the Keras mask ``mask``, where :func:`keras_mask` (and Keras) read it."""
    try:
        from keras.src.backend import set_keras_mask as keras_set  # Keras 3.6 and later
    except ImportError:
        x._keras_mask = mask
    else:
        keras_set(x, mask)


def broadcast_weights(weights: Any, y_pred: Any, dtype: Any, *, where: str, name: str) -> Any:
    """Keras's ``sample_weight`` (or mask) as one weight per element of ``y_pred``.

    Keras reduces each sample's outputs (the last axis) before it applies weights, so a
    weight of shape ``(batch,)`` or ``(batch, 1)`` (a mask ``(batch, T)`` for outputs
    ``(batch, T, n)``) is each sample's; bcelab's losses and metrics keep one value per
    element and give that weight to every element of the sample.  The rule: the shape,
    with 1s appended up to ``y_pred``'s rank, broadcasts to ``y_pred``'s shape.  A
    weight of ``y_pred``'s shape is each element's own.  ``None`` stays ``None``.
    """
    if weights is None:
        return None
    ops = keras_module().ops
    w = ops.convert_to_tensor(weights, dtype=dtype)
    ws, ps = tuple(w.shape), tuple(y_pred.shape)
    padded = ws + (1,) * (len(ps) - len(ws))
    if len(ws) > len(ps) or any(a not in (1, b) for a, b in zip(padded, ps, strict=True)):
        raise ShapeError(
            f"{where} ({FRAMEWORK}): {name} must have y_pred's shape {ps} or a leading part "
            "of it, each length equal or 1 (one weight per sample: (batch,) or (batch, 1))",
            f"received shape {ws}",
            f"reshape {name} to one of these shapes",
        )
    if ws != ps:
        # a copy, not a broadcast view: Keras multiplies weights by its mask in place
        w = ops.copy(ops.broadcast_to(ops.reshape(w, padded), ps))
    return w
