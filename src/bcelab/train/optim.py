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

from .._core.options import check_choice
from .checks import check_lr, check_momentum

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
        check_choice(
            self.name,
            OPTIMIZERS,
            name="optimizer",
            fname="Optimizer",
            hint="pass optimizer='sgd' or optimizer='adam'",
        )
        check_lr(self.lr, fname="Optimizer", example=0.01)
        check_momentum(self.momentum, fname="Optimizer")

    def init_state(self, params: Sequence[Tensor]) -> dict[str, Any]:
        import torch  # optional dependency (bcelab[train])

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
