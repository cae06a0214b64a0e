"""The mechanics of reduction: every loss hands its per-element values to :func:`reduce_values`.

The public face with the full documentation is :func:`bcelab.reduce`.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import DomainError, DTypeError, EmptyReductionError, OptionError
from .arrays import accum_dtype, asarray, device_of, is_floating, is_traced, namespace, size
from .display import count_of
from .options import AxisArg, check_axis, check_reduction
from .validate import check_mask, check_weights

__all__ = [
    "MEAN_WEIGHT_FLOOR",
    "check_mean_weight",
    "empty_error",
    "mean_weight_floor",
    "overflow_error",
    "reduce_values",
    "tiny_weights_error",
    "weight_total_error",
]

Array = Any


def mean_weight_floor(smallest_normal: float, eps: float) -> float:
    """The smallest mean weight a weighted mean accepts in a dtype: ``smallest_normal / eps``.

    A weight times a value below the smallest normal number keeps only an absolute
    precision of half the smallest subnormal (float64: 2.5e-324), and a weighted mean
    divides that by the total weight.  With a mean weight of at least this floor, what
    all the products lose together is below ``eps**2`` of the mean's scale, as if no
    product had underflowed.
    """
    return smallest_normal / eps


#: :func:`mean_weight_floor` of float64: 2**-970, about 1.0e-292
MEAN_WEIGHT_FLOOR = mean_weight_floor(2.0**-1022, 2.0**-52)


def weight_total_error(
    fname: str, total: float, rows: int, *, unchanged: str = "no metric", raised: bool = False
) -> DomainError | None:
    """The error for a weighted mean over ``rows`` rows whose float64 weights add up to
    ``total`` beyond float64 (inf) or below ``rows`` times :data:`MEAN_WEIGHT_FLOOR`
    (their products with the losses would lose digits); ``None`` when it is in range.
    ``raised``: the total is a metric state's, which adds a subnormal weight as the
    smallest normal number (the message then says so where that may be the case)."""
    if math.isinf(total):
        return DomainError(
            f"{fname}: weights whose total lies within float64's range (below 1.8e308)",
            f"the weights of {count_of(rows, 'usable row')} add up to more (inf)",
            f"divide the weights by their largest value: a common factor changes {unchanged}",
        )
    if 0 < total < rows * MEAN_WEIGHT_FLOOR:
        note = " (each weight below 2.225e-308 counted as 2.225e-308)"
        return tiny_weights_error(
            fname,
            f"the weights of {count_of(rows, 'usable row')} add up to {total:.4g}, "
            f"a mean of {total / rows:.4g}"
            + (note if raised and total < rows * 2.0**-1021 else ""),
            unchanged,
        )
    return None


def tiny_weights_error(
    fname: str,
    received: str,
    unchanged: str,
    *,
    floor: float = MEAN_WEIGHT_FLOOR,
    dtype: str = "float64",
) -> DomainError:
    """The error for a weighted mean whose mean weight is below its dtype's floor."""
    return DomainError(
        f"{fname}: weights whose mean is at least {floor:.4g} in {dtype} "
        "(smaller ones lose digits once multiplied by a loss, and the mean divides by them)",
        received,
        "multiply the weights by a common factor, such as 1 / their largest value: a "
        f"common factor changes {unchanged}",
    )


def _axes(axes: tuple[int, ...], ndim: int, *, fname: str) -> tuple[int, ...]:
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            shown = axes[0] if len(axes) == 1 else axes
            raise OptionError(
                f"{fname}: axis must index the values' {ndim} dimensions",
                f"received axis={shown!r}",
                "use axis=-1 for the last axis, or axis=None for all of them",
            )
        out.append(a % ndim)
    if len(set(out)) != len(out):
        twice = next(a for a in out if out.count(a) > 1)
        kept = sorted(set(out))
        raise OptionError(
            f"{fname}: axis must name each dimension once",
            f"received axis={axes!r}, which names dimension {twice} twice",
            f"drop the repeat: axis={kept[0] if len(kept) == 1 else tuple(kept)!r}",
        )
    return tuple(sorted(out))


def empty_error(fname: str, what: str) -> EmptyReductionError:
    """The error for a mean over nothing (zero elements or a total weight of 0)."""
    return EmptyReductionError(
        f"{fname}: a mean needs at least one element (a weighted_mean, a non-zero total weight)",
        f"received {what}",
        "check the mask/weights, or use reduction='sum' (which is 0 for no elements)",
    )


def _denominator(
    xp: Any,
    values: Array,
    w: Array | None,
    m: Array | None,
    reduction: str,
    total_axes: tuple[int, ...] | None,
    acc: Any,
) -> tuple[Array, str]:
    if reduction == "weighted_mean":
        den_src = w if w is not None else xp.ones_like(values)
        if m is not None:
            den_src = xp.where(m, den_src, 0.0)
        return xp.sum(xp.astype(den_src, acc), axis=total_axes), "a total weight of 0"
    if m is not None:
        return xp.sum(xp.astype(m, acc), axis=total_axes), "zero elements"
    n = size(values.shape) if total_axes is None else size([values.shape[a] for a in total_axes])
    return xp.asarray(float(n), dtype=acc, device=device_of(values)), "zero elements"


