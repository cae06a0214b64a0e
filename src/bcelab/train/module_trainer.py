"""Training any ``torch.nn.Module`` that outputs logits (one seed, autograd).

The loss is the public, validated :func:`bcelab.bce_with_logits` (or ``focal``/``kl``)
with ``reduction="mean"``, differentiated by autograd.  Batching, shuffling and the
optimiser are the same as for the built-in MLP; the seed sets the shuffles and
``torch``'s generator (used by dropout and the like), whose state a checkpoint keeps.
"""

from __future__ import annotations

import copy
from typing import Any

from . import rng
from .objectives import Objective
from .optim import Optimizer

__all__ = ["ModuleTrainer"]

Tensor = Any


class ModuleTrainer:
    """Minibatch training of one module; the same interface as
    :class:`~bcelab.train.mlp.batched.BatchedMLP` (one seed)."""

    def __init__(
        self,
        module: Any,
        seed: int,
        x: Tensor,
        y: Tensor,
        *,
        batch_size: int,
        objective: Objective,
        optimizer: Optimizer,
        predict_batch: int = 4096,
    ) -> None:
        import torch  # optional dependency (bcelab[train])

        self.module, self.seeds = module, [int(seed)]
        self.x, self.y = x, y
        self.batch_size, self.objective, self.optimizer = batch_size, objective, optimizer
        self.predict_batch = predict_batch
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.opt_state = optimizer.init_state([p.detach() for p in self.params])
        self.gen_state = torch.Generator().manual_seed(int(seed)).get_state()

    @property
    def n_seeds(self) -> int:
        return 1

    def predict(self, x: Tensor) -> Tensor:
        import torch  # optional dependency (bcelab[train])

        was = self.module.training
        self.module.eval()
        try:
            with torch.no_grad():
                parts = [
                    self.module(x[i : i + self.predict_batch])
                    for i in range(0, x.shape[0], self.predict_batch)
                ]
        finally:
            self.module.train(was)
        return torch.cat(parts).unsqueeze(0)

    def train_epoch(self, epoch: int) -> tuple[Tensor, Tensor]:
        import torch  # optional dependency (bcelab[train])

        perm = torch.from_numpy(rng.permutations(self.seeds, epoch=epoch, n=self.x.shape[0])[0])
        xs, ys = self.x[perm], self.y[perm]
        zs = []
        self.module.train()
        old = torch.get_rng_state()
        torch.set_rng_state(self.gen_state)
        try:
            for i in range(0, xs.shape[0], self.batch_size):
                xb, yb = xs[i : i + self.batch_size], ys[i : i + self.batch_size]
                z = self.module(xb)
                loss = self.objective.public(z, yb)
                for p in self.params:
                    p.grad = None
                loss.backward()
                with torch.no_grad():
                    self.optimizer.step(
                        [p.detach() for p in self.params],
                        [
                            p.grad if p.grad is not None else torch.zeros_like(p)
                            for p in self.params
                        ],
                        self.opt_state,
                    )
                zs.append(z.detach())
            self.gen_state = torch.get_rng_state()
        finally:
            torch.set_rng_state(old)
        return torch.cat(zs).unsqueeze(0), ys.unsqueeze(0)

    def get_state(self) -> dict[str, Any]:
        return {
            "module": copy.deepcopy(self.module.state_dict()),
            "opt": {
                k: ([t.clone() for t in v] if isinstance(v, list) else v)
                for k, v in self.opt_state.items()
            },
            "torch_rng": self.gen_state.clone(),
        }

    def set_state(self, st: dict[str, Any]) -> None:
        self.module.load_state_dict(st["module"])
        self.opt_state = {
            k: ([t.clone() for t in v] if isinstance(v, list) else v) for k, v in st["opt"].items()
        }
        self.gen_state = st["torch_rng"].clone()

    def model_state(self) -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in self.module.state_dict().items()}
