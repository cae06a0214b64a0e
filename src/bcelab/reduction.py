"""Reduction as its own step: every loss hands its per-element values to :func:`reduce`."""

from __future__ import annotations

from typing import Any, Literal

from . import _backend as B
from .errors import DTypeError, EmptyReductionError, OptionError, ShapeError

__all__ = ["REDUCTIONS", "Reduction", "reduce"]

Array = Any
Reduction = Literal["none", "mean", "sum", "weighted_mean", "per_sample"]
REDUCTIONS: tuple[str, ...] = ("none", "mean", "sum", "weighted_mean", "per_sample")


def _check_mask(xp: Any, mask: Array, like: Array, *, fname: str) -> Array:
    mask = B.asarray(xp, mask, name="mask", fname=fname, like=like)
    if not xp.isdtype(mask.dtype, "bool"):
        raise DTypeError(
            f"{fname}: mask must be a boolean array (True = keep the element)",
            f"received dtype {mask.dtype}",
            "pass mask=(m != 0) or mask=np.asarray(m, dtype=bool)",
        )
    ms, ls = tuple(mask.shape), tuple(like.shape)
    if ms != ls:
        if len(ms) < len(ls) and ls[: len(ms)] == ms:
            return xp.broadcast_to(xp.reshape(mask, ms + (1,) * (len(ls) - len(ms))), ls)
        raise ShapeError(
            f"{fname}: mask must have the shape of the values {ls} or a leading part of it",
            f"received shape {ms}",
            "reshape the mask explicitly",
        )
    return mask


def _axes(axis: int | tuple[int, ...], ndim: int, *, fname: str) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise OptionError(
                f"{fname}: axis must index the values' {ndim} dimensions",
                f"received axis={axis!r}",
                "use axis=-1 for the last axis (the Keras per-sample shape)",
            )
        out.append(a % ndim)
    return tuple(sorted(set(out)))


def _empty(fname: str, what: str) -> EmptyReductionError:
    return EmptyReductionError(
        f"{fname}: a mean needs at least one element with non-zero weight",
        f"received {what}",
        "check the mask/weights, or use reduction='sum' (which is 0 for no elements)",
    )


@B.quiet
def reduce(
    values: Array,
    /,
    *,
    reduction: Reduction | str = "mean",
    weights: Array | None = None,
    mask: Array | None = None,
    axis: int | tuple[int, ...] = -1,
) -> Array:
    r"""Reduce per-element loss values, accumulating in float64.

    With per-element weights :math:`w_i` and keep-mask :math:`m_i` (masked elements
    count as neither value nor weight):

    .. math::

        \text{sum} = \sum_i m_i w_i \ell_i, \qquad
        \text{mean} = \frac{\sum_i m_i w_i \ell_i}{\sum_i m_i}, \qquad
        \text{weighted\_mean} = \frac{\sum_i m_i w_i \ell_i}{\sum_i m_i w_i}

    ``mean`` with weights is the Keras/PyTorch convention (divide by the number of
    elements); ``weighted_mean`` divides by the total weight.  ``per_sample`` is
    ``mean`` over ``axis`` only (default: the last axis, Keras's per-sample shape).
    ``none`` returns ``w * values`` element-wise with masked elements set to 0 and
    never changes the shape.  An element whose weight is 0 contributes exactly 0,
    even if its value is inf.

    Args:
        values: per-element losses, any real floating dtype and shape.
        reduction: ``"none" | "mean" | "sum" | "weighted_mean" | "per_sample"``.
        weights: non-negative finite weights of the same shape as ``values``, or of a
            leading part of it (one weight per sample, applied to all its elements).
        mask: boolean keep-mask, same shape rules as ``weights``.
        axis: the axes reduced by ``per_sample``.

    Returns:
        A float64 array (float32 where the library has no float64, e.g. JAX without
        x64): 0-d for ``mean``/``sum``/``weighted_mean``, ``values.shape`` without
        ``axis`` for ``per_sample``, and ``values``' dtype and shape for ``none``.

    Raises:
        EmptyReductionError: a mean over zero elements or zero total weight
            (checked when values are concrete; under ``jax.jit`` the result is NaN).

    >>> import numpy as np
    >>> float(reduce(np.array([1.0, 2.0, 3.0, 10.0]), mask=np.array([True, True, True, False])))
    2.0
    >>> float(reduce(np.array([1.0, 3.0]), weights=np.array([3.0, 1.0]), reduction="weighted_mean"))
    1.5
    """
    fname = "reduce"
    xp = B.namespace(values, weights, mask, fname=fname)
    values = B.asarray(xp, values, name="values", fname=fname)
    if not B.is_floating(xp, values.dtype):
        raise DTypeError(
            f"{fname}: values must be floating point",
            f"received dtype {values.dtype}",
            "cast with .astype(float32)",
        )
    if reduction not in REDUCTIONS:
        raise OptionError(
            f"{fname}: reduction must be one of {REDUCTIONS}",
            f"received {reduction!r}",
            "pick one of those (default 'mean')",
        )
    w = (
        None
        if weights is None
        else B.check_weights(xp, weights, values, name="weights", fname=fname)
    )
    m = None if mask is None else _check_mask(xp, mask, values, fname=fname)

    contrib = values
    if w is not None:
        contrib = xp.where(w == 0, 0.0, w * contrib)
    if m is not None:
        contrib = xp.where(m, contrib, 0.0)
    if reduction == "none":
        return contrib

    acc = B.accum_dtype(xp, values)
    total_axes: tuple[int, ...] | None = None
    if reduction == "per_sample":
        if values.ndim == 0:
            raise OptionError(
                f"{fname}: per_sample needs at least one axis",
                "received a 0-d array",
                "use reduction='mean'",
            )
        total_axes = _axes(axis, values.ndim, fname=fname)
    num = xp.sum(xp.astype(contrib, acc), axis=total_axes)
    if reduction == "sum":
        return num

    if reduction == "weighted_mean":
        den_src = w if w is not None else xp.ones_like(values)
        if m is not None:
            den_src = xp.where(m, den_src, 0.0)
        den = xp.sum(xp.astype(den_src, acc), axis=total_axes)
        what = "a total weight of 0"
    else:
        if m is not None:
            den = xp.sum(xp.astype(m, acc), axis=total_axes)
        else:
            n = (
                B.size(values.shape)
                if total_axes is None
                else B.size([values.shape[a] for a in total_axes])
            )
            den = xp.asarray(float(n), dtype=acc, device=_device(values))
        what = "zero elements"
    if not B.is_traced(den) and bool(xp.any(den == 0)):
        raise _empty(fname, what if den.ndim == 0 else f"{what} in some samples")
    return num / den


def _device(x: Array) -> Any:
    import array_api_compat

    return array_api_compat.device(x)