def reduce_values(
    values: Array,
    *,
    reduction: str,
    weights: Array | None,
    mask: Array | None,
    axis: AxisArg,
    fname: str,
) -> Array:
    """See :func:`bcelab.reduce`; ``fname`` names the public function in messages."""
    check_reduction(reduction, fname=fname)
    axes = check_axis(axis, reduction, fname=fname)
    xp = namespace(values, weights, mask, fname=fname)
    values = asarray(xp, values, name="values", fname=fname)
    if not is_floating(xp, values.dtype):
        raise DTypeError(
            f"{fname}: values must be floating point",
            f"received dtype {values.dtype}",
            "cast with .astype(float32)",
        )
    acc = accum_dtype(xp, values)
    # weights in the accumulation dtype: a float16 value's weight of 0.3 stays 0.3 (not
    # 0.2998), and one of 1e5 stays finite
    w = (
        None
        if weights is None
        else check_weights(xp, weights, values, name="weights", fname=fname, dtype=acc)
    )
    m = None if mask is None else check_mask(xp, mask, values, fname=fname)

    contrib = values
    if w is not None:
        contrib = xp.where(w == 0, 0.0, w * xp.astype(values, acc))
        if reduction == "none":  # one rounding to the values' dtype
            contrib = xp.astype(contrib, values.dtype)
    if m is not None:
        contrib = xp.where(m, contrib, 0.0)
    if reduction == "none":
        return contrib

    total_axes: tuple[int, ...] | None = None  # None: every axis
    if reduction == "per_sample":
        if values.ndim == 0:
            raise OptionError(
                f"{fname}: reduction='per_sample' needs at least one axis",
                "received a 0-d array",
                "use reduction='mean'",
            )
        total_axes = _axes((-1,) if axes is None else axes, values.ndim, fname=fname)
    elif axes is not None:
        total_axes = _axes(axes, values.ndim, fname=fname)
    num = xp.sum(xp.astype(contrib, acc), axis=total_axes)
    if reduction == "sum":
        return num
    den, what = _denominator(xp, values, w, m, reduction, total_axes, acc)
    if not is_traced(den) and bool(xp.any(den == 0)):
        raise empty_error(fname, what if den.ndim == 0 else f"{what} in some samples")
    if w is not None and not is_traced(num):
        _check_overflow(xp, num, den, contrib, values, acc, fname)
        if reduction == "weighted_mean":
            count, _ = _denominator(xp, values, None, m, "mean", total_axes, acc)
            check_mean_weight(xp, den, count, acc, fname=fname)
    return num / den


def check_mean_weight(xp: Any, total: Array, count: Array, acc: Any, *, fname: str) -> None:
    """Refuse a weighted mean whose weights (``total`` over ``count`` elements, in the
    accumulation dtype ``acc``) average below :func:`mean_weight_floor` of that dtype."""
    info = xp.finfo(acc)
    floor = mean_weight_floor(float(info.smallest_normal), float(info.eps))
    if not bool(xp.any((total > 0) & (total < count * floor))):
        return
    if total.ndim == 0:
        n, t = int(count), float(total)
        received = (
            f"the weights of {count_of(n, 'element')} add up to {t:.4g}, a mean of {t / n:.4g}"
        )
    else:
        received = "in some samples the weights' mean is below that"
    dtype = "float64" if acc == xp.float64 else "float32"
    raise tiny_weights_error(fname, received, "no weighted mean", floor=floor, dtype=dtype)


def _check_overflow(
    xp: Any, num: Array, den: Array, contrib: Array, values: Array, acc: Any, fname: str
) -> None:
    """A mean of weighted values whose total weight, or one weight times its value, is
    beyond float64 would come out as 0 (finite / inf) or inf: refused instead."""
    if bool(xp.any(xp.isinf(den))):
        received = "the weights add up to more (inf)"
    elif bool(xp.any(xp.isinf(num))) and bool(
        xp.any(xp.isinf(contrib) & xp.isfinite(xp.astype(values, acc)))
    ):
        received = "a weight times its finite loss is more (inf)"
    else:
        return
    raise overflow_error(fname, received)


def overflow_error(fname: str, received: str) -> DomainError:
    """The error for a weighted mean whose weights overflow float64 (it would read 0 or inf)."""
    return DomainError(
        f"{fname}: weights whose total, and whose products with the losses, lie within "
        "float64's range (below 1.8e308) for a mean",
        received,
        "divide the weights by their largest value: a common factor changes no weighted mean",
    )
