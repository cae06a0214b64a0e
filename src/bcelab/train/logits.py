"""The loop's trainer for models that output logits of the targets' shape.

The *engine* trains: :class:`~bcelab.train.mlp.batched.BatchedMLP` (the built-in MLP,
many seeds at once) or :class:`~bcelab.train.module_trainer.ModuleTrainer` (any
``torch.nn.Module``, one seed); both shuffle with bcelab's counter-based permutations
and step with its Keras-style optimisers.  :class:`LogitsTrainer` adds what the loop
reports: per epoch :func:`~bcelab.train.metrics.splits_metrics` of the epoch's training
logits (each batch's, before its update) and of the test split after the epoch; after
training, both splits evaluated again.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from .alloc import on_helper
from .metrics import MetricFn, splits_metrics
from .objectives import Objective
from .optim import Optimizer

__all__ = ["LogitsTrainer", "Splits"]

Tensor = Any
Row = dict[str, np.ndarray]


@dataclass(frozen=True)
class Splits:
    """Both splits as tensors (targets already smoothed) and what their metrics need.

    ``soft``: report ``bce``, ``floor`` and ``excess`` (the targets are soft, smoothed, or
    the loss is not bce), with ``floors[split]`` the split's mean :math:`H(y)`; ``hard``:
    every target is 0 or 1, so the accuracy is reported.
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    floors: dict[str, float]
    soft: bool
    hard: bool


class LogitsTrainer:
    """A BatchedMLP or ModuleTrainer ``engine`` with its per-epoch and final metrics.

    With ``pipelined=True`` (a BatchedMLP with many seeds) each epoch's test-set
    evaluation and metrics run on the helper thread, on a copy of the weights at the end
    of the epoch, while the next epoch trains.
    """

    loss_key = "train_loss"
    final_loss_key = "train_loss"

    def __init__(
        self,
        engine: Any,
        splits: Splits,
        *,
        objective: Objective,
        optimizer: Optimizer,
        config: dict[str, Any],
        metrics: Mapping[str, MetricFn] | None = None,
        pipelined: bool = False,
        files: Mapping[str, Any] | None = None,
    ) -> None:
        self.engine, self.splits = engine, splits
        self.seeds: list[int] = list(engine.seeds)
        self.objective, self.optimizer, self.config = objective, optimizer, config
        self.metrics, self.pipelined = metrics, pipelined
        self.files = dict(files or {})

    def train_epoch(self, epoch: int) -> tuple[Tensor, Tensor]:
        return self.engine.train_epoch(epoch)

    def evaluate(self, result: tuple[Tensor, Tensor]) -> Row | Future[Row]:
        z, ys = result
        if self.pipelined:
            return on_helper(self._row, z, ys, self.engine.weights())
        return self._row(z, ys, None)

    def _row(self, z: Tensor, ys: Tensor, weights: Tensor | None) -> Row:
        sp = self.splits
        if weights is None:
            zte = self.engine.predict(sp.x_test)
        else:
            zte = self.engine.predict(sp.x_test, flat=weights)
        return self._metrics(("train", z, ys), ("test", zte, sp.y_test))

    def _metrics(self, *parts: tuple[str, Tensor, Tensor]) -> Row:
        sp = self.splits
        return splits_metrics(
            [(split, z, y, sp.floors[split] if sp.soft else None) for split, z, y in parts],
            objective=self.objective,
            hard=sp.hard,
            extra=self.metrics,
            binary=not sp.soft,
        )

    def final_metrics(self) -> Row:
        sp, predict = self.splits, self.engine.predict
        return self._metrics(
            ("train", predict(sp.x_train), sp.y_train), ("test", predict(sp.x_test), sp.y_test)
        )

    def get_state(self) -> dict[str, Any]:
        return self.engine.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self.engine.set_state(state)

    def model_state(self) -> dict[str, Any]:
        return self.engine.model_state()

    def rng_state(self, next_epoch: int) -> dict[str, Any]:
        """The shuffles are a pure function of (seed, epoch): the next epoch is all there is."""
        return {"kind": "splitmix64-counter", "seeds": self.seeds, "next_epoch": next_epoch}

    def describe(self) -> str:
        return f"optimizer {self.optimizer.name}, lr {self.optimizer.lr:g}"

    def artifacts(self) -> dict[str, Any]:
        """``predictor.json`` for the built-in MLP on a table (what ``predict`` needs)."""
        return self.files

    def advice(self) -> str:
        return (
            f"try a smaller learning rate (e.g. lr={self.optimizer.lr / 10:g}), "
            "optimizer='adam', standardised features, or fewer epochs"
        )
