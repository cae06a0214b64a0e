"""The training objectives (bce, focal, kl) as per-element values and gradients on logits.

There is no new formula here: values and gradients are :mod:`bcelab._core.formulas`, the same
lines behind :func:`bcelab.bce_with_logits`, :func:`bcelab.focal_with_logits`,
:func:`bcelab.binary_kl` and :func:`bcelab.bce_with_logits_grad`.  The trainer validates
the data once with the public functions and then calls these unvalidated forms
once per batch (the validation would cost more than the whole step).

``kl`` is BCE minus the floor :math:`H(y)`: the same gradient as BCE, a value that is
0 at a perfect prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from .._core import formulas
from .._core.options import check_choice, check_focal
from ..information import binary_kl
from ..losses import bce_with_logits, focal_with_logits

__all__ = ["LOSSES", "Objective", "fast_torch"]

LOSSES = ("bce", "focal", "kl")

Tensor = Any


class _FastTorch:
    """The array_api_compat torch namespace, with ``minimum``/``maximum`` against a Python
    number as one ``clamp`` each, and ``where`` with a Python number as ``torch.where``.

    The compat wrappers turn the scalar into a tensor and check the promotion on every
    call (about 10 us, more than the operation on a batch of 32); ``torch.clamp_max(x, c)``
    returns the same values as ``torch.minimum(x, tensor(c))``, NaN and signed zeros
    included (tested), and ``torch.where`` keeps the tensor's dtype against a Python
    number, as the standard's ``where`` does.  Every other name is the compat namespace's
    own.
    """

    def __init__(self) -> None:
        import torch  # optional dependency (bcelab[train])
        from array_api_compat import torch as compat  # loads torch: only with torch

        self._compat, self._torch = compat, torch

    def minimum(self, x: Tensor, c: Any) -> Tensor:
        if isinstance(c, float | int):
            return self._torch.clamp_max(x, c)
        return self._compat.minimum(x, c)

    def maximum(self, x: Tensor, c: Any) -> Tensor:
        if isinstance(c, float | int):
            return self._torch.clamp_min(x, c)
        return self._compat.maximum(x, c)

    def where(self, cond: Tensor, a: Any, b: Any) -> Tensor:
        if isinstance(a, float) or isinstance(b, float):
            return self._torch.where(cond, a, b)
        return self._compat.where(cond, a, b)

    def exp(self, x: Tensor) -> Tensor:
        return self._torch.exp(x)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._compat, name)


_FAST: list[_FastTorch] = []
_SCALAR: list[Any] = []


def _scalar_torch() -> Any:
    """Only what :func:`bcelab._core.formulas.sigmoid` calls: ``where`` (against the Python
    number 0.0) and ``exp``, as torch's own functions (no wrapper frame at all, for the
    per-batch gradient)."""
    if not _SCALAR:
        import torch  # optional dependency (bcelab[train])

        _SCALAR.append(SimpleNamespace(where=torch.where, exp=torch.exp))
    return _SCALAR[0]


def fast_torch() -> Any:
    """The shared :class:`_FastTorch` namespace (created on first use)."""
    if not _FAST:
        _FAST.append(_FastTorch())
    return _FAST[0]


@dataclass(frozen=True)
class Objective:
    """One of :data:`LOSSES`; ``gamma`` is the focal exponent."""

    name: str = "bce"
    gamma: float = 2.0

    def __post_init__(self) -> None:
        check_choice(
            self.name,
            LOSSES,
            name="loss",
            fname="Objective",
            hint="pass loss='bce' (the default), 'focal' or 'kl'",
        )
        check_focal(self.gamma, None, fname="Objective")

    def values(self, z: Tensor, y: Tensor, *, finite: bool = False) -> Tensor:
        """Per-element objective for logits ``z`` and (already smoothed) targets ``y``.

        ``finite=True`` (the caller checked that every logit is finite) lets the core
        share one ``log1p(exp(-|z|))`` between the two terms (``guard=False``): the
        same values, in about half the tensor operations.
        """
        xp = fast_torch()
        a, b = formulas.neglog_terms_logits(xp, z, y, guard=not finite)
        if self.name == "bce":
            return formulas.cross_entropy(y, a, b, None)
        if self.name == "kl":
            return formulas.kl(xp, y, a, b)
        return formulas.focal(
            xp,
            y,
            formulas.log_sigmoid(xp, z),
            formulas.log_sigmoid(xp, -z),
            a,
            b,
            float(self.gamma),
            None,
        )

    def grad(self, z: Tensor, y: Tensor) -> Tensor:
        """Per-element derivative of :meth:`values` with respect to the logits."""
        if self.name == "focal":
            return formulas.grad_focal_logits(fast_torch(), z, y, float(self.gamma), None)
        # kl = bce - H(y): the same gradient, from the one generic formula.
        return formulas.grad_logits(fast_torch(), z, y, None)

    @property
    def has_signed_grad(self) -> bool:
        """True when :meth:`grad_signed` applies (bce and kl; the targets must be 0/1)."""
        return self.name in ("bce", "kl")

    def grad_signed(self, z: Tensor, s: Tensor) -> Tensor:
        r""":meth:`grad` for hard targets, given ``s = 1 - 2y`` (+1 for y = 0, -1 for y = 1).

        The core's gradient :math:`(1-y)\,\sigma(z) - y\,\sigma(-z)` has one term
        that is an exact 0 when :math:`y \in \{0, 1\}`, so it equals
        :math:`s\,\sigma(s z)` bit for bit (negation is exact): the same
        :func:`bcelab._core.formulas.sigmoid`, evaluated once instead of twice, in 9 tensor
        operations instead of 20 (tested against :meth:`grad` for every float32 edge case).
        """
        return formulas.sigmoid(_scalar_torch(), z * s).mul_(s)

    def public(self, z: Tensor, y: Tensor) -> Tensor:
        """The mean objective through bcelab's public, validated functions (autograd path)."""
        if self.name == "bce":
            return bce_with_logits(z, y, reduction="mean")
        if self.name == "kl":
            return binary_kl(z, y, logits=True, reduction="mean")
        return focal_with_logits(z, y, gamma=float(self.gamma), reduction="mean")


def bce_parts(z: Tensor, y: Tensor, *, finite: bool = False) -> tuple[Tensor, Tensor]:
    """Per-element ``(BCE, KL)`` for reporting floor + excess (``finite`` as in ``values``)."""
    xp = fast_torch()
    a, b = formulas.neglog_terms_logits(xp, z, y, guard=not finite)
    return formulas.cross_entropy(y, a, b, None), formulas.kl(xp, y, a, b)


def entropy(y: Tensor) -> Tensor:
    """Per-element floor ``H(y)``."""
    return formulas.entropy(fast_torch(), y)
