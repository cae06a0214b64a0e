"""The data side of a :class:`~.batched.BatchedMLP` epoch: every seed's shuffle, gathered
into per-batch buffers that the steps read as views.

The epoch's shuffled inputs ``[x, 1]^T`` (feature-major, each batch contiguous) and
targets are gathered into fixed buffers; every batch is a view of those buffers, so a
step creates no tensors besides the few the arithmetic returns.  With the prefetch on
(many seeds), epochs alternate between two such plans: the helper thread fills one
with the next epoch's data while the other trains.  The hidden activations and
gradient buffers are shared by both.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from .. import rng
from ..alloc import on_helper, spare_core

__all__ = ["PREFETCH_MIN", "EpochPlans"]

Tensor = Any

#: prefetch the next epoch's shuffles from this many shuffled indices per epoch on
PREFETCH_MIN = 8192


class EpochPlans:
    """Per-batch buffers and views for ``seeds`` over the data ``x (N, D)``.

    ``targets`` are what the gradient reads (``1 - 2y`` for hard targets, else ``y``);
    ``y`` is returned per epoch for the metrics.  ``layer_sizes`` are the model's
    ``(n_in, n_out)`` per layer; ``rows`` is the padded row count of ``[x, 1]^T g``
    (the factored step's contraction).
    """

    def __init__(
        self,
        seeds: Sequence[int],
        x: Tensor,
        y: Tensor,
        targets: Tensor,
        *,
        batch_size: int,
        layer_sizes: Sequence[tuple[int, int]],
        rows: int,
    ) -> None:
        self.seeds = [int(s) for s in seeds]
        self.n_seeds = len(self.seeds)
        self.n, self.n_in, self.n_out = int(x.shape[0]), int(x.shape[1]), int(y.shape[1])
        self.y, self.targets = y, targets
        self.device = x.device
        self.xcols = [x[:, d].contiguous() for d in range(self.n_in)]  # gathered per epoch
        self.batch_size, self.layer_sizes, self.rows = batch_size, list(layer_sizes), rows
        self.plans: list[dict[str, Any] | None] = [None, None]  # see build
        self.by_size: dict[int, dict[str, Any]] = {}
        self.next: tuple[int, Any] | None = None  # (epoch, future of its filled plan)
        self.perm_block: tuple[int, Any] = (0, ())  # (first epoch, its shuffles)

    def build(self, parity: int = 0) -> dict[str, Any]:
        """Plan ``parity`` (0 or 1): built once, reused by every other epoch."""
        import torch  # optional dependency (bcelab[train])

        plan = self.plans[parity]
        if plan is not None:
            return plan
        s, n, bs = self.n_seeds, self.n, self.batch_size
        e = functools.partial(torch.empty, device=self.device)
        ts = e(s, self.n_out, n)  # shuffled 1 - 2y (hard targets) or y, transposed
        # [x, 1]^T of every batch, each contiguous (torch.bmm falls back to one GEMM per
        # seed for strided batches): full batches in one block, the last partial one apart
        nfull, rest = divmod(n, bs)
        xfull = e(nfull, s, self.n_in + 1, bs)
        xrest = e(s, self.n_in + 1, rest) if rest else None
        xfull[:, :, self.n_in, :] = 1.0  # the inputs' column of ones (the first bias)
        if xrest is not None:
            xrest[:, self.n_in, :] = 1.0
        steps = []
        for lo in range(0, n, bs):
            nb = min(bs, n - lo)
            b = self._buffers(nb)
            steps.append(
                {
                    "xat": xfull[lo // bs] if nb == bs else xrest,
                    "t": ts[:, :, lo : lo + nb],
                    "z": e(s, self.n_out, nb),  # this batch's logits (returned per epoch)
                    "out": b["out"],
                    "outT": [o.transpose(1, 2) for o in b["out"]],
                    "gin": b["gin"],
                    "xg": b["xg"],
                    "scale": 1.0 / (nb * self.n_out),
                }
            )
        plan = {"steps": steps, "xfull": xfull, "xrest": xrest, "ts": ts, "ys": None, "epoch": -1}
        self.plans[parity] = plan
        return plan

    def _buffers(self, nb: int) -> dict[str, Any]:
        """The activation and gradient buffers of a batch of ``nb`` (shared by both plans)."""
        import torch  # optional dependency (bcelab[train])

        if nb not in self.by_size:
            s, e = self.n_seeds, functools.partial(torch.empty, device=self.device)
            self.by_size[nb] = {
                "out": [e(s, o, nb) for _, o in self.layer_sizes[:-1]],  # hidden (after ReLU)
                "gin": [e(s, i, nb) for i, _ in self.layer_sizes],  # gradient w.r.t. inputs
                "xg": torch.zeros(
                    s, self.rows, nb, device=self.device
                ),  # [x, 1]^T g (the factored step)
            }
        return self.by_size[nb]

    def fill(self, epoch: int, plan: dict[str, Any]) -> dict[str, Any]:
        """Epoch ``epoch``'s shuffles applied, straight into ``plan``'s buffers: the
        inputs of every batch ``(S, D + 1, B)`` (one gather per feature; the row of ones
        is written when the plan is made), the gradient's targets ``(S, K, N)`` (1 - 2y
        or y) and, as a new tensor, the targets ``y (S, N, K)`` for the metrics."""
        import torch  # optional dependency (bcelab[train])

        s, n, bs = self.n_seeds, self.n, self.batch_size
        idx = torch.from_numpy(self.permutations(epoch)).to(self.device)  # (S, N)
        xfull, xrest = plan["xfull"], plan["xrest"]
        nfull = xfull.shape[0]
        full = idx[:, : nfull * bs].view(s, nfull, bs).transpose(0, 1).contiguous().view(-1)
        part = idx[:, nfull * bs :].contiguous().view(-1)
        sel = torch.index_select
        for d, col in enumerate(self.xcols):
            xfull[:, :, d, :].copy_(sel(col, 0, full).view(nfull, s, bs))
            if xrest is not None:
                xrest[:, d, :].copy_(sel(col, 0, part).view(s, -1))
        flat = idx.view(-1)
        if self.n_out == 1:
            sel(self.targets.view(-1), 0, flat, out=plan["ts"].view(-1))
        else:
            plan["ts"].copy_(sel(self.targets, 0, flat).view(s, n, -1).transpose(1, 2))
        plan["ys"], plan["epoch"] = sel(self.y, 0, flat).view(s, n, -1), epoch
        return plan

    def permutations(self, epoch: int) -> Any:
        """This epoch's shuffles, computed for up to 8 epochs at a time (fewer NumPy calls,
        each of which hands the GIL to the training thread and back)."""
        n = self.n
        first, block = self.perm_block
        if not first <= epoch < first + len(block):
            count = max(1, min(8, (1 << 22) // (8 * self.n_seeds * n)))  # <= 4 MB
            block = rng.permutations_of_epochs(self.seeds, epochs=range(epoch, epoch + count), n=n)
            first, self.perm_block = epoch, (epoch, block)
        return block[epoch - first]

    def for_epoch(self, epoch: int) -> dict[str, Any]:
        """A plan filled with epoch ``epoch``'s data (see :meth:`fill`).  With many
        seeds the next epoch's plan is filled meanwhile on the helper thread (NumPy's
        sort and torch's operations release the GIL), which takes the shuffles, gathers
        and layout copies off the critical path on a second core (on one core they are
        done here)."""
        nxt, self.next = self.next, None
        plan = nxt[1].result() if nxt is not None else None  # never left running
        prefetch = (
            self.n_seeds * self.n >= PREFETCH_MIN and self.device.type == "cpu" and spare_core()
        )
        if plan is None or plan["epoch"] != epoch:
            plan = self.fill(epoch, self.build(epoch % 2 if prefetch else 0))
        if prefetch:
            other = self.build((epoch + 1) % 2)
            self.next = (epoch + 1, on_helper(self.fill, epoch + 1, other))
        return plan
