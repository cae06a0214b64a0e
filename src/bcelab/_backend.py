"""Array-library plumbing shared by every public function.

This module decides *which* namespace and dtype to compute in and checks the
inputs.  It contains no loss formulas: those live once, generically, in
:mod:`bcelab.elementwise`.

Dtype policy (documented in the README):

* float16 / bfloat16 inputs are computed in float32 and the result is float32;
* float32 inputs are computed in float64 when the array library can hold
  float64 on that device, then rounded back to float32, so each float32 result
  is within about half an ulp of the correctly rounded value;
* float64 inputs are computed in float64.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import array_api_compat
import numpy as np

from .errors import BackendMismatchError, DomainError, DTypeError, NaNError, OptionError, ShapeError

Array = Any
NanPolicy = Literal["raise", "propagate", "omit"]
NAN_POLICIES = ("raise", "propagate", "omit")


def _is_array(x: object) -> bool:
    return bool(array_api_compat.is_array_api_obj(x)) and not isinstance(x, (int, float, bool))


def namespace(*args: object, fname: str) -> Any:
    """Return the array namespace shared by ``args`` (lists and scalars count as NumPy).

    Raises :class:`BackendMismatchError` when two different array libraries are mixed.
    """
    arrays = [a for a in args if a is not None and _is_array(a)]
    if not arrays:
        return array_api_compat.array_namespace(np.empty(0))
    try:
        return array_api_compat.array_namespace(*arrays)
    except TypeError:
        kinds = sorted({type(a).__module__.split(".")[0] + "." + type(a).__name__ for a in arrays})
        raise BackendMismatchError(
            f"{fname}: all arrays in one call must come from the same array library",
            f"received {', '.join(kinds)}",
            "convert them first, e.g. torch.as_tensor(x) or np.asarray(t.cpu())",
        ) from None


def asarray(xp: Any, x: object, *, name: str, fname: str, like: Array | None = None) -> Array:
    """Convert lists/tuples/scalars to an array of ``xp``; arrays are returned unchanged."""
    if _is_array(x):
        return x
    if isinstance(x, (list, tuple, int, float, np.generic)) or x is None:
        if x is None:
            raise OptionError(f"{fname}: {name} is required", "received None", f"pass {name}")
        try:
            arr = np.asarray(x)
        except ValueError as e:  # ragged lists
            raise ShapeError(
                f"{fname}: {name} must be a rectangular array",
                f"received a ragged sequence ({e})",
                "make every row the same length",
            ) from None
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise DTypeError(
                f"{fname}: {name} must be numeric",
                f"received values of dtype {arr.dtype}",
                "convert strings to numbers first",
            )
        device = array_api_compat.device(like) if like is not None else None
        return xp.asarray(arr, device=device) if device is not None else xp.asarray(arr)
    raise DTypeError(
        f"{fname}: {name} must be an array (NumPy, PyTorch, JAX, ...) or a list of numbers",
        f"received {type(x).__name__}",
        "pass np.asarray(...) or a torch/jax array",
    )


def is_floating(xp: Any, dtype: Any) -> bool:
    try:
        return bool(xp.isdtype(dtype, "real floating"))
    except Exception:  # bfloat16 or other extension dtypes some namespaces don't classify
        return "float" in str(dtype)


def _bits(xp: Any, dtype: Any) -> int:
    return int(xp.finfo(dtype).bits)


_F64_CACHE: dict[tuple[str, str], bool] = {}


def supports_float64(xp: Any, like: Array) -> bool:
    """Whether ``xp`` can hold float64 on ``like``'s device (JAX without x64 and MPS cannot)."""
    device = array_api_compat.device(like)
    key = (xp.__name__, str(device))
    hit = _F64_CACHE.get(key)
    if hit is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                probe = xp.asarray(0.0, dtype=xp.float64, device=device)
            hit = probe.dtype == xp.float64
        except Exception:
            hit = False
        _F64_CACHE[key] = hit
    return hit


def dtypes_for(xp: Any, preds: Array) -> tuple[Any, Any]:
    """Return ``(compute_dtype, output_dtype)`` for a floating prediction array."""
    bits = _bits(xp, preds.dtype)
    out = xp.float32 if bits < 32 else preds.dtype
    if bits <= 32:
        compute = xp.float64 if supports_float64(xp, preds) else xp.float32
    else:
        compute = preds.dtype
    return compute, out


