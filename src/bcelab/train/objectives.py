"""The training objectives (bce, focal, kl) as per-element values and gradients on logits.

There is no new formula here: values and gradients are :mod:`bcelab._math`, the same
lines behind :func:`bcelab.bce_with_logits`, :func:`bcelab.focal_with_logits`,
:func:`bcelab.binary_kl` and :func:`bcelab.bce_with_logits_grad`.  The trainer validates
the data once with the public functions and then calls these unvalidated forms
once per batch (the validation would cost more than the whole step).

``kl`` is BCE minus the floor :math:`H(y)`: the same gradient as BCE, a value that is
0 at a perfect prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import _math as M
from ..errors import OptionError

__all__ = ["LOSSES", "Objective"]

LOSSES = ("bce", "focal", "kl")

Tensor = Any


@dataclass(frozen=True)
class Objective:
    """One of :data:`LOSSES`; ``gamma`` is the focal exponent."""

    name: str = "bce"
    gamma: float = 2.0

    def __post_init__(self) -> None:
        if self.name not in LOSSES:
            raise OptionError(
                f"--loss must be one of {', '.join(LOSSES)}",
                f"received {self.name!r}",
                "use --loss bce (the default)",
            )
        if not 0.0 <= float(self.gamma) < float("inf"):
            raise OptionError(
                "focal gamma must be finite and >= 0",
                f"received {self.gamma!r}",
                "gamma=2 is the value from Lin et al. 2017",
            )

    def values(self, z: Tensor, y: Tensor) -> Tensor:
        """Per-element objective for logits ``z`` and (already smoothed) targets ``y``."""
        from array_api_compat import torch as xp

        a, b = M.neglog_terms_logits(xp, z, y)
        if self.name == "bce":
            return M.cross_entropy(y, a, b, None)
        if self.name == "kl":
            return M.kl(xp, y, a, b)
        return M.focal(
            xp,
            y,
            M.log_sigmoid(xp, z),
            M.log_sigmoid(xp, -z),
            a,
            b,
            float(self.gamma),
            None,
        )

    def grad(self, z: Tensor, y: Tensor) -> Tensor:
        """Per-element derivative of :meth:`values` with respect to the logits."""
        if self.name == "focal":
            from array_api_compat import torch as xp

            return M.grad_focal_logits(xp, z, y, float(self.gamma), None)
        # kl = bce - H(y): the same gradient, from the one generic formula.
        from array_api_compat import torch as xp_compat

        return M.grad_logits(xp_compat, z, y, None)

    def public(self, z: Tensor, y: Tensor) -> Tensor:
        """The mean objective through bcelab's public, validated functions (autograd path)."""
        import bcelab

        if self.name == "bce":
            return bcelab.bce_with_logits(z, y, reduction="mean", axis=_all_axes(z))
        if self.name == "kl":
            return bcelab.binary_kl(y, z, logits=True, reduction="mean", axis=_all_axes(z))
        return bcelab.focal_with_logits(
            z, y, gamma=float(self.gamma), reduction="mean", axis=_all_axes(z)
        )


def _all_axes(z: Tensor) -> tuple[int, ...]:
    return tuple(range(z.ndim))


def bce_parts(z: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Per-element ``(BCE, KL)`` for reporting floor + excess."""
    from array_api_compat import torch as xp

    a, b = M.neglog_terms_logits(xp, z, y)
    return M.cross_entropy(y, a, b, None), M.kl(xp, y, a, b)


def entropy(y: Tensor) -> Tensor:
    """Per-element floor ``H(y)``."""
    from array_api_compat import torch as xp

    return M.entropy(xp, y)
