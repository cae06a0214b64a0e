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
from ..errors import OptionError

__all__ = [
    "FRAMEWORK",
    "KERAS_REDUCTIONS",
    "SUPPORTED_BACKENDS",
    "call_core",
    "check_backend",
    "check_last_axis",
    "check_outputs_axis",
    "eager_check",
    "expand_weights",
    "keras_module",
    "same_rank",
]

FRAMEWORK = "Keras"
SUPPORTED_BACKENDS = ("jax", "torch", "numpy")
#: Keras reductions that the core's fused kernel computes directly (torch backend).
KERAS_REDUCTIONS = {"sum_over_batch_size": "mean", "mean": "mean", "sum": "sum"}


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
    """``fn(*args, **kwargs)``; a bcelab error is re-raised naming ``where`` and Keras."""
    return call_as(where, FRAMEWORK, fn, *args, logits_hint="pass from_logits=True", **kwargs)


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


def expand_weights(sample_weight: Any, y_pred: Any, dtype: Any) -> Any:
    """One weight per sample (a leading part of the shape) applied to all its elements.

    Keras itself only matches ``(batch,)`` weights to ``(batch, 1)`` losses; element-wise
    losses need the explicit expansion (the core's documented prefix rule).
    """
    if sample_weight is None:
        return None
    ops = keras_module().ops
    sw = ops.convert_to_tensor(sample_weight, dtype=dtype)
    ws, ps = tuple(sw.shape), tuple(y_pred.shape)
    if len(ws) < len(ps) and ps[: len(ws)] == ws:
        sw = ops.broadcast_to(ops.reshape(sw, ws + (1,) * (len(ps) - len(ws))), ps)
    return sw
