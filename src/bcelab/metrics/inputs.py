"""The inputs of ``BinaryStats.update``: to flat NumPy rows, and errors about bad rows.

:func:`to_numpy` brings any supported input (NumPy, PyTorch, JAX, lists, anything with
``__array__``) to NumPy.  Targets may be float, int or bool; predictions must be
floating (an integer prediction array usually means targets and predictions were
swapped); weights may be float, int or bool.  float16 / bfloat16 become float32 and
small integers become float32 (exact); other integers become float64.  Nothing is
rescaled, reshaped or guessed.  :func:`flat_rows` then checks the shapes and gives all
three one contiguous float dtype; :func:`raise_for_counts` turns the counts of the
validation pass into the documented errors.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from .._core.arrays import asarray, is_array, numpy_namespace, unmasked
from .._core.display import count_of, counted
from .._core.host_copy import to_host
from .._core.validate import LOGITS_ADVICE
from ..errors import DomainError, DTypeError, NaNError, ShapeError
from ..kernels.stats_driver import ScanCounts

__all__ = ["flat_rows", "raise_for_counts", "to_numpy"]

Rows = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def _from_array(x: Any) -> np.ndarray:
    if array_api_compat.is_torch_array(x):
        t = to_host(x)
        if t.dtype.is_floating_point and t.element_size() < 4:
            t = t.float()
        return np.asarray(t.numpy())
    arr = np.asarray(x)
    if arr.dtype.kind == "V" or str(arr.dtype) == "bfloat16":  # jax/ml_dtypes bfloat16
        arr = arr.astype(np.float32)
    return arr


def to_numpy(x: object, *, name: str, fname: str, kind: str) -> np.ndarray:
    """``x`` as a NumPy array with a dtype the update kernel accepts (see module docstring)."""
    x = unmasked(x, name=name, fname=fname)
    # bfloat16 (ml_dtypes) is a "V" kind; str(dtype) costs microseconds, so only then
    if isinstance(x, np.ndarray) and (x.dtype.kind != "V" or str(x.dtype) != "bfloat16"):
        arr = x
    elif is_array(x) or hasattr(x, "__array__"):
        arr = _from_array(x)
    else:
        arr = np.asarray(asarray(numpy_namespace(), x, name=name, fname=fname))
    k = arr.dtype.kind
    if k == "f":
        return arr.astype(np.float32) if arr.dtype.itemsize < 4 else arr
    if kind == "preds":
        raise DTypeError(
            f"{fname}: {name} must be a floating-point array",
            f"received dtype {arr.dtype}",
            f"cast first, e.g. {name}.astype(float32); integer or boolean {name} usually mean "
            "the targets and predictions were swapped",
        )
    if k in "biu":
        small = k == "b" or arr.dtype.itemsize <= 2
        return arr.astype(np.float32 if small else np.float64)
    raise DTypeError(
        f"{fname}: {name} must be real numbers",
        f"received dtype {arr.dtype}",
        f"pass a numeric array for {name}",
    )


def flat_rows(preds: object, targets: object, weights: object, *, logits: bool, fname: str) -> Rows:
    """``(targets, preds, weights)`` as flat C-contiguous arrays of one float dtype
    (float32 only when every input is float32: lossless); the shapes must be equal, but
    for weights of a leading part of the shape (one weight per sample, expanded)."""
    y = to_numpy(targets, name="targets", fname=fname, kind="targets")
    p = to_numpy(preds, name="logits" if logits else "preds", fname=fname, kind="preds")
    w = None if weights is None else to_numpy(weights, name="weights", fname=fname, kind="weights")
    if w is not None and w.shape != p.shape and w.shape == p.shape[: w.ndim]:
        # one weight per sample (a leading part of the shape), as for the losses
        w = np.broadcast_to(w.reshape(w.shape + (1,) * (p.ndim - w.ndim)), p.shape)
    if y.shape != p.shape:
        raise ShapeError(
            f"{fname}: targets and preds must have the same shape (bcelab never broadcasts them)",
            f"received {y.shape} and {p.shape}",
            "reshape one of them explicitly",
        )
    if w is not None and w.shape != p.shape:
        raise ShapeError(
            f"{fname}: weights must have the shape of preds or a leading part of it (one "
            "weight per sample)",
            f"received {w.shape} for preds of shape {p.shape}",
            "reshape the weights explicitly",
        )
    arrays = [a for a in (y, p, w) if a is not None]
    dt = np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64

    def flat(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a.ravel(), dtype=dt)

    return flat(y), flat(p), None if w is None else flat(w)


def raise_for_counts(
    counts: ScanCounts, rows: Rows, *, strict: bool, logits: bool, fname: str
) -> None:
    """The error for bad weights, probabilities outside [0, 1] or (``strict``) excluded rows."""
    y, p, w = rows
    if counts.bad_weight and w is not None:
        i = counts.first_bad_weight
        raise DomainError(
            f"{fname}: weights must be finite and >= 0",
            f"{counted(counts.bad_weight, 'weight')} negative, infinite or NaN "
            f"(first: {float(w[i])!r} at row {i})",
            "fix or drop those rows' weights",
            row=i,
        )
    if counts.bad_prob:
        i = counts.first_bad_prob
        raise DomainError(
            f"{fname}: probabilities must lie in [0, 1]",
            f"{counted(counts.bad_prob, 'value')} outside (first: {float(p[i])!r} at row {i})",
            f"{LOGITS_ADVICE} pass logits=True; otherwise apply a sigmoid first",
            row=i,
        )
    if strict and counts.nan_pred:
        i = int(np.flatnonzero(np.isnan(p))[0])
        raise NaNError(
            f"{fname}: {'logits' if logits else 'preds'} must not contain NaN when strict=True",
            f"found {count_of(counts.nan_pred, 'NaN or null value')} (first at row {i})",
            "clean the data, or pass strict=False to exclude and count those rows",
            row=i,
        )
    if strict and counts.invalid_target:
        with np.errstate(invalid="ignore"):
            i = int(np.flatnonzero(~((y >= 0) & (y <= 1)))[0])
        raise DomainError(
            f"{fname}: targets must lie in [0, 1] when strict=True",
            f"{counted(counts.invalid_target, 'target')} outside or NaN "
            f"(first: {float(y[i])!r} at row {i})",
            "map labels like {-1, 1} to {0, 1} with (y + 1) / 2, or pass "
            "strict=False to exclude and count those rows",
            row=i,
        )
