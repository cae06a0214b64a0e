"""Many seeds as one computation: the MLP with a leading seed dimension on every weight.

For S seeds the weights of layer l are ``W (S, n_in, n_out)`` and ``b (S, 1, n_out)``,
views into one flat ``(S, P)`` tensor.  A step on a batch of B examples per seed is

.. math::

    h_1 = \\mathrm{relu}(x W_1 + b_1), \\; \\ldots, \\; z = h_L W_{L+1} + b_{L+1}
    \\quad \\text{(torch.baddbmm over the seed dimension)}

followed by the hand-written backward pass (``bmm`` with the transposes, ReLU masks
via ``threshold_backward``) from the loss gradient that :mod:`bcelab.train.objectives`
takes from :mod:`bcelab._math`, and one optimiser update of the flat tensor.  Each
seed has its own initial weights and its own shuffle every epoch
(:mod:`bcelab.train.rng`); nothing loops over seeds in Python.  A 1-seed run is the
same code with S = 1, which is also the fastest way to run one seed: about 15 tensor
operations per batch and no autograd bookkeeping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import models, rng
from .objectives import Objective
from .optim import Optimizer

__all__ = ["BatchedMLP"]

Tensor = Any


class BatchedMLP:
    """S independently initialised and shuffled copies of an :class:`~.models.MLPSpec`."""

    def __init__(
        self,
        spec: models.MLPSpec,
        seeds: Sequence[int],
        x: Tensor,
        y: Tensor,
        *,
        batch_size: int,
        objective: Objective,
        optimizer: Optimizer,
    ) -> None:
        import torch

        self.spec, self.seeds = spec, [int(s) for s in seeds]
        self.x, self.y = x, y  # (N, D), (N, K) float32
        self.n_in, self.n_out = int(x.shape[1]), int(y.shape[1])
        self.batch_size, self.objective, self.optimizer = batch_size, objective, optimizer
        init = models.init_flat(spec, self.seeds, self.n_in, self.n_out)
        self.flat = torch.from_numpy(init)
        self.gflat = torch.zeros_like(self.flat)
        self.layers = models.views(self.flat, spec, self.n_in, self.n_out)
        self.glayers = models.views(self.gflat, spec, self.n_in, self.n_out)
        self.opt_state = optimizer.init_state([self.flat])

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    def predict(self, x: Tensor) -> Tensor:
        """Logits ``(S, n, K)`` of every seed for the same inputs ``x (n, D)``."""
        import torch

        with torch.no_grad():
            a = x.unsqueeze(0).expand(self.n_seeds, *x.shape)
            last = len(self.layers) - 1
            for i, (w, b) in enumerate(self.layers):
                a = torch.baddbmm(b, a, w)
                if i < last:
                    a = a.relu_()
            return a

    def train_epoch(self, epoch: int) -> tuple[Tensor, Tensor]:
        """One epoch of minibatch steps; returns the pre-update logits and their targets."""
        import torch

        perm = torch.from_numpy(rng.permutations(self.seeds, epoch=epoch, n=self.x.shape[0]))
        xs, ys = self.x[perm], self.y[perm]  # (S, N, D), (S, N, K): one gather per epoch
        n, bs = xs.shape[1], self.batch_size
        zbuf = torch.empty(ys.shape, dtype=ys.dtype)
        layers, glayers = self.layers, self.glayers
        last = len(layers) - 1
        grad, step = self.objective.grad, self.optimizer.step
        params, grads, state = [self.flat], [self.gflat], self.opt_state
        bmm, baddbmm, sum_ = torch.bmm, torch.baddbmm, torch.sum
        relu_back = torch.ops.aten.threshold_backward
        with torch.no_grad():
            for i in range(0, n, bs):
                xb, yb = xs[:, i : i + bs], ys[:, i : i + bs]
                nb = xb.shape[1]
                acts = [xb]
                a = xb
                for li in range(last):
                    w, b = layers[li]
                    a = baddbmm(b, a, w).relu_()
                    acts.append(a)
                w, b = layers[last]
                z = baddbmm(b, a, w)
                zbuf[:, i : i + nb] = z
                g = grad(z, yb).div_(nb * self.n_out)  # d mean(loss) / dz
                for li in range(last, -1, -1):
                    gw, gb = glayers[li]
                    bmm(acts[li].transpose(1, 2), g, out=gw)
                    sum_(g, 1, keepdim=True, out=gb)
                    if li:
                        g = relu_back(bmm(g, layers[li][0].transpose(1, 2)), acts[li], 0.0)
                step(params, grads, state)
        return zbuf, ys

    def get_state(self) -> dict[str, Any]:
        return {"flat": self.flat.clone(), "opt": _clone(self.opt_state)}

    def set_state(self, st: dict[str, Any]) -> None:
        self.flat.copy_(st["flat"])
        self.opt_state = _clone(st["opt"])

    def model_state(self) -> dict[str, Any]:
        return models.state_dict(self.flat, self.spec, self.n_in, self.n_out)


def _clone(st: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in st.items():
        out[k] = [t.clone() for t in v] if isinstance(v, list) else v
    return out
