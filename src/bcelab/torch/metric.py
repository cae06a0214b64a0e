"""The streaming, ``torch.distributed``-aware metric :class:`StreamingBinaryMetrics`."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from .._core.options import check_bool
from ..errors import OptionError
from ..metrics import BinaryMetrics, BinaryStats
from ..metrics.compute import check_calibration_bins, check_threshold
from ..metrics.stats import LOGITS_HINT
from .common import FRAMEWORK, call_core, check_tensors

__all__ = ["StreamingBinaryMetrics"]

_REDUCE = {"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX}


class StreamingBinaryMetrics:
    """Streaming evaluation metrics for PyTorch, backed by :class:`bcelab.metrics.BinaryStats`.

    ``update(preds, target, weight=None)`` adds a batch (any shape; every element is one
    row; ``preds`` are probabilities, or logits with ``logits=True``), ``compute()``
    returns the result, a :class:`bcelab.metrics.BinaryMetrics` (log loss, floor and
    excess, NE, calibration errors, AUC, accuracy with the tie rule ``p >= threshold``).
    ``reset()`` empties the state and ``merge(other)`` adds the rows of another metric;
    both change this object in place, like ``update``.  ``kernel`` is passed to
    ``BinaryStats`` (``"numpy"`` avoids the numba kernel's compile time).

    The state has a fixed size (no prediction is kept), so in data-parallel training
    :meth:`synced_stats` all-reduces it across the processes of a ``torch.distributed``
    group (sum, min or max per array, as ``BinaryStats.REDUCE_OPS`` says).  ``compute()``
    syncs automatically when a process group is initialised; the local state is left
    unchanged, so ``compute()`` can be called every epoch.

    >>> import torch
    >>> m = StreamingBinaryMetrics()
    >>> _ = m.update(torch.tensor([0.9, 0.2, 0.6]), torch.tensor([1, 0, 1]))
    >>> round(m.compute().log_loss, 6)
    0.279777
    """

    where = "bcelab.torch.StreamingBinaryMetrics"

    def __init__(
        self,
        *,
        logits: bool = False,
        threshold: float = 0.5,
        n_calibration_bins: int = 15,
        process_group: Any = None,
        kernel: str = "auto",
    ) -> None:
        # checked here, not at the first compute() after an epoch of updates
        call_core(self.where, check_threshold, threshold)
        self.kernel = kernel
        self.logits = check_bool(
            logits, name="logits", fname=f"{self.where} ({FRAMEWORK})", hint=LOGITS_HINT
        )
        self.threshold = float(threshold)
        self.n_calibration_bins = call_core(self.where, check_calibration_bins, n_calibration_bins)
        self.process_group = process_group
        self.stats = self._empty_stats()

    def _empty_stats(self) -> BinaryStats:
        return call_core(self.where, BinaryStats, kernel=self.kernel)

    def update(
        self, preds: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> StreamingBinaryMetrics:
        """Add a batch; returns ``self``.  Tensors are detached and copied to the CPU."""
        check_tensors(self.where, preds=preds, target=target, weight=weight)
        if preds.dtype in (torch.float16, torch.bfloat16):
            preds = preds.float()
        with torch.no_grad():
            call_core(
                self.where,
                self.stats.update,
                preds.detach(),
                target.detach(),
                weights=None if weight is None else weight.detach(),
                logits=self.logits,
                strict=True,
            )
        return self

    def reset(self) -> None:
        """Forget every row (the options stay)."""
        self.stats = self._empty_stats()

    def merge(self, other: StreamingBinaryMetrics) -> StreamingBinaryMetrics:
        """Add the rows of ``other`` to this metric, in place; returns ``self``."""
        if not isinstance(other, StreamingBinaryMetrics):
            raise OptionError(
                f"{self.where}.merge ({FRAMEWORK}): other must be a StreamingBinaryMetrics",
                f"received {type(other).__name__}",
                "pass another StreamingBinaryMetrics",
            )
        self.stats.merge(other.stats)
        return self

    def synced_stats(self) -> BinaryStats:
        """The state of every process of the group, all-reduced (a new ``BinaryStats``).

        Every process of the group must call it (it is a collective).  Without an
        initialised process group it returns a copy of the local state.
        """
        if not (dist.is_available() and dist.is_initialized()):
            return BinaryStats.from_arrays(self.stats.to_arrays())
        group = self.process_group
        device = torch.device("cpu")
        if dist.get_backend(group) == "nccl":  # pragma: no cover - needs GPUs
            device = torch.device("cuda", torch.cuda.current_device())
        arrays = self.stats.to_arrays()
        out = {}
        for key in sorted(BinaryStats.REDUCE_OPS):  # the same order on every rank
            t = torch.from_numpy(arrays[key]).to(device)
            dist.all_reduce(t, op=_REDUCE[BinaryStats.REDUCE_OPS[key]], group=group)
            out[key] = t.cpu().numpy()
        return BinaryStats.from_arrays(out)

    def compute(self, *, sync: bool | None = None) -> BinaryMetrics:
        """The metrics (:class:`bcelab.metrics.BinaryMetrics`); ``sync`` defaults to whether
        a process group is initialised."""
        if sync is None:
            sync = dist.is_available() and dist.is_initialized()
        stats = self.synced_stats() if sync else self.stats
        return call_core(
            self.where,
            stats.compute,
            threshold=self.threshold,
            n_calibration_bins=self.n_calibration_bins,
        )
