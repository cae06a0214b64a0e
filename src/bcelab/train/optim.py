"""SGD with momentum and Adam, with Keras's update rules, on lists of tensors.

The state is a plain dict of tensors and numbers, so it goes into a checkpoint
(``torch.load(..., weights_only=True)``) and a resumed run continues bit for bit.
Constructing ``torch.optim.SGD`` costs about a second in a fresh process; these
functions cost nothing to set up and work on the flat ``(S, P)`` weights of all seeds.

SGD (Keras): :math:`v \\leftarrow \\mu v - \\eta g,\\; w \\leftarrow w + v` (equal to
torch's ``buf = mu buf + g; w -= lr buf`` for a constant learning rate).

Adam (Keras): :math:`m \\leftarrow m + (1-\\beta_1)(g - m)`,
:math:`v \\leftarrow v + (1-\\beta_2)(g^2 - v)`,
:math:`w \\leftarrow w - \\eta \\frac{\\sqrt{1-\\beta_2^t}}{1-\\beta_1^t} \\frac{m}{\\sqrt{v} + \\epsilon}`
with :math:`\\epsilon = 10^{-7}`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import OptionError

__all__ = ["OPTIMIZERS", "Optimizer"]

OPTIMIZERS = ("sgd", "adam")

Tensor = Any


@dataclass(frozen=True)
class Optimizer:
    """``name`` is ``"sgd"`` or ``"adam"``; ``momentum`` applies to SGD only."""

    name: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise OptionError(
                f"--optimizer must be one of {', '.join(OPTIMIZERS)}",
                f"received {self.name!r}",
                "use --optimizer sgd or --optimizer adam",
            )
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise OptionError(
                "the learning rate must be a finite number > 0",
                f"received lr={self.lr!r}",
                "use e.g. --lr 0.01",
            )
        if not 0.0 <= self.momentum < 1.0:
            raise OptionError(
                "momentum must lie in [0, 1)",
                f"received {self.momentum!r}",
                "use e.g. --momentum 0.9, or 0 for plain SGD",
            )

    def init_state(self, params: Sequence[Tensor]) -> dict[str, Any]:
        import torch

        if self.name == "sgd":
            return {"t": 0, "velocity": [torch.zeros_like(p) for p in params]}
        return {
            "t": 0,
            "m": [torch.zeros_like(p) for p in params],
            "v": [torch.zeros_like(p) for p in params],
        }

    def step(
        self,
        params: Sequence[Tensor],
        grads: Sequence[Tensor],
        state: dict[str, Any],
        *,
        scale: float = 1.0,
    ) -> None:
        """Update ``params`` in place (no autograd) from the gradients ``scale * grads``.

        SGD folds ``scale`` (e.g. 1 / batch size) into its step size, which saves one
        tensor operation per step; Adam scales the gradient first.
        """
        state["t"] += 1
        if self.name == "sgd":
            lr = self.lr * scale
            if self.momentum == 0.0:
                for p, g in zip(params, grads, strict=True):
                    p.sub_(g, alpha=lr)
                return
            for p, g, v in zip(params, grads, state["velocity"], strict=True):
                v.mul_(self.momentum).sub_(g, alpha=lr)
                p.add_(v)
            return
        t = state["t"]
        lr_t = self.lr * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
        for p, g, m, v in zip(params, grads, state["m"], state["v"], strict=True):
            if scale != 1.0:
                g = g * scale
            m.add_(g.sub(m), alpha=1.0 - self.beta_1)
            v.add_(g.square().sub_(v), alpha=1.0 - self.beta_2)
            p.sub_(m.div(v.sqrt().add_(self.epsilon)), alpha=lr_t)
