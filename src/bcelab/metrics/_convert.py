"""Bring any supported input (NumPy, PyTorch, JAX, lists, anything with ``__array__``) to NumPy.

Targets may be float, int or bool; predictions must be floating (an integer prediction
array usually means targets and predictions were swapped); weights may be float, int or
bool.  float16 / bfloat16 become float32 and small integers become float32 (exact); other
integers become float64.  Nothing is rescaled, reshaped or guessed.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from .._core.arrays import asarray, is_array, numpy_namespace
from ..errors import DTypeError

__all__ = ["to_numpy"]


def _from_array(x: Any) -> np.ndarray:
    if array_api_compat.is_torch_array(x):
        t = x.detach().cpu()
        if t.dtype.is_floating_point and t.element_size() < 4:
            t = t.float()
        return np.asarray(t.numpy())
    arr = np.asarray(x)
    if arr.dtype.kind == "V" or str(arr.dtype) == "bfloat16":  # jax/ml_dtypes bfloat16
        arr = arr.astype(np.float32)
    return arr


def to_numpy(x: object, *, name: str, fname: str, kind: str) -> np.ndarray:
    """``x`` as a NumPy array with a dtype the update kernel accepts (see module docstring)."""
    if isinstance(x, np.ndarray) and str(x.dtype) != "bfloat16":
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
