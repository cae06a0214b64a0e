"""The two steps every loss goes through: ``prepare`` the inputs, ``finish`` the values.

``prepare`` turns ``(preds, targets)`` into validated arrays in the compute dtype;
``finish`` casts element-wise values to the output dtype or reduces them.  The public
faces (:mod:`bcelab.losses`, :mod:`bcelab.information`, :mod:`bcelab.gradients`) and the
framework adapters all use these, so validation and dtype rules live in one place.
Options are checked by the callers, at the door (:mod:`bcelab._core.options`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from ..errors import DomainError, OptionError, ShapeError
from . import conventions, formulas
from .arrays import asarray, dtypes_for, has_autograd, is_traced, keep_array, namespace, nan_mask
from .options import AxisArg, check_axis, check_clip
from .reducing import reduce_values
from .validate import (
    check_mask,
    check_preds_dtype,
    check_same_shape,
    check_targets_dtype,
    check_values,
    check_weights,
)

__all__ = [
    "Prepared",
    "clip_bound",
    "finish",
    "keep_mask",
    "pos_weight_array",
    "prepare",
    "round_to_format",
    "shield",
]

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
    convention: str = "exact"


def prepare(
    preds: Array,
    targets: Array,
    *,
    fname: str,
    probs: bool,
    nan_policy: str,
    label_smoothing: float = 0.0,
    convention: str = "exact",
    pred_name: str | None = None,
) -> Prepared:
    """Validate ``(preds, targets)`` and cast them to the compute dtype.

    ``nan_policy``, ``label_smoothing`` and ``convention`` must already be checked.
    """
    pred_name = pred_name or ("preds" if probs else "logits")
    xp = namespace(preds, targets, fname=fname)
    preds = asarray(xp, preds, name=pred_name, fname=fname)
    targets = asarray(xp, targets, name="targets", fname=fname, like=preds)
    check_preds_dtype(xp, preds, name=pred_name, fname=fname)
    check_targets_dtype(xp, targets, fname=fname)
    check_same_shape(preds, targets, names=(pred_name, "targets"), fname=fname)
    clean = check_values(
        xp,
        preds=preds,
        targets=targets,
        probs=probs,
        nan_policy=nan_policy,
        fname=fname,
        pred_name=pred_name,
    )
    compute, out = dtypes_for(xp, preds)
    if convention != "exact":
        compute = conventions.compute_dtype(xp, convention, preds.dtype)
        out = compute
    p = xp.astype(preds, compute)
    y = formulas.smooth(xp.astype(targets, compute), label_smoothing)
    omit = None
    if nan_policy == "omit":
        nm = nan_mask(xp, p, y)
        omit = None if nm is None else ~nm
    return Prepared(xp, p, y, out, omit, preds, clean, convention)


def pos_weight_array(prep: Prepared, pos_weight: object, *, fname: str) -> Array | float | None:
    """pos_weight: a number, or an array of the inputs' shape or of their last axis (one per label)."""
    if pos_weight is None:
        return None
    xp = prep.xp
    if isinstance(pos_weight, (int, float)):
        pw: Array | float = float(pos_weight)
        bad = not (0 <= pw < float("inf"))
    else:
        namespace(prep.pred_in, pos_weight, fname=fname)  # same array library, or the error
        arr = asarray(xp, pos_weight, name="pos_weight", fname=fname, like=prep.pred)
        shp, ref = tuple(arr.shape), tuple(prep.pred.shape)
        if not (shp in ((), ref) or (len(ref) >= 1 and shp == (ref[-1],))):
            raise ShapeError(
                f"{fname}: pos_weight must be a number, a 1-D array with one weight per label "
                "(length = the last axis), or an array of the inputs' shape",
                f"received shape {shp} for inputs of shape {ref}",
                "pass a scalar or one weight per output column",
            )
        pw = xp.astype(arr, prep.pred.dtype)
        traced = is_traced(pw) or is_traced(prep.pred)  # a constant's checks are traced too
        bad = False
        if not traced:
            wrong = ~(pw >= 0) | xp.isinf(pw)
            if bool(xp.any(wrong)):  # the first such value (pw may be broadcast: no count)
                first = float(xp.reshape(pw[wrong], (-1,))[0])
                _refuse_pos_weight(
                    fname, f"received pos_weight with a negative, infinite or NaN value: {first!r}"
                )
    if bad:
        _refuse_pos_weight(fname, f"received {pos_weight!r}")
    return pw


def _refuse_pos_weight(fname: str, received: str) -> None:
    raise DomainError(
        f"{fname}: pos_weight must be finite and >= 0",
        received,
        "a typical choice is n_negative / n_positive",
    )


def keep_mask(prep: Prepared, mask: object, *, fname: str) -> Array | None:
    """The elements that enter a reduction: the caller's mask and ``nan_policy="omit"``."""
    if mask is None:
        return prep.omit
    m = check_mask(prep.xp, mask, prep.pred, fname=fname)
    return m if prep.omit is None else (m & prep.omit)


