"""When the core functions hand a call to the fused kernel, and how.

:func:`try_fused` and :func:`try_fused_grad` are called at the top of
:func:`bcelab.bce`, :func:`bcelab.bce_with_logits` and their gradients.  They return
``NotImplemented`` (and the reference Array-API path runs) unless every condition holds:

* numba imports (``pip install bcelab[fast]``) and the kernels are enabled
  (``BCELAB_FUSED=0`` or :func:`set_enabled` turns them off);
* ``pred`` and ``targets`` are NumPy ``ndarray`` (or ``memmap``) objects of the same
  dtype, float32 or float64, the same shape, both C-contiguous (non-contiguous views
  are not copied);
* at least :data:`MIN_SIZE` elements;
* ``convention="exact"``, no ``clip``, no ``mask``; ``pos_weight`` a Python number;
  ``weights`` absent or an ndarray like ``pred`` (same dtype, shape, contiguity);
* ``reduction`` is ``mean``, ``sum``, ``weighted_mean``, or ``none`` without weights.

The kernel validates the values in the same pass.  If it finds anything the reference
path would reject or treat specially (NaN, targets or probabilities outside [0, 1],
negative or non-finite weights, a zero total weight), the call goes to the reference
path, which raises exactly the documented error or applies ``nan_policy``.
"""

from __future__ import annotations

import os
from typing import Any, TypeGuard

import numpy as np

__all__ = ["MIN_SIZE", "available", "set_enabled", "try_fused", "try_fused_grad"]

#: Smallest input handed to the kernel.  The kernel costs ~2 us per call at N = 4 against
#: ~40 us for the reference path, so every eligible size goes to it (bench/results/kernel.md).
MIN_SIZE = 1
_STATE: dict[str, Any] = {"enabled": os.environ.get("BCELAB_FUSED", "1") != "0", "driver": None}
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
SLOTS = 5  # per-chunk sums: w*loss, w, w*floor, w*excess, invalid count
WRITE_NONE, WRITE_GRAD, WRITE_LOSS = 0, 1, 2  # what the kernel writes per element


def set_enabled(flag: bool) -> None:
    """Turn the automatic dispatch to the fused kernel on or off (for this process)."""
    _STATE["enabled"] = bool(flag)


def available() -> bool:
    """Whether the fused kernel can run here (numba importable and dispatch enabled)."""
    return _STATE["enabled"] and _driver() is not None


def _driver() -> Any:
    drv = _STATE["driver"]
    if drv is None:
        try:
            from . import driver as drv
        except ImportError:  # numba missing: the reference path is used, as documented
            drv = False
        _STATE["driver"] = drv
    return drv or None


_TYPES = (np.ndarray, np.memmap)  # not np.matrix or masked arrays: their semantics differ


def _plain(a: object) -> TypeGuard[np.ndarray]:
    return type(a) in _TYPES


def _like(a: object, ref: np.ndarray) -> bool:
    return _plain(a) and a.dtype == ref.dtype and a.shape == ref.shape and a.flags.c_contiguous


def _eligible(pred: object, targets: object, weights: object) -> bool:
    if not _STATE["enabled"] or not _plain(pred):
        return False
    if pred.dtype not in _FLOATS or not pred.flags.c_contiguous or pred.size < MIN_SIZE:
        return False
    if not _like(targets, pred):
        return False
    return weights is None or _like(weights, pred)


def _scalar_options(pos_weight: object, label_smoothing: object) -> tuple[float, float] | None:
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
    ):
        return NotImplemented
    if reduction not in ("mean", "sum", "weighted_mean", "none"):
        return NotImplemented
    if reduction == "none" and weights is not None:
        return NotImplemented
    if not _eligible(pred, targets, weights):
        return NotImplemented
    opts = _scalar_options(pos_weight, label_smoothing)
    drv = _driver() if opts is not None else None
    if drv is None or opts is None:
        return NotImplemented
    assert isinstance(pred, np.ndarray) and isinstance(targets, np.ndarray)
    assert weights is None or isinstance(weights, np.ndarray)
    flat = pred.ndim == 1
    x, y = (pred, targets) if flat else (pred.reshape(-1), targets.reshape(-1))
    w = None if weights is None or flat else weights.reshape(-1)
    if flat:
        w = weights
    out = np.empty(pred.shape, dtype=pred.dtype) if reduction == "none" else None
    tot = drv.run(
        x,
        y,
        w,
        None if out is None else out.reshape(-1),
        logits=logits,
        decomp=False,
        write=WRITE_NONE if out is None else WRITE_LOSS,
        pos_weight=opts[0],
        label_smoothing=opts[1],
        den=1.0,
    )
    if tot[4] != 0.0:
        return NotImplemented
    if out is not None:
        return out
    if reduction == "sum":
        return np.float64(tot[0])
    den = tot[1] if reduction == "weighted_mean" else float(x.size)
    if den == 0.0:
        return NotImplemented  # the reference path raises EmptyReductionError
    return np.float64(tot[0] / den)


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
    if clip is not None or reduction not in ("mean", "sum", "weighted_mean", "none"):
        return NotImplemented
    if not _eligible(pred, targets, weights):
        return NotImplemented
    opts = _scalar_options(pos_weight, label_smoothing)
    drv = _driver() if opts is not None else None
    if drv is None or opts is None:
        return NotImplemented
    assert isinstance(pred, np.ndarray) and isinstance(targets, np.ndarray)
    assert weights is None or isinstance(weights, np.ndarray)
    den = grad_denominator(pred, weights, reduction)
    if den is None:
        return NotImplemented
    out = np.empty(pred.shape, dtype=pred.dtype)
    w = None if weights is None else weights.reshape(-1)
    tot = drv.run(
        pred.reshape(-1),
        targets.reshape(-1),
        w,
        out.reshape(-1),
        logits=logits,
        decomp=False,
        write=WRITE_GRAD,
        pos_weight=opts[0],
        label_smoothing=opts[1],
        den=den,
    )
    return NotImplemented if tot[4] != 0.0 else out


def grad_denominator(pred: np.ndarray, weights: object, reduction: str) -> float | None:
    """What the core divides the gradient by: 1, N, or the total weight (None if it is 0)."""
    if reduction in ("none", "sum"):
        return 1.0
    if reduction == "weighted_mean" and weights is not None:
        den = float(np.sum(np.asarray(weights), dtype=np.float64))
        return den if den > 0.0 else None
    return float(pred.size)