def accum_dtype(xp: Any, like: Array) -> Any:
    """float64 where the library supports it on this device, else float32."""
    return xp.float64 if supports_float64(xp, like) else xp.float32


def is_traced(x: Array) -> bool:
    """True when ``x`` has no concrete values (jax tracers, torch.compile, torch.func transforms)."""
    if array_api_compat.is_jax_array(x):
        # is_lazy_array() is True for *every* JAX array; only tracers lack values.
        import jax

        return isinstance(x, jax.core.Tracer)
    if array_api_compat.is_lazy_array(x):  # dask and other lazy libraries
        return True
    if array_api_compat.is_torch_array(x):
        import torch

        if torch.compiler.is_compiling():
            return True
        try:
            return bool(torch._C._functorch.is_functorch_wrapped_tensor(x))
        except AttributeError:  # pragma: no cover - older torch
            return False
    return False


def _first_index(xp: Any, mask: Array) -> tuple[int, ...]:
    if mask.ndim == 0:
        return ()
    idx = xp.nonzero(mask)
    return tuple(int(i[0]) for i in idx)


def _count(xp: Any, mask: Array) -> int:
    return int(xp.sum(xp.astype(mask, accum_dtype(xp, mask))))


def _describe(xp: Any, x: Array, mask: Array) -> str:
    n = _count(xp, mask)
    idx = _first_index(xp, mask)
    first = x[idx] if idx else x
    where = f"index {idx}" if len(idx) != 1 else f"index {idx[0]}"
    return f"{n} value{'s are' if n != 1 else ' is'} outside (first: {float(first)!r} at {where})"


def check_nan_policy(nan_policy: str, *, fname: str) -> None:
    if nan_policy not in NAN_POLICIES:
        raise OptionError(
            f"{fname}: nan_policy must be one of {NAN_POLICIES}",
            f"received {nan_policy!r}",
            'use "raise" (default), "propagate" or "omit"',
        )


def check_same_shape(a: Array, b: Array, *, names: tuple[str, str], fname: str) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise ShapeError(
            f"{fname}: {names[0]} and {names[1]} must have the same shape (bcelab never broadcasts them)",
            f"received {tuple(a.shape)} and {tuple(b.shape)}",
            "reshape one of them explicitly, e.g. preds.reshape(targets.shape) "
            "if they hold the same elements",
        )


def check_preds_dtype(xp: Any, preds: Array, *, name: str, fname: str) -> None:
    if not is_floating(xp, preds.dtype):
        raise DTypeError(
            f"{fname}: {name} must be a floating-point array",
            f"received dtype {preds.dtype}",
            f"cast first, e.g. {name}.astype(float32); integer or boolean {name} "
            "usually mean the labels and predictions were swapped",
        )


def check_targets_dtype(xp: Any, targets: Array, *, fname: str) -> None:
    dt = targets.dtype
    ok = is_floating(xp, dt) or xp.isdtype(dt, "integral") or xp.isdtype(dt, "bool")
    if not ok:
        raise DTypeError(
            f"{fname}: targets must be real numbers (float, int or bool)",
            f"received dtype {dt}",
            "pass real-valued targets in [0, 1]",
        )


def nan_mask(xp: Any, *arrays: Array) -> Array | None:
    """Elementwise OR of isnan over floating arrays, or None if no array is floating."""
    m = None
    for a in arrays:
        if is_floating(xp, a.dtype):
            isn = xp.isnan(a)
            m = isn if m is None else (m | isn)
    return m