def shield(
    prep: Prepared, *, reduction: str, weights: object, mask: object, fname: str
) -> Prepared:
    """Under autograd (PyTorch, JAX): ``prep`` with a neutral prediction and target in
    every element the result leaves out (``mask`` False, weight 0, and
    NaN under ``nan_policy="omit"`` in a reduction): 0.5, a valid probability, logit and
    target.

    The result takes 0 there either way, but the derivative of ``where(keep, loss, 0)``
    is ``0 * d(loss)``, which is NaN where the loss or its derivative is infinite or NaN
    (a masked-out p = 1 with y = 0, a NaN target left out by ``"omit"``): one such
    element would put NaN into every parameter's gradient.  NumPy has no derivatives to
    keep, and its values are the same without this.
    """
    xp, pred = prep.xp, prep.pred
    if not has_autograd(pred):
        return prep
    out = None if reduction == "none" or prep.omit is None else ~prep.omit
    if mask is not None:
        m = ~check_mask(xp, mask, pred, fname=fname)
        out = m if out is None else (out | m)
    if weights is not None:
        # the reduction checks the weights' values once, after the formulas
        w = check_weights(xp, weights, pred, name="weights", fname=fname, values=False)
        out = (w == 0) if out is None else (out | (w == 0))
    if out is None:
        return prep
    # 0.5 is a valid probability, a finite logit and a soft target: finite loss, finite
    # derivatives
    return replace(prep, pred=xp.where(out, 0.5, pred), y=xp.where(out, 0.5, prep.y))


def finish(
    prep: Prepared,
    values: Array,
    *,
    reduction: str,
    weights: object,
    mask: object,
    axis: AxisArg,
    fname: str,
) -> Array:
    """Cast element-wise values to the output dtype, or reduce them (in float64)."""
    xp = prep.xp
    if reduction == "none":
        check_axis(axis, reduction, fname=fname)  # reduce_values checks the others
        out = xp.astype(values, prep.out_dtype)
        if weights is not None or mask is not None:
            out = reduce_values(
                out, reduction="none", weights=weights, mask=mask, axis=axis, fname=fname
            )
        return keep_array(out)
    m = keep_mask(prep, mask, fname=fname)
    return reduce_values(
        values, reduction=reduction, weights=weights, mask=m, axis=axis, fname=fname
    )


def clip_bound(xp: Any, clip: object, in_dtype: Any, *, fname: str) -> tuple[float, float] | None:
    """``clip=eps`` as the interval ``[eps, 1 - eps]``, both ends rounded to the input dtype.

    The ends are formed in the input's dtype on every array library, so the clipped
    loss is the same whether it is then computed in float32 (JAX without x64) or in
    float64 (NumPy, PyTorch): for float32 input ``1 - 1e-7`` is 0.99999988, as in Keras.
    ``1 - eps`` must stay below 1 and ``eps`` above 0 in that dtype.

    The rounding is done on the host from the dtype's ``finfo``, with no array: under
    ``jax.jit``, ``torch.compile`` and ``torch.func`` an array made here is traced, and
    reading its value back would fail (JAX) or break the graph (``torch.compile``).
    """
    eps = check_clip(clip, fname=fname)
    if eps is None:
        return None
    info = xp.finfo(in_dtype)
    lo = round_to_format(eps, info)
    hi = round_to_format(1.0 - eps, info)
    if not hi < 1.0 or lo == 0.0:
        raise OptionError(
            f"{fname}: 1 - clip must be representable below 1 in the input dtype",
            f"received clip={eps!r} with dtype {in_dtype}, where 1 - {eps!r} rounds to {hi!r}",
            f"use clip >= {float(xp.finfo(in_dtype).eps)!r} for this dtype, or pass logits "
            "to bce_with_logits, which needs no clip",
        )
    return lo, hi


def round_to_format(x: float, info: Any) -> float:
    """The number ``x`` in ``[0, 1)`` rounded to the nearest value of the binary float
    format that ``info`` (a ``finfo`` of NumPy, PyTorch or JAX) describes, ties to even:
    what ``asarray(x, dtype=...)`` stores, computed in Python.

    A format with ``nmant`` fraction bits spaces its values ``2**(e - 1 - nmant)`` apart
    in ``[2**(e - 1), 2**e)``, and ``2**(emin - nmant)`` apart among the subnormals below
    its smallest normal number ``tiny = 2**emin``.
    """
    nmant = 1 - math.frexp(float(info.eps))[1]  # eps = 2**-nmant = 0.5 * 2**(1 - nmant)
    emin = math.frexp(float(info.tiny))[1] - 1
    e = math.frexp(x)[1]  # x = m * 2**e with 0.5 <= m < 1
    q = max(e - 1 - nmant, emin - nmant)  # the spacing's exponent
    return math.ldexp(round(math.ldexp(x, -q)), q)  # round(): ties to even, as IEEE
