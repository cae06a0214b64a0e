"""Input preparation shared by every loss: validate, pick dtypes, and reduce.

``prepare`` turns ``(pred, targets)`` into validated arrays in the compute dtype;
``finish`` casts element-wise values to the output dtype or hands them to
:func:`bcelab.reduce`.  The loss modules (:mod:`bcelab.losses`,
:mod:`bcelab.information`, :mod:`bcelab.gradients`) and the framework adapters all go
through these two steps, so validation and dtype rules live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _backend as B
from . import _math as M
from . import conventions as C
from .errors import DomainError, OptionError, ShapeError
from .reduction import REDUCTIONS, _check_mask, reduce

__all__ = ["Prepared", "check_clip", "clip_eps", "finish", "pos_weight_array", "prepare"]

Array = Any


@dataclass(frozen=True)
class Prepared:
    """Validated inputs in the compute dtype."""

    xp: Any
    pred: Array
    y: Array
    out_dtype: Any
    omit: Array | None  # keep-mask from nan_policy="omit"
    pred_in: Array  # the prediction in its input dtype
    clean: bool = False  # checked: no NaN, logits finite (False when traced)


def check_reduction(reduction: str, *, fname: str) -> None:
    if reduction not in REDUCTIONS:
        raise OptionError(
            f"{fname}: reduction must be one of {REDUCTIONS}",
            f"received {reduction!r}",
            "use 'none' for per-element values (the default) or 'mean'",
        )


def prepare(
    pred: Array,
    targets: Array,
    *,
    fname: str,
    probs: bool,
    nan_policy: str,
    label_smoothing: float = 0.0,
    convention: str = "exact",
    pred_name: str | None = None,
) -> Prepared:
    """Validate ``(pred, targets)`` and cast them to the compute dtype."""
    pred_name = pred_name or ("probs" if probs else "logits")
    B.check_nan_policy(nan_policy, fname=fname)
    C.check_convention(convention, fname=fname)
    ls = B.check_unit_interval(label_smoothing, name="label_smoothing", fname=fname)
    xp = B.namespace(pred, targets, fname=fname)
    pred = B.asarray(xp, pred, name=pred_name, fname=fname)
    targets = B.asarray(xp, targets, name="targets", fname=fname, like=pred)
    B.check_preds_dtype(xp, pred, name=pred_name, fname=fname)
    B.check_targets_dtype(xp, targets, fname=fname)
    B.check_same_shape(pred, targets, names=(pred_name, "targets"), fname=fname)
    clean = B.validate_values(
        xp,
        preds=pred,
        targets=targets,
        probs=probs,
        nan_policy=nan_policy,
        fname=fname,
        pred_name=pred_name,
    )
    compute, out = B.dtypes_for(xp, pred)
    if convention != "exact":
        compute = C.compute_dtype(xp, convention, pred.dtype)
        out = compute
    p = xp.astype(pred, compute)
    y = M.smooth(xp.astype(targets, compute), ls)
    omit = None
    if nan_policy == "omit":
        nm = B.nan_mask(xp, p, y)
        omit = None if nm is None else ~nm
    return Prepared(xp, p, y, out, omit, pred, clean)


def pos_weight_array(prep: Prepared, pos_weight: object, *, fname: str) -> Array | float | None:
    """pos_weight: a number, or an array of the inputs' shape or of their last axis (one per label)."""
    if pos_weight is None:
        return None
    xp = prep.xp
    if isinstance(pos_weight, (int, float)):
        pw: Array | float = float(pos_weight)
        bad = not (0 <= pw < float("inf"))
        shape_ok = True
    else:
        if B.namespace(prep.pred_in, pos_weight, fname=fname) is not xp:  # pragma: no cover
            raise AssertionError
        arr = B.asarray(xp, pos_weight, name="pos_weight", fname=fname, like=prep.pred)
        shp, ref = tuple(arr.shape), tuple(prep.pred.shape)
        shape_ok = shp in ((), ref) or (len(ref) >= 1 and shp == (ref[-1],))
        pw = xp.astype(arr, prep.pred.dtype)
        bad = False if B.is_traced(pw) else bool(xp.any(~(pw >= 0) | xp.isinf(pw)))
        if not shape_ok:
            raise ShapeError(
                f"{fname}: pos_weight must be a number, a 1-D array with one weight per label "
                "(length = the last axis), or an array of the inputs' shape",
                f"received shape {shp} for inputs of shape {ref}",
                "pass a scalar or one weight per output column",
            )
    if bad:
        raise DomainError(
            f"{fname}: pos_weight must be finite and >= 0",
            f"received {pos_weight!r}",
            "a typical choice is n_negative / n_positive",
        )
    return pw


def finish(
    prep: Prepared,
    values: Array,
    *,
    reduction: str,
    weights: object,
    mask: object,
    axis: int | tuple[int, ...],
    fname: str,
) -> Array:
    """Cast element-wise values to the output dtype, or reduce them (in float64)."""
    check_reduction(reduction, fname=fname)
    xp = prep.xp
    if reduction == "none":
        out = xp.astype(values, prep.out_dtype)
        if weights is None and mask is None:
            return out
        return reduce(out, reduction="none", weights=weights, mask=mask, axis=axis)
    m = mask
    if prep.omit is not None:
        m = prep.omit if mask is None else (_as_mask(xp, mask, prep.pred, fname) & prep.omit)
    return reduce(values, reduction=reduction, weights=weights, mask=m, axis=axis)


def _as_mask(xp: Any, mask: object, like: Array, fname: str) -> Array:
    return _check_mask(xp, mask, like, fname=fname)


def _reject(convention: str, option: str, fname: str) -> None:
    raise OptionError(
        f"{fname}: {option} is not part of convention={convention!r}",
        f"received {option} together with convention={convention!r}",
        f"drop {option}, or use convention='exact'",
    )


def clip_eps(clip: object, *, fname: str) -> float:
    """The ``clip=eps`` option as a float in (0, 0.5), or the documented error."""
    eps = float(clip)  # type: ignore[arg-type]
    if not 0.0 < eps < 0.5:
        raise OptionError(
            f"{fname}: clip must be a number in (0, 0.5)",
            f"received clip={clip!r}",
            "use e.g. clip=1e-7, or clip=None for the exact (unclipped) loss",
        )
    return eps


def check_clip(xp: Any, clip: float | None, in_dtype: Any, *, fname: str) -> float | None:
    """``clip=eps`` clips p to [eps, 1 - eps]; 1 - eps must be below 1 in the input dtype."""
    if clip is None:
        return None
    eps = clip_eps(clip, fname=fname)
    one_minus = float(xp.asarray(1.0 - eps, dtype=in_dtype))
    if not one_minus < 1.0 or float(xp.asarray(eps, dtype=in_dtype)) == 0.0:
        raise OptionError(
            f"{fname}: 1 - clip must be representable below 1 in the input dtype",
            f"received clip={eps!r} with dtype {in_dtype}, where 1 - {eps!r} rounds to "
            f"{one_minus!r}",
            f"use clip >= {float(xp.finfo(in_dtype).eps)!r} for this dtype, or pass logits "
            "to bce_with_logits, which needs no clip",
        )
    return eps


def _check_focal(gamma: float, alpha: float | None, fname: str) -> tuple[float, float | None]:
    g = float(gamma)
    if not 0.0 <= g < float("inf"):
        raise OptionError(
            f"{fname}: gamma must be finite and >= 0",
            f"received {gamma!r}",
            "gamma=2 is the value from Lin et al. 2017",
        )
    a = None if alpha is None else B.check_unit_interval(alpha, name="alpha", fname=fname)
    return g, a
