"""When the core functions hand a call to the fused loss kernel, and how.

:func:`try_fused` and :func:`try_fused_grad` are called at the top of
:func:`bcelab.bce`, :func:`bcelab.bce_with_logits` and their gradients.  They return
``NotImplemented`` (and the reference Array-API path runs) unless every condition holds:

* numba imports (``pip install bcelab[fast]``) and the kernels are enabled
  (``BCELAB_FUSED=0``, read at import through :mod:`bcelab._core.config`, or
  :func:`set_enabled` turns them off);
* ``pred`` and ``targets`` are NumPy ``ndarray`` (or ``memmap``) objects of the same
  dtype, float32 or float64, the same shape, both C-contiguous (non-contiguous views
  are not copied);
* ``convention="exact"``, no ``clip``, no ``mask``; ``pos_weight`` a Python number;
  ``weights`` absent or an ndarray like ``pred`` (same dtype, shape, contiguity);
* ``reduction`` is ``mean``, ``sum``, ``weighted_mean``, or ``none`` without weights;
* at least one element (every non-empty size goes to the kernel: it costs ~2 us per call
  at N = 4 against ~40 us for the reference path).

The kernel validates the values in the same pass.  If it finds
anything the reference path would reject or treat specially (NaN, targets or
probabilities outside [0, 1], negative or non-finite weights, a zero total weight), the
call goes to the reference path, which raises exactly the documented error or applies
``nan_policy``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeGuard

import numpy as np

from .._core.config import fused_enabled
from .._core.reducing import MEAN_WEIGHT_FLOOR
from .constants import Write

__all__ = [
    "FLOAT_DTYPES",
    "available",
    "eligible_arrays",
    "grad_denominator",
    "loss_driver",
    "mean_denominator",
    "reference_path",
    "scalar_options",
    "set_enabled",
    "try_fused",
    "try_fused_grad",
]

#: the dtypes the kernel takes
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_STATE: dict[str, Any] = {"enabled": fused_enabled(), "driver": None}
_TYPES = (np.ndarray, np.memmap)  # not np.matrix or masked arrays: their semantics differ
_REDUCTIONS = ("mean", "sum", "weighted_mean", "none")
_INF = float("inf")
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def set_enabled(flag: bool) -> None:
    """Turn the automatic dispatch to the fused kernel on or off (for this process)."""
    _STATE["enabled"] = bool(flag)


@contextmanager
def reference_path() -> Iterator[None]:
    """The dispatch off for the calls inside the block, then as it was before.

    For a handful of numbers, where importing numba for the kernel (about 0.4 s in a
    fresh process) costs far more than the reference path (tens of microseconds).  Like
    :func:`set_enabled`, it switches the whole process, every thread included.
    """
    before = _STATE["enabled"]
    _STATE["enabled"] = False
    try:
        yield
    finally:
        _STATE["enabled"] = before


def available() -> bool:
    """Whether the fused kernel can run here (numba importable and dispatch enabled)."""
    return _STATE["enabled"] and loss_driver() is not None


def loss_driver() -> ModuleType | None:
    """:mod:`bcelab.kernels.loss_driver`, imported on first use; None without numba."""
    if _STATE["driver"] is None:
        try:  # numba: an optional extra, and slow to import, so only on the first call
            from . import loss_driver as module
        except ImportError:  # numba missing: the reference path is used, as documented
            _STATE["driver"] = False
        else:
            _STATE["driver"] = module
    return _STATE["driver"] or None


def _plain(a: object) -> TypeGuard[np.ndarray]:
    return type(a) in _TYPES


def _like(a: object, ref: np.ndarray) -> TypeGuard[np.ndarray]:
    return _plain(a) and a.dtype == ref.dtype and a.shape == ref.shape and a.flags.c_contiguous


def eligible_arrays(pred: object, targets: object, weights: object) -> Arrays | None:
    """``(pred, targets, weights)`` as arrays if the kernel takes them (and is enabled)."""
    if not _STATE["enabled"] or not _plain(pred):
        return None
    if pred.dtype not in FLOAT_DTYPES or not pred.flags.c_contiguous:
        return None
    if pred.size == 0:  # empty: the reference path gives its error or its empty result
        return None
    if not _like(targets, pred):
        return None
    if weights is None:
        return pred, targets, None
    return (pred, targets, weights) if _like(weights, pred) else None


def scalar_options(pos_weight: object, label_smoothing: object) -> tuple[float, float] | None:
    """``(pos_weight, label_smoothing)`` as floats if the kernel takes them, else None."""
    if pos_weight is None:
        pw = 1.0
    elif isinstance(pos_weight, (int, float)):
        pw = float(pos_weight)
        if not 0.0 <= pw < float("inf"):
            return None
    else:
        return None
    if not isinstance(label_smoothing, (int, float)):
        return None
    ls = float(label_smoothing)
    return (pw, ls) if 0.0 <= ls <= 1.0 else None


def grad_denominator(pred: np.ndarray, weights: object, reduction: str) -> float | None:
    """What the core divides the gradient by: 1, N, or the total weight (None if it is 0)."""
    if reduction in ("none", "sum"):
        return 1.0
    if reduction == "weighted_mean" and weights is not None:
        with np.errstate(over="ignore"):  # an infinite total goes to the reference path
            den = float(np.sum(np.asarray(weights), dtype=np.float64))
        # 0, inf, or a mean weight too small for its products: the reference path raises
        return den if pred.size * MEAN_WEIGHT_FLOOR <= den < _INF and den > 0.0 else None
    return float(pred.size)


def try_fused(
    pred: object,
    targets: object,
    *,
    logits: bool,
    pos_weight: object,
    label_smoothing: object,
    convention: str,
    reduction: str,
    weights: object,
    mask: object,
    nan_policy: str,
    clip: object = None,
) -> Any:
    """The loss from the fused kernel, or ``NotImplemented`` for the reference path."""
    if (
        convention != "exact"
        or clip is not None
        or mask is not None
        or nan_policy not in ("raise", "propagate", "omit")
        or reduction not in _REDUCTIONS
        or (reduction == "none" and weights is not None)
    ):
        return NotImplemented
    arrays = eligible_arrays(pred, targets, weights)
    opts = scalar_options(pos_weight, label_smoothing) if arrays is not None else None
    drv = loss_driver() if opts is not None else None
    if arrays is None or opts is None or drv is None:
        return NotImplemented
    x, y, w = arrays
    if x.ndim != 1:
        x, y = x.reshape(-1), y.reshape(-1)
        w = None if w is None else w.reshape(-1)
    out = np.empty(x.shape, dtype=x.dtype) if reduction == "none" else None
    totals = drv.run(
        x,
        y,
        w,
        out,
        logits=logits,
        decomp=False,
        write=Write.NONE if out is None else Write.LOSS,
        pos_weight=opts[0],
        label_smoothing=opts[1],
        den=1.0,
    )
    if totals.invalid != 0.0:
        return NotImplemented
    if out is not None:
        return out.reshape(arrays[0].shape)
    if reduction == "sum":
        return np.float64(totals.loss)
    den = mean_denominator(totals, reduction, x.size, weighted=w is not None)
    return NotImplemented if den is None else np.float64(totals.loss / den)


def mean_denominator(totals: Any, reduction: str, size: int, *, weighted: bool) -> float | None:
    """What the kernel's totals are divided by: 1 (``sum``), N or the total weight; None
    for the reference path, which raises: a mean over nothing, or with weights an
    infinite total weight or loss, or a weighted mean whose mean weight is below
    :data:`~bcelab._core.reducing.MEAN_WEIGHT_FLOOR` (the reference path tells which)."""
    den = 1.0 if reduction == "sum" else (totals.weight if reduction == "weighted_mean" else size)
    if den == 0.0 or (reduction == "weighted_mean" and den < size * MEAN_WEIGHT_FLOOR):
        return None
    if weighted and reduction != "sum" and not (den < _INF and abs(totals.loss) < _INF):
        return None
    return float(den)


def try_fused_grad(
    pred: object,
    targets: object,
    *,
    logits: bool,
    pos_weight: object,
    label_smoothing: object,
    reduction: str,
    weights: object,
    clip: object = None,
) -> Any:
    """The gradient from the fused kernel, or ``NotImplemented`` for the reference path."""
    if clip is not None or reduction not in _REDUCTIONS:
        return NotImplemented
    arrays = eligible_arrays(pred, targets, weights)
    opts = scalar_options(pos_weight, label_smoothing) if arrays is not None else None
    drv = loss_driver() if opts is not None else None
    if arrays is None or opts is None or drv is None:
        return NotImplemented
    x, y, w = arrays
    den = grad_denominator(x, w, reduction)
    if den is None:
        return NotImplemented
    out = np.empty(x.shape, dtype=x.dtype)
    totals = drv.run(
        x.reshape(-1),
        y.reshape(-1),
        None if w is None else w.reshape(-1),
        out.reshape(-1),
        logits=logits,
        decomp=False,
        write=Write.GRAD,
        pos_weight=opts[0],
        label_smoothing=opts[1],
        den=den,
    )
    return NotImplemented if totals.invalid != 0.0 else out