def validate_values(
    xp: Any,
    *,
    preds: Array,
    targets: Array,
    probs: bool,
    nan_policy: str,
    fname: str,
    pred_name: str = "preds",
) -> bool:
    """Raise on NaN (policy "raise"), targets outside [0, 1] and probabilities outside [0, 1].

    Skipped when the arrays are traced (jit / compile / vmap): values do not exist then.

    Returns True when the inputs are *clean*: no NaN, targets in [0, 1], probabilities
    in [0, 1] and logits finite.  The common clean case costs a single fused reduction;
    the detailed checks (and error messages) run only when that test fails.
    """
    if is_traced(preds) or is_traced(targets):
        return False
    ok = (targets >= 0) & (targets <= 1)
    ok = ok & ((preds >= 0) & (preds <= 1) if probs else (xp.abs(preds) < xp.inf))
    if bool(xp.all(ok)):
        return True
    if nan_policy == "raise":
        for arr, name in ((preds, pred_name), (targets, "targets")):
            if is_floating(xp, arr.dtype):
                bad = xp.isnan(arr)
                if bool(xp.any(bad)):
                    n = _count(xp, bad)
                    idx = _first_index(xp, bad)
                    raise NaNError(
                        f"{fname}: {name} must not contain NaN when nan_policy='raise'",
                        f"found {n} NaN value{'s' if n != 1 else ''} (first at index {idx})",
                        "clean the data, or pass nan_policy='omit' to leave those elements out "
                        "of reductions, or nan_policy='propagate' to get NaN back",
                    )
    tbad = (targets < 0) | (targets > 1)
    if bool(xp.any(tbad)):
        raise DomainError(
            f"{fname}: targets must lie in [0, 1]",
            _describe(xp, targets, tbad),
            "divide 0..255 masks by 255; map labels like {-1, 1} to {0, 1} with (y + 1) / 2",
        )
    if probs:
        pbad = (preds < 0) | (preds > 1)
        if bool(xp.any(pbad)):
            raise DomainError(
                f"{fname}: probabilities must lie in [0, 1]",
                _describe(xp, preds, pbad),
                "if these are logits (raw scores), call the *_with_logits function or pass "
                "logits=True; otherwise apply a sigmoid first",
            )
    return False


def check_weights(
    xp: Any, weights: Array, like: Array, *, name: str, fname: str, allow_prefix: bool = True
) -> Array:
    """Check a non-negative weight array: same shape as ``like`` or (documented) a leading prefix.

    A prefix-shaped weight (one weight per sample) is expanded explicitly over the
    trailing axes.  Returns the weight as an array of ``like``'s dtype.
    """
    weights = asarray(xp, weights, name=name, fname=fname, like=like)
    if not (
        is_floating(xp, weights.dtype)
        or xp.isdtype(weights.dtype, "integral")
        or xp.isdtype(weights.dtype, "bool")
    ):
        raise DTypeError(
            f"{fname}: {name} must be real numbers",
            f"received dtype {weights.dtype}",
            f"pass a float array for {name}",
        )
    ws, ls = tuple(weights.shape), tuple(like.shape)
    if ws != ls:
        if allow_prefix and len(ws) < len(ls) and ls[: len(ws)] == ws:
            weights = xp.reshape(weights, ws + (1,) * (len(ls) - len(ws)))
            weights = xp.broadcast_to(weights, ls)
        else:
            raise ShapeError(
                f"{fname}: {name} must have the shape of the values {ls}"
                + (" or a leading part of it (one weight per sample)" if allow_prefix else ""),
                f"received shape {ws}",
                f"reshape {name} explicitly",
            )
    weights = xp.astype(weights, like.dtype)
    if not is_traced(weights):
        bad = ~(weights >= 0) | xp.isinf(weights)
        if bool(xp.any(bad)):
            raise DomainError(
                f"{fname}: {name} must be finite and >= 0",
                _describe(xp, weights, bad).replace("outside", "negative, infinite or NaN"),
                f"fix or drop those {name}",
            )
    return weights


def check_unit_interval(value: float, *, name: str, fname: str, closed_right: bool = True) -> float:
    v = float(value)
    ok = 0.0 <= v <= 1.0 if closed_right else 0.0 <= v < 1.0
    if not ok or math.isnan(v):
        raise OptionError(
            f"{fname}: {name} must lie in [0, 1{']' if closed_right else ')'}",
            f"received {value!r}",
            f"pass a {name} such as 0.1",
        )
    return v


def size(shape: Sequence[int]) -> int:
    """Number of elements of ``shape`` (works for torch.Size and tuples with None-free dims)."""
    n = 1
    for s in shape:
        n *= int(s)
    return n


def quiet(fn: Any) -> Any:
    """Silence NumPy floating-point warnings: bcelab's formulas produce inf/0 on purpose.

    The results are exact limits (e.g. ``-log(0) = inf``), not accidents, so the
    warnings would only be noise.  Other libraries do not warn in the first place.
    """
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return wrapper
