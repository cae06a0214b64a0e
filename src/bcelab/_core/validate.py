"""Checks of array inputs: shapes, dtypes and values, each with the documented message.

Value checks need concrete values: they are skipped for traced arrays (``jax.jit``,
``torch.compile``, ``torch.func``), where shape and dtype checks still run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DomainError, DTypeError, NaNError, ShapeError
from .arrays import (
    accum_dtype,
    asarray,
    is_floating,
    is_tensor,
    is_traced,
    numpy_views_on_cpu,
    refuse_meta,
)
from .display import count_of, counted

__all__ = [
    "LOGITS_ADVICE",
    "check_mask",
    "check_preds_dtype",
    "check_same_shape",
    "check_targets_dtype",
    "check_values",
    "check_weights",
    "describe_outside",
]

#: how an error about probabilities outside [0, 1] begins its advice; the framework
#: adapters put their own way to logits after it
LOGITS_ADVICE = "if these are logits (raw scores),"

Array = Any


def _first_index(xp: Any, mask: Array) -> tuple[int, ...]:
    if mask.ndim == 0:
        return ()
    idx = xp.nonzero(mask)
    return tuple(int(i[0]) for i in idx)


def _count(xp: Any, mask: Array) -> int:
    return int(xp.sum(xp.astype(mask, accum_dtype(xp, mask))))


def describe_outside(xp: Any, x: Array, mask: Array, what: str = "outside") -> str:
    """'3 values are outside (first: 255.0 at index (0, 4))' for the elements in ``mask``."""
    n = _count(xp, mask)
    idx = _first_index(xp, mask)
    first = x[idx] if idx else x
    where = f"index {idx}" if len(idx) != 1 else f"index {idx[0]}"
    value = float(first.item())  # not float(first): torch warns for a tensor that needs grad
    return f"{counted(n, 'value')} {what} (first: {value!r} at {where})"


def check_same_shape(a: Array, b: Array, *, names: tuple[str, str], fname: str) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise ShapeError(
            f"{fname}: {names[0]} and {names[1]} must have the same shape (bcelab never broadcasts them)",
            f"received {tuple(a.shape)} and {tuple(b.shape)}",
            f"reshape one of them explicitly, e.g. {names[0]}.reshape({names[1]}.shape) "
            "if they hold the same elements",
        )


def check_preds_dtype(
    xp: Any, preds: Array, *, name: str, fname: str, with_targets: bool = True
) -> None:
    """Refuse a prediction that is not floating point (``with_targets``: the call also
    takes targets, so integer predictions are probably the two swapped)."""
    if not is_floating(xp, preds.dtype):
        swapped = (
            f"; integer or boolean {name} usually mean the predictions and targets were "
            "swapped (bcelab takes the prediction first, the target second)"
        )
        raise DTypeError(
            f"{fname}: {name} must be a floating-point array",
            f"received dtype {preds.dtype}",
            f"cast first, e.g. {name}.astype(float32){swapped if with_targets else ''}",
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


def check_values(
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

    Returns True when the inputs are *clean*: no NaN, targets in [0, 1], probabilities
    in [0, 1] and logits finite.  The common clean case costs a single fused reduction;
    the detailed checks (and error messages) run only when that test fails.  Traced
    arrays have no values: nothing is checked and the result is False.
    """
    if is_traced(preds) or is_traced(targets):
        return False
    if is_tensor(preds):  # one namespace: targets are tensors too
        refuse_meta(preds, targets)
    xp, (preds, targets) = numpy_views_on_cpu(xp, preds, targets)
    with np.errstate(invalid="ignore"):  # NaN compares as outside, on purpose
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
                        raise NaNError(
                            f"{fname}: {name} must not contain NaN when nan_policy='raise'",
                            f"found {count_of(n, 'NaN value')} "
                            f"(first at index {_first_index(xp, bad)})",
                            "clean the data, or pass nan_policy='omit' to leave those elements out "
                            "of reductions, or nan_policy='propagate' to get NaN back",
                        )
        tbad = (targets < 0) | (targets > 1)
        if bool(xp.any(tbad)):
            raise DomainError(
                f"{fname}: targets must lie in [0, 1]",
                describe_outside(xp, targets, tbad),
                "divide 0..255 masks by 255; map labels like {-1, 1} to {0, 1} with (y + 1) / 2",
            )
        if probs:
            pbad = (preds < 0) | (preds > 1)
            if bool(xp.any(pbad)):
                raise DomainError(
                    f"{fname}: probabilities must lie in [0, 1]",
                    describe_outside(xp, preds, pbad),
                    f"{LOGITS_ADVICE} {_logits_way(fname)}; otherwise apply a sigmoid first",
                )
        return False


