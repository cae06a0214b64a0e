"""Reduction as its own step: every loss hands its per-element values to :func:`reduce`."""

from __future__ import annotations

from typing import Any, Literal

from ._core.arrays import quiet
from ._core.options import REDUCTIONS, AxisArg
from ._core.reducing import reduce_values

__all__ = ["REDUCTIONS", "Reduction", "reduce"]

Array = Any
Reduction = Literal["none", "mean", "sum", "weighted_mean", "per_sample"]


@quiet
def reduce(
    values: Array,
    *,
    reduction: Reduction | str = "mean",
    weights: Array | None = None,
    mask: Array | None = None,
    axis: AxisArg = None,
) -> Array:
    r"""Reduce per-element loss values, accumulating in float64.

    With per-element weights :math:`w_i` and keep-mask :math:`m_i` (masked elements
    count as neither value nor weight):

    .. math::

        \text{sum} = \sum_i m_i w_i \ell_i, \qquad
        \text{mean} = \frac{\sum_i m_i w_i \ell_i}{\sum_i m_i}, \qquad
        \text{weighted\_mean} = \frac{\sum_i m_i w_i \ell_i}{\sum_i m_i w_i}

    ``mean`` with weights is the Keras/PyTorch convention (divide by the number of
    elements); ``weighted_mean`` divides by the total weight.  ``axis`` names the axes
    reduced, as in NumPy (None: all of them, a 0-d result).  ``per_sample`` is ``mean``
    over the last axis (Keras's per-sample shape) unless ``axis`` says otherwise.
    ``none`` returns ``w * values`` element-wise with masked elements set to 0 and
    never changes the shape.  An element whose weight is 0 contributes exactly 0,
    even if its value is inf.

    Args:
        values: per-element losses, any real floating dtype and shape.
        reduction: ``"none" | "mean" | "sum" | "weighted_mean" | "per_sample"``.
        weights: non-negative finite weights of the same shape as ``values``, or of a
            leading part of it (one weight per sample, applied to all its elements).
        mask: boolean keep-mask, same shape rules as ``weights``.
        axis: the axes reduced: None (all of them; ``per_sample``: the last one), an
            int or a tuple of ints.  Refused with ``reduction="none"``.

    Returns:
        A float64 array (float32 where the library has no float64, e.g. JAX without
        x64): ``values.shape`` without the reduced axes (0-d for ``mean``/``sum``/
        ``weighted_mean`` without ``axis``), and ``values``' dtype and shape for ``none`` (float32
        for NumPy's ``ml_dtypes.bfloat16``, which bcelab reads as float32).

    Raises:
        EmptyReductionError: a mean over zero elements or zero total weight
            (checked when values are concrete; under ``jax.jit`` the result is NaN).

    >>> import numpy as np
    >>> float(reduce(np.array([1.0, 2.0, 3.0, 10.0]), mask=np.array([True, True, True, False])))
    2.0
    >>> float(reduce(np.array([1.0, 3.0]), weights=np.array([3.0, 1.0]), reduction="weighted_mean"))
    1.5
    """
    return reduce_values(
        values, reduction=reduction, weights=weights, mask=mask, axis=axis, fname="reduce"
    )
