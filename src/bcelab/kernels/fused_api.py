"""``fused_bce``: loss, floor, excess and gradient of a NumPy batch in one pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core.options import check_threads, check_unit_interval
from ..errors import DTypeError, OptionError, ShapeError
from .constants import Write
from .dispatch import (
    eligible_arrays,
    grad_denominator,
    loss_driver,
    mean_denominator,
    scalar_options,
)

if TYPE_CHECKING:
    from ..information import Decomposition

# The reference path (bcelab.losses, .gradients, .information) is imported when a call
# needs it: those modules import bcelab.kernels.dispatch, which runs this package's
# __init__ (and so this module) while they are still loading.

__all__ = ["FusedResult", "fused_bce"]


@dataclass(frozen=True)
class FusedResult:
    """What one pass returns: the reduced loss, optionally its floor/excess and the gradient.

    ``floor`` and ``excess`` are set with ``with_decomposition=True``; ``grad`` (the
    derivative of ``value`` with respect to the predictions, in their dtype in native
    byte order, float32 for float16) with ``grad=True`` or ``grad_out=``.  ``fused`` says
    whether the fused kernel ran or the reference path did (numba missing, input not
    eligible, or values the reference path treats specially).
    """

    value: float
    floor: float | None
    excess: float | None
    grad: np.ndarray | None
    count: int
    fused: bool

    def decomposition(self) -> Decomposition:
        """The floor + excess view of the loss (needs ``with_decomposition=True``)."""
        if self.floor is None or self.excess is None:
            raise OptionError(
                "fused_bce: decomposition() needs with_decomposition=True",
                "received a result computed without it",
                "call fused_bce(..., with_decomposition=True)",
            )
        from ..information import Decomposition  # at call time: see the module comment

        return Decomposition(self.value, self.floor, self.excess, self.count, 0)


def _grad_dtype(preds: np.ndarray) -> np.dtype:
    """The gradient's dtype: the predictions' in native byte order (float32 for float16)."""
    native = preds.dtype.newbyteorder("=")
    return native if native.kind == "f" and native.itemsize >= 4 else np.dtype(np.float32)


def _check_grad_out(
    grad_out: object, preds: object, targets: object, weights: object, fname: str
) -> np.ndarray:
    ref = np.asarray(preds)
    want = _grad_dtype(ref)
    # np.empty_like(preds) keeps a byte order or a half precision the gradient has not
    fix = "pass np.empty_like(preds)"
    if ref.dtype != want:
        fix = f"pass np.empty_like(preds, dtype=np.{want.name})"
    if type(grad_out) is not np.ndarray:
        raise DTypeError(
            f"{fname}: grad_out must be a NumPy array",
            f"received {type(grad_out).__name__}",
            fix,
        )
    if grad_out.shape != ref.shape:
        raise ShapeError(
            f"{fname}: grad_out must have the predictions' shape {ref.shape}",
            f"received shape {grad_out.shape}",
            fix,
        )
    if grad_out.dtype != want:
        raise DTypeError(
            f"{fname}: grad_out must have the gradient's dtype, {want} in native byte "
            f"order (the predictions' dtype in native byte order; float32 for float16)",
            f"received grad_out with dtype {grad_out.dtype.str!r} for preds of dtype "
            f"{ref.dtype.str!r}",
            fix,
        )
    if not (grad_out.flags.c_contiguous and grad_out.flags.writeable):
        raise OptionError(
            f"{fname}: grad_out must be a writeable C-contiguous array",
            "received a read-only or strided array",
            fix,
        )
    # The kernel writes each element's gradient while it still reads the inputs: grad_out
    # must share no memory with any of them (on either path, so both raise the same error).
    for name, arr in (("preds", ref), ("targets", targets), ("weights", weights)):
        if arr is not None and np.may_share_memory(grad_out, np.asarray(arr)):
            raise OptionError(
                f"{fname}: grad_out must not overlap the predictions, targets or weights",
                f"received grad_out sharing memory with {name}=",
                f"pass a separate array: {fix[5:]}",
            )
    return grad_out


def fused_bce(
    preds: Any,
    targets: Any,
    *,
    logits: bool,
    weights: Any = None,
    pos_weight: float | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    with_decomposition: bool = False,
    grad: bool = False,
    grad_out: np.ndarray | None = None,
    grad_scale: float = 1.0,
    nan_policy: str = "raise",
    threads: int | None = None,
) -> FusedResult:
    r"""Mean (or sum) BCE, its floor and excess, and its gradient, in one pass over the data.

    .. math::

        L = \frac{1}{D} \sum_i w_i \ell_i, \qquad
        \ell_i = w_+ y_i\, a_i + (1 - y_i)\, b_i = H(y_i) + \mathrm{KL}(y_i \| p_i), \qquad
        \frac{\partial L}{\partial z_i} = \frac{w_i}{D} \frac{\partial \ell_i}{\partial z_i}

    with :math:`D = N` (``mean``), :math:`\sum_i w_i` (``weighted_mean``) or 1 (``sum``),
    and the exact formulas of :func:`bcelab.bce_with_logits` / :func:`bcelab.bce`.  Sums
    are accumulated in float64 per fixed chunk and added in a fixed order, on all cores,
    without temporaries proportional to N.  float32 input is computed in float64.

    Inputs the kernel does not take (non-NumPy or non-contiguous arrays, other dtypes,
    NaN, values outside [0, 1], ...) take the reference Array-API path: the same numbers
    or :class:`bcelab.BCELabError`; ``result.fused`` tells which ran.

    The prediction comes first and the target second (or ``preds=``, ``targets=``).

    Args:
        preds: logits (``logits=True``) or probabilities, float32/float64, any shape.
        targets: same shape and dtype, values in [0, 1].
        logits: whether ``preds`` are logits (required: bcelab never guesses).
        weights: per-element non-negative weights, same shape and dtype, or None.
        pos_weight: a number multiplying the positive term, or None.
        label_smoothing: s in [0, 1]; targets become :math:`y(1 - s) + s/2`.
        reduction: ``"mean"``, ``"sum"`` or ``"weighted_mean"``.
        with_decomposition: also the floor and excess, reduced alike (no ``pos_weight``).
        grad: also return the gradient of the reduced loss in a new array.
        grad_out: write the gradient into this array: the shape of ``preds`` and the
            gradient's dtype, that of ``preds`` in native byte order (float32 for
            float16), e.g. ``np.empty_like(preds)``, not overlapping the inputs (a call
            that raises may leave it partly written: a check first would cost 2x).
        grad_scale: a finite factor of the gradient, applied in its dtype after its
            rounding: the bits of ``g * grad_scale`` afterwards without that second pass
            (a backward pass's incoming gradient, ``1 / k`` for ``(loss / k).backward()``).
        nan_policy: as in :func:`bcelab.bce` (inputs with NaN take the reference path).
        threads: an integer >= 1, or None: ``BCELAB_THREADS``, else every core this
            process may use (one below ``constants.PARALLEL_MIN``, 2**18 elements).

    >>> import numpy as np
    >>> y = np.array([0.5, 0.3, 0.5, 0.9])
    >>> r = fused_bce(np.array([0.1, 0.3, 0.5, 0.8]), y, logits=False, with_decomposition=True)
    >>> print(r.decomposition())
    BCE 0.7174 = floor 0.5806 + excess 0.1369 (the part a better prediction can still remove)
    >>> fused_bce(np.zeros(4), np.ones(4), logits=True, grad=True).grad.tolist()
    [-0.125, -0.125, -0.125, -0.125]
    """
    fname = "fused_bce"
    if reduction != "mean" or with_decomposition:  # the default call needs no check
        _check_options(reduction, with_decomposition, pos_weight, fname=fname)
    if threads is not None:
        threads = check_threads(threads, fname=fname)
    want_grad = grad or grad_out is not None
    out = None if grad_out is None else _check_grad_out(grad_out, preds, targets, weights, fname)
    if type(label_smoothing) is not float or label_smoothing != 0.0:  # the core's check
        label_smoothing = check_unit_interval(label_smoothing, name="label_smoothing", fname=fname)
    if type(grad_scale) is not float or grad_scale != 1.0:  # the default needs no check
        grad_scale = _check_grad_scale(grad_scale, fname)
    # positional: this runs on every call of the torch adapter, where keywords cost
    args = (preds, targets, logits, weights, pos_weight, label_smoothing)
    more = (reduction, with_decomposition, want_grad, out, nan_policy, grad_scale)
    res = _fused(*args, *more, threads)
    return res if res is not None else _reference(*args, *more)


def _check_grad_scale(grad_scale: object, fname: str) -> float:
    real = int | float | np.integer | np.floating
    ok = isinstance(grad_scale, real) and not isinstance(grad_scale, bool | np.bool_)
    if not ok or not np.isfinite(float(grad_scale)):  # type: ignore[arg-type]
        raise OptionError(
            f"{fname}: grad_scale must be a finite number (the factor of the gradient)",
            f"received grad_scale={grad_scale!r}",
            "pass e.g. grad_scale=0.25 for (loss / 4).backward()",
        )
    return float(grad_scale)  # type: ignore[arg-type]


def _check_options(
    reduction: str, with_decomposition: bool, pos_weight: object, *, fname: str
) -> None:
    if reduction not in ("mean", "sum", "weighted_mean"):
        raise OptionError(
            f"{fname}: reduction must be 'mean', 'sum' or 'weighted_mean'",
            f"received {reduction!r}",
            "use bcelab.bce(..., reduction='none') for per-element values",
        )
    if with_decomposition and pos_weight is not None:
        raise OptionError(
            f"{fname}: the floor + excess decomposition has no pos_weight",
            f"received pos_weight={pos_weight!r} with with_decomposition=True",
            "drop pos_weight, or drop with_decomposition",
        )
    if with_decomposition and reduction == "sum":
        raise OptionError(
            f"{fname}: the decomposition is a mean",
            "received reduction='sum'",
            "use reduction='mean' or 'weighted_mean'",
        )


def _fused(
    preds: Any,
    targets: Any,
    logits: bool,
    weights: Any,
    pos_weight: Any,
    label_smoothing: Any,
    reduction: str,
    decomp: bool,
    want_grad: bool,
    out: np.ndarray | None,
    nan_policy: str,
    grad_scale: float,
    threads: int | None,
) -> FusedResult | None:
    if nan_policy not in ("raise", "propagate", "omit"):
        return None
    arrays = eligible_arrays(preds, targets, weights)
    opts = scalar_options(pos_weight, label_smoothing) if arrays is not None else None
    drv = loss_driver() if opts is not None else None
    if arrays is None or opts is None or drv is None:
        return None
    x, y, w = arrays
    den_g = grad_denominator(x, w, reduction) if want_grad else 1.0
    if den_g is None:
        return None
    g = None
    if want_grad:
        g = out if out is not None else np.empty(x.shape, dtype=x.dtype)
    totals = drv.run(
        x.reshape(-1),
        y.reshape(-1),
        None if w is None else w.reshape(-1),
        None if g is None else g.reshape(-1),
        logits=logits,
        decomp=decomp,
        write=Write.GRAD if want_grad else Write.NONE,
        pos_weight=opts[0],
        label_smoothing=opts[1],
        den=den_g,
        grad_scale=grad_scale,
        threads=threads,
    )
    if totals.invalid != 0.0:
        return None
    den = mean_denominator(totals, reduction, x.size, weighted=w is not None)
    if den is None:
        return None
    return FusedResult(
        float(totals.loss / den),
        float(totals.floor / den) if decomp else None,
        float(totals.excess / den) if decomp else None,
        g,
        int(x.size),
        True,
    )


def _reference(
    preds: Any,
    targets: Any,
    logits: bool,
    weights: Any,
    pos_weight: Any,
    label_smoothing: Any,
    reduction: str,
    decomp: bool,
    want_grad: bool,
    out: np.ndarray | None,
    nan_policy: str,
    grad_scale: float,
) -> FusedResult:
    # at call time: see the module comment
    from ..gradients import bce_grad, bce_with_logits_grad
    from ..information import decompose
    from ..losses import bce, bce_with_logits

    loss_fn = bce_with_logits if logits else bce
    value = float(
        loss_fn(
            preds,
            targets,
            pos_weight=pos_weight,
            label_smoothing=label_smoothing,
            reduction=reduction,
            weights=weights,
            nan_policy=nan_policy,
        )
    )
    floor = excess = None
    shape = getattr(preds, "shape", None)
    count = int(np.prod(tuple(shape))) if shape is not None else int(np.size(preds))
    if decomp:
        dec = decompose(
            preds,
            targets,
            logits=logits,
            label_smoothing=label_smoothing,
            weights=weights,
            reduction=reduction,
            nan_policy=nan_policy,
        )
        floor, excess, count = dec.floor, dec.excess, dec.count
    g = None
    if want_grad:
        grad_fn = bce_with_logits_grad if logits else bce_grad
        g = np.asarray(
            grad_fn(
                preds,
                targets,
                pos_weight=pos_weight,
                label_smoothing=label_smoothing,
                reduction=reduction,
                weights=weights,
                nan_policy=nan_policy,
            )
        )
        if grad_scale != 1.0:  # one multiplication in the gradient's dtype, as the kernel
            g = np.asarray(g * g.dtype.type(grad_scale))
        if out is not None:
            out[...] = g
            g = out
    return FusedResult(value, floor, excess, g, count, False)