def _logits_way(fname: str) -> str:
    """How ``fname`` takes logits: a flag (``binary_kl``, ``decompose``) or a twin function."""
    if fname in ("binary_kl", "decompose"):
        return "pass logits=True"
    return f"call {fname.replace('_grad', '')}_with_logits{'_grad' if fname.endswith('_grad') else ''} instead"


def _expand_prefix(xp: Any, arr: Array, shape: tuple[int, ...]) -> Array:
    s = tuple(arr.shape)
    return xp.broadcast_to(xp.reshape(arr, s + (1,) * (len(shape) - len(s))), shape)


def _is_prefix(s: tuple[int, ...], ref: tuple[int, ...]) -> bool:
    return len(s) < len(ref) and ref[: len(s)] == s


def check_weights(
    xp: Any,
    weights: Array,
    like: Array,
    *,
    name: str,
    fname: str,
    dtype: Any = None,
    values: bool = True,
) -> Array:
    """Non-negative finite weights of ``like``'s shape or a leading part of it.

    A prefix-shaped weight (one weight per sample) is expanded explicitly over the
    trailing axes.  Returns the weights as an array of ``dtype`` (default: ``like``'s),
    checked in that dtype; ``values=False`` checks the dtype and shape only (for a caller
    whose weights are checked again, in full, further on).
    """
    weights = asarray(xp, weights, name=name, fname=fname, like=like)
    dt = weights.dtype
    if not (is_floating(xp, dt) or xp.isdtype(dt, "integral") or xp.isdtype(dt, "bool")):
        raise DTypeError(
            f"{fname}: {name} must be real numbers",
            f"received dtype {dt}",
            f"pass a float array for {name}",
        )
    ws, ls = tuple(weights.shape), tuple(like.shape)
    if ws != ls:
        if not _is_prefix(ws, ls):
            raise ShapeError(
                f"{fname}: {name} must have the shape of the values {ls} or a leading part "
                "of it (one weight per sample)",
                f"received shape {ws}",
                f"reshape {name} explicitly",
            )
        weights = _expand_prefix(xp, weights, ls)
    weights = xp.astype(weights, like.dtype if dtype is None else dtype)
    # under jax.jit even a concrete weight array's comparisons are traced: check only
    # when neither it nor the values are being traced
    if values and not (is_traced(weights) or is_traced(like)):
        bad = ~(weights >= 0) | xp.isinf(weights)
        if bool(xp.any(bad)):
            raise DomainError(
                f"{fname}: {name} must be finite and >= 0",
                describe_outside(xp, weights, bad, "negative, infinite or NaN"),
                f"fix or drop those {name}",
            )
    return weights


def check_mask(xp: Any, mask: Array, like: Array, *, fname: str) -> Array:
    """A boolean keep-mask of ``like``'s shape or a leading part of it (then expanded)."""
    mask = asarray(xp, mask, name="mask", fname=fname, like=like)
    if not xp.isdtype(mask.dtype, "bool"):
        raise DTypeError(
            f"{fname}: mask must be a boolean array (True = keep the element)",
            f"received dtype {mask.dtype}",
            "pass mask=(m != 0) or mask=np.asarray(m, dtype=bool)",
        )
    ms, ls = tuple(mask.shape), tuple(like.shape)
    if ms != ls:
        if not _is_prefix(ms, ls):
            raise ShapeError(
                f"{fname}: mask must have the shape of the values {ls} or a leading part of it",
                f"received shape {ms}",
                "reshape the mask explicitly",
            )
        mask = _expand_prefix(xp, mask, ls)
    return mask
