"""BCE = floor + excess: the binary entropy of the targets and the KL divergence to the prediction.

For a target y in [0, 1], BCE(y, p) is minimised at p = y, where it equals the
binary entropy H(y) (the *floor*).  What remains is KL(y || p) (the *excess*),
which is >= 0 and is the only part a model can reduce:

.. math::

    \\mathrm{BCE}(y, p) = H(y) + \\mathrm{KL}(y \\,\\|\\, p)

This is why a perfect reconstruction of soft targets does not score 0.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ._core import formulas
from ._core.arrays import accum_dtype, asarray, is_traced, namespace, quiet, size, stop_gradient
from ._core.display import count_of, decimals_or_exponent
from ._core.divergence import kl_exact
from ._core.options import (
    AxisArg,
    check_bool,
    check_nan_policy,
    check_reduction,
    check_unit_interval,
)
from ._core.prepare import finish, keep_mask, prepare, shield
from ._core.validate import check_targets_dtype
from .errors import EmptyReductionError

__all__ = ["Decomposition", "binary_entropy", "binary_kl", "decompose"]

Array = Any


@quiet
def binary_entropy(
    targets: Array,
    *,
    label_smoothing: float = 0.0,
    reduction: str = "none",
    weights: Array | None = None,
    mask: Array | None = None,
    axis: AxisArg = None,
    nan_policy: str = "raise",
) -> Array:
    r"""The floor of BCE: the binary entropy of the targets, in nats.

    .. math::

        H(y) = -\bigl(y \log y + (1 - y) \log(1 - y)\bigr), \qquad 0 \log 0 = 0

    H is 0 for hard targets and at most :math:`\log 2 \approx 0.6931` at y = 0.5.

    Args:
        targets: floating array with values in [0, 1] (int/bool accepted), any shape.
        label_smoothing: the floor of the *smoothed* targets.
        reduction, weights, mask, axis, nan_policy: as in :func:`bcelab.bce`.

    >>> import numpy as np
    >>> binary_entropy(np.array([0.5, 0.3, 0.5, 0.9]))
    array([0.69314718, 0.6108643 , 0.69314718, 0.32508297])
    """
    fname = "binary_entropy"
    check_reduction(reduction, fname=fname)
    check_nan_policy(nan_policy, fname=fname)
    ls = check_unit_interval(label_smoothing, name="label_smoothing", fname=fname)
    targets = _float_targets(targets, fname=fname)
    prep = prepare(
        targets,
        targets,
        fname=fname,
        probs=True,
        nan_policy=nan_policy,
        label_smoothing=ls,
        pred_name="targets",
    )
    prep = shield(prep, reduction=reduction, weights=weights, mask=mask, fname=fname)
    values = formulas.entropy(prep.xp, prep.y)
    return finish(
        prep, values, reduction=reduction, weights=weights, mask=mask, axis=axis, fname=fname
    )


def _float_targets(targets: Array, *, fname: str) -> Array:
    """Integer or boolean targets (0/1 labels) in the array library's default float
    dtype; other targets as they are."""
    xp = namespace(targets, fname=fname)
    targets = asarray(xp, targets, name="targets", fname=fname)
    check_targets_dtype(xp, targets, fname=fname)
    if xp.isdtype(targets.dtype, ("integral", "bool")):
        return xp.astype(targets, xp.asarray(0.0).dtype)
    return targets


def _excess(
    preds: Array,
    targets: Array,
    *,
    logits: bool,
    label_smoothing: float,
    nan_policy: str,
    reduction: str,
    weights: object,
    mask: object,
    fname: str,
) -> tuple[Any, Array]:
    check_nan_policy(nan_policy, fname=fname)
    logits = check_bool(
        logits,
        name="logits",
        fname=fname,
        hint="logits= is a flag here: pass the logits themselves first (or as preds=) "
        "with logits=True",
    )
    ls = check_unit_interval(label_smoothing, name="label_smoothing", fname=fname)
    prep = prepare(
        preds,
        targets,
        fname=fname,
        probs=not logits,
        nan_policy=nan_policy,
        label_smoothing=ls,
        pred_name="logits" if logits else "preds",
    )
    prep = shield(prep, reduction=reduction, weights=weights, mask=mask, fname=fname)
    xp, z, y = prep.xp, prep.pred, prep.y
    if logits:
        a, b = formulas.neglog_terms_logits(xp, z, y, guard=not prep.clean)
    else:
        a, b = formulas.neglog_terms_probs(xp, z, y)
    ce = formulas.cross_entropy(y, a, b, None)
    # the value is the accurate KL; its derivative is that of BCE - H(y): the
    # cross-entropy's in the predictions, logit(y) - logit(p) in the targets (finite at
    # targets of exactly 0 and 1, where the true one is infinite)
    carrier = ce - formulas.entropy(xp, y)
    excess = formulas.accurate_value(xp, kl_exact(xp, z, y, a, b, logits=logits), carrier)
    return prep, (y, ce, excess)


@quiet
def binary_kl(
    preds: Array,
    targets: Array,
    *,
    logits: bool = False,
    label_smoothing: float = 0.0,
    reduction: str = "none",
    weights: Array | None = None,
    mask: Array | None = None,
    axis: AxisArg = None,
    nan_policy: str = "raise",
) -> Array:
    r"""The excess of BCE over its floor: KL(y ‖ p) >= 0, exactly 0 at p = y.

    The prediction comes first, the target second (``preds=``/``targets=`` may be
    passed by keyword).

    .. math::

        \mathrm{KL}(y \,\|\, p) = y \log\frac{y}{p} + (1 - y) \log\frac{1 - y}{1 - p}
        = \mathrm{BCE}(y, p) - H(y)

    ``preds`` are probabilities, or logits with ``logits=True`` (then
    :math:`\log p = \log\sigma(x)` is used, exact for any logit).  It has the same
    gradient in ``preds`` as BCE, so training on it is training on BCE; its value goes
    to 0 at a perfect fit.  Rounding can push the true value a few ulp below 0 when
    p is within rounding of y; the result is clamped at 0.

    >>> import numpy as np
    >>> y = np.array([0.5, 0.3, 0.5, 0.9])
    >>> binary_kl(y, y)
    array([0., 0., 0., 0.])
    >>> round(float(binary_kl(np.array([0.1, 0.3, 0.5, 0.8]), y, reduction="mean")), 8)
    0.13687891
    """
    fname = "binary_kl"
    check_reduction(reduction, fname=fname)
    prep, (_, _, values) = _excess(
        preds,
        targets,
        logits=logits,
        label_smoothing=label_smoothing,
        nan_policy=nan_policy,
        reduction=reduction,
        weights=weights,
        mask=mask,
        fname=fname,
    )
    return finish(
        prep, values, reduction=reduction, weights=weights, mask=mask, axis=axis, fname=fname
    )


class Decomposition(NamedTuple):
    """Mean BCE split into its floor (mean entropy of the targets) and excess (mean KL).

    ``bce == floor + excess`` holds to rounding.  ``count`` is the number of elements
    that entered the means and ``omitted`` the number left out (mask or NaN).  Outside
    a compiled function the fields are Python numbers; under ``jax.jit`` they are
    arrays (a ``NamedTuple`` is a JAX pytree, so ``decompose`` can be jitted).
    """

    bce: float
    floor: float
    excess: float
    count: int  # type: ignore[assignment]  # the field shadows tuple.count, on purpose
    omitted: int = 0

    @property
    def excess_fraction(self) -> float:
        """The share of the loss that a better model could still remove (1 when the loss
        is infinite over a finite floor)."""
        if math.isinf(self.bce) and math.isfinite(self.floor):
            return 1.0
        return self.excess / self.bce if self.bce > 0 else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {**self._asdict(), "excess_fraction": self.excess_fraction}

    def __str__(self) -> str:
        bce, floor, excess = (
            decimals_or_exponent(v, 4) for v in (self.bce, self.floor, self.excess)
        )
        return (
            f"BCE {bce} = floor {floor} + excess {excess} "
            f"(the part a better prediction can still remove)"
        )

    def _repr_html_(self) -> str:
        import html  # start-up time: only a notebook asks for it (1 ms of `import bcelab`)

        rows = [
            ("BCE", self.bce, "the mean loss"),
            ("floor H(y)", self.floor, "the targets' own entropy: no prediction goes below it"),
            ("excess KL(y || p)", self.excess, "the part a better prediction can still remove"),
        ]
        body = "".join(
            f"<tr><td>{html.escape(n)}</td><td style='text-align:right'>{v:.6g}</td>"
            f"<td>{html.escape(d)}</td></tr>"
            for n, v, d in rows
        )
        return (
            "<table><thead><tr><th>part</th><th>value</th><th>meaning</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
            f"<p>{count_of(self.count, 'element')} ({self.omitted} left out); excess is "
            f"{100 * self.excess_fraction:.1f}% of the loss.</p>"
        )


@quiet
def decompose(
    preds: Array,
    targets: Array,
    *,
    logits: bool = False,
    label_smoothing: float = 0.0,
    weights: Array | None = None,
    mask: Array | None = None,
    reduction: str = "mean",
    nan_policy: str = "raise",
) -> Decomposition:
    r"""Mean BCE, its floor H(y) and its excess KL(y ‖ p): the direct answer to "why not 0?".

    The prediction comes first, the target second (``preds=``/``targets=`` may be
    passed by keyword).

    .. math::

        \overline{\mathrm{BCE}} = \overline{H(y)} + \overline{\mathrm{KL}(y \,\|\, p)}

    All three means are accumulated in float64 with the same weights and mask.
    ``reduction`` is ``"mean"`` or ``"weighted_mean"``.

    >>> y = [0.5, 0.3, 0.5, 0.9]
    >>> print(decompose([0.1, 0.3, 0.5, 0.8], y))
    BCE 0.7174 = floor 0.5806 + excess 0.1369 (the part a better prediction can still remove)
    >>> decompose(y, y).excess
    0.0
    """
    fname = "decompose"
    check_reduction(reduction, fname=fname, allowed=("mean", "weighted_mean"))
    prep, (y, ce, excess) = _excess(
        preds,
        targets,
        logits=logits,
        label_smoothing=label_smoothing,
        nan_policy=nan_policy,
        reduction=reduction,
        weights=weights,
        mask=mask,
        fname=fname,
    )
    xp = prep.xp
    parts = {"bce": ce, "floor": formulas.entropy(xp, y), "excess": excess}
    try:
        means = {
            k: finish(
                prep, v, reduction=reduction, weights=weights, mask=mask, axis=None, fname=fname
            )
            for k, v in parts.items()
        }
    except EmptyReductionError as e:  # its advice of reduction='sum' is not for decompose
        raise EmptyReductionError(
            e.expected, e.received, "check the mask/weights: a decomposition needs an element"
        ) from None
    total = size(prep.pred.shape)
    keep = keep_mask(prep, mask, fname=fname)
    kept = None if keep is None else xp.sum(xp.astype(keep, accum_dtype(xp, prep.pred)))
    if any(is_traced(v) for v in means.values()):  # under jax.jit: arrays, no conversion
        count: Any = total if kept is None else kept
        return Decomposition(means["bce"], means["floor"], means["excess"], count, total - count)
    # Python numbers: no derivative to keep (torch would warn about requires_grad)
    out = {k: float(stop_gradient(v)) for k, v in means.items()}
    count = total if kept is None else int(stop_gradient(kept))
    return Decomposition(out["bce"], out["floor"], out["excess"], count, total - count)
