"""PyTorch adapter: bcelab's losses as ``nn.Module`` objects and a distributed metric.

Each loss is a thin ``nn.Module`` around a core function (:func:`bcelab.bce_with_logits`,
:func:`bcelab.bce`, :func:`bcelab.binary_kl`, :func:`bcelab.focal_with_logits`): it holds
the options, calls the core on the tensors it receives and returns the result in the
input's floating dtype (float32 for float16/bfloat16/float32 inputs).  There are no
numerics here.

What differs from ``torch.nn.BCEWithLogitsLoss`` / ``BCELoss``:

* infinite logits give the exact limit (0 or inf) instead of NaN;
* targets outside [0, 1], NaN, probabilities outside [0, 1] and shape mismatches raise a
  :class:`bcelab.BCELabError` subclass naming PyTorch, before any torch error;
* float16/bfloat16 inputs are computed in float32 (float32 in float64), so the losses
  work under ``torch.autocast``, where ``nn.BCELoss`` refuses to run;
* ``label_smoothing`` is available (Keras/optax convention ``y (1 - s) + s/2``).

Value checks need concrete values: under ``torch.compile``, ``torch.func.vmap`` and
``torch.func.grad`` the core skips them (:func:`bcelab._backend.is_traced`); shape and
dtype checks still run.  Call the module once eagerly, or :func:`check_inputs`, to get
the value checks.

>>> import torch
>>> loss = BCELoss()
>>> round(float(loss(torch.tensor([0.0, float("inf")]), torch.tensor([1.0, 1.0]))), 6)
0.346574
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from . import losses as _losses
from .errors import BCELabError, DTypeError, OptionError
from .information import binary_kl
from .losses import bce, bce_with_logits, focal_with_logits

__all__ = ["BCELoss", "BinaryKLLoss", "BinaryMetrics", "FocalLoss", "check_inputs"]

FRAMEWORK = "PyTorch"


def _renamed(err: BCELabError, where: str) -> BCELabError:
    """The same error class and message, prefixed with the adapter (and framework) name."""
    return type(err)(f"{where} ({FRAMEWORK}): {err.expected}", err.received, err.fix)


def _call(where: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except BCELabError as e:
        raise _renamed(e, where) from None


def _check_tensors(where: str, *tensors: object) -> None:
    for t in tensors:
        if t is not None and not isinstance(t, torch.Tensor):
            raise DTypeError(
                f"{where} ({FRAMEWORK}): inputs must be torch tensors",
                f"received {type(t).__name__}",
                "wrap them with torch.as_tensor(...)",
            )


def _out_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def check_inputs(input: torch.Tensor, target: torch.Tensor, /, *, from_logits: bool = True) -> None:
    """Run bcelab's shape, dtype and value checks eagerly (e.g. before a compiled step).

    >>> import torch
    >>> check_inputs(torch.zeros(3), torch.tensor([0.0, 1.0, 2.0]))
    Traceback (most recent call last):
    ...
    bcelab.errors.DomainError: bcelab.torch.check_inputs (PyTorch): bce_with_logits: targets ...
    """
    where = "bcelab.torch.check_inputs"
    _check_tensors(where, input, target)
    fname = "bce_with_logits" if from_logits else "bce"
    with torch.no_grad():
        _call(
            where,
            _losses.prepare,
            input.detach(),
            target.detach(),
            fname=fname,
            probs=not from_logits,
            nan_policy="raise",
        )


class _Loss(nn.Module):
    """Common options: reduction and label smoothing, checked at construction."""

    name = "loss"

    def __init__(self, *, reduction: str, label_smoothing: float) -> None:
        super().__init__()
        where = f"bcelab.torch.{type(self).__name__}"
        _call(where, _losses.check_reduction, reduction, fname=where)
        ls = float(label_smoothing)
        if not 0.0 <= ls <= 1.0:
            raise OptionError(
                f"{where} ({FRAMEWORK}): label_smoothing must lie in [0, 1]",
                f"received {label_smoothing!r}",
                "use e.g. label_smoothing=0.1",
            )
        self.reduction = reduction
        self.label_smoothing = ls

    @property
    def where(self) -> str:
        return f"bcelab.torch.{type(self).__name__}"

    def _finish(self, out: torch.Tensor, input: torch.Tensor) -> torch.Tensor:
        return out.to(_out_dtype(input))

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, label_smoothing={self.label_smoothing}"


class BCELoss(_Loss):
    r"""Binary cross-entropy, exact and stable, as a drop-in for ``nn.BCEWithLogitsLoss``.

    .. math::

        \ell(x, y) = w_+\, y \operatorname{softplus}(-x) + (1 - y) \operatorname{softplus}(x)

    Args:
        from_logits: ``True`` (default): inputs are logits (:func:`bcelab.bce_with_logits`);
            ``False``: probabilities (:func:`bcelab.bce`, exact, no hidden epsilon).
        pos_weight: a number, a tensor with one weight per label (last axis) or of the
            inputs' shape; kept as a buffer so ``.to(device)`` moves it.
        label_smoothing: s in [0, 1]; targets become ``y (1 - s) + s/2``.
        reduction: ``"mean"`` (default), ``"sum"``, ``"none"``, ``"weighted_mean"`` or
            ``"per_sample"``, as :func:`bcelab.reduce`.
        convention: ``"exact"`` or a framework's formula (:mod:`bcelab.conventions`).
        clip: optional eps for probabilities (``from_logits=False`` only).

    ``forward(input, target, weight=None)``: ``weight`` has the inputs' shape or a leading
    part of it (one weight per sample).
    """

    def __init__(
        self,
        *,
        from_logits: bool = True,
        pos_weight: torch.Tensor | float | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
        convention: str = "exact",
        clip: float | None = None,
    ) -> None:
        super().__init__(reduction=reduction, label_smoothing=label_smoothing)
        self.from_logits = bool(from_logits)
        self.convention = convention
        self.clip = clip
        if clip is not None and self.from_logits:
            raise OptionError(
                f"{self.where} ({FRAMEWORK}): clip applies to probabilities only",
                "received clip with from_logits=True",
                "drop clip: the logits form needs none",
            )
        self.pos_weight_value: float | None = None
        self.pos_weight: torch.Tensor | None
        if isinstance(pos_weight, torch.Tensor):
            self.register_buffer("pos_weight", pos_weight)
        else:
            self.register_buffer("pos_weight", None)
            self.pos_weight_value = None if pos_weight is None else float(pos_weight)

    def forward(
        self, input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        _check_tensors(self.where, input, target, weight)
        pw = self.pos_weight if self.pos_weight is not None else self.pos_weight_value
        common = dict(
            pos_weight=pw,
            label_smoothing=self.label_smoothing,
            convention=self.convention,
            reduction=self.reduction,
            weights=weight,
        )
        if self.from_logits:
            out = _call(self.where, bce_with_logits, input, target, **common)
        else:
            out = _call(self.where, bce, input, target, clip=self.clip, **common)
        return self._finish(out, input)

    def extra_repr(self) -> str:
        return f"from_logits={self.from_logits}, {super().extra_repr()}"


class BinaryKLLoss(_Loss):
    r"""BCE minus its floor: :math:`\mathrm{KL}(y \| p)`, same gradient as BCE, 0 at a perfect fit.

    .. math::

        \mathrm{KL}(y \,\|\, p) = \mathrm{BCE}(y, p) - H(y)

    Calls :func:`bcelab.binary_kl`.  Use it when soft targets (autoencoders, distillation)
    should report 0 at a perfect reconstruction.
    """

    def __init__(
        self, *, from_logits: bool = True, label_smoothing: float = 0.0, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction=reduction, label_smoothing=label_smoothing)
        self.from_logits = bool(from_logits)

    def forward(
        self, input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        _check_tensors(self.where, input, target, weight)
        out = _call(
            self.where,
            binary_kl,
            target,
            input,
            logits=self.from_logits,
            label_smoothing=self.label_smoothing,
            reduction=self.reduction,
            weights=weight,
        )
        return self._finish(out, input)


class FocalLoss(_Loss):
    r"""Sigmoid focal loss (Lin et al. 2017) from logits, via :func:`bcelab.focal_with_logits`.

    .. math::

        \ell = \alpha_t (1 - p_t)^\gamma\, \mathrm{BCE}(x, y)

    The modulating factor is computed in log space, so gradients stay finite for every
    finite logit and every ``gamma >= 0``.
    """

    def __init__(
        self,
        *,
        gamma: float = 2.0,
        alpha: float | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=reduction, label_smoothing=label_smoothing)
        self.gamma = float(gamma)
        self.alpha = alpha

    def forward(
        self, input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        _check_tensors(self.where, input, target, weight)
        out = _call(
            self.where,
            focal_with_logits,
            input,
            target,
            gamma=self.gamma,
            alpha=self.alpha,
            label_smoothing=self.label_smoothing,
            reduction=self.reduction,
            weights=weight,
        )
        return self._finish(out, input)


_REDUCE = {"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX}


class BinaryMetrics:
    """Streaming evaluation metrics for PyTorch, backed by :class:`bcelab.metrics.BinaryStats`.

    ``update(preds, target, weight=None)`` adds a batch (any shape; every element is one
    row), ``compute()`` returns :class:`bcelab.metrics.BinaryMetrics` (log loss, floor and
    excess, NE, calibration errors, AUC, accuracy with the tie rule ``p >= threshold``),
    ``reset()`` empties the state and ``merge(other)`` combines two objects.  ``engine`` is
    passed to ``BinaryStats`` (``"numpy"`` avoids the numba kernel's compile time).  The state has
    a fixed size (no prediction is kept), so in data-parallel training
    :meth:`synced_stats` all-reduces it across the processes of a ``torch.distributed``
    group (sum, min or max per array, as ``BinaryStats.REDUCE_OPS`` says).  ``compute()``
    syncs automatically when a process group is initialised; the local state is left
    unchanged, so ``compute()`` can be called every epoch.

    >>> import torch
    >>> m = BinaryMetrics()
    >>> _ = m.update(torch.tensor([0.9, 0.2, 0.6]), torch.tensor([1, 0, 1]))
    >>> round(m.compute().log_loss, 6)
    0.279777
    """

    def __init__(
        self,
        *,
        from_logits: bool = False,
        threshold: float = 0.5,
        n_calibration_bins: int = 15,
        process_group: Any = None,
        engine: str = "auto",
    ) -> None:
        from .metrics import BinaryStats

        self.engine = engine
        self.from_logits = bool(from_logits)
        self.threshold = float(threshold)
        self.n_calibration_bins = int(n_calibration_bins)
        self.process_group = process_group
        self.stats = _call(self.where, BinaryStats, engine=engine)

    where = "bcelab.torch.BinaryMetrics"

    def update(
        self, preds: torch.Tensor, target: torch.Tensor, /, weight: torch.Tensor | None = None
    ) -> BinaryMetrics:
        """Add a batch; returns ``self``.  Tensors are detached and copied to the CPU."""
        _check_tensors(self.where, preds, target, weight)
        if preds.dtype in (torch.float16, torch.bfloat16):
            preds = preds.float()
        with torch.no_grad():
            _call(
                self.where,
                self.stats.update,
                target.detach(),
                preds.detach(),
                weights=None if weight is None else weight.detach(),
                logits=self.from_logits,
                strict=True,
            )
        return self

    def reset(self) -> None:
        from .metrics import BinaryStats

        self.stats = _call(self.where, BinaryStats, engine=self.engine)

    def merge(self, other: BinaryMetrics) -> BinaryMetrics:
        """A new object holding the rows of ``self`` and ``other``."""
        if not isinstance(other, BinaryMetrics):
            raise OptionError(
                f"{self.where}.merge ({FRAMEWORK}): other must be a BinaryMetrics",
                f"received {type(other).__name__}",
                "pass another BinaryMetrics",
            )
        out = BinaryMetrics(
            from_logits=self.from_logits,
            threshold=self.threshold,
            n_calibration_bins=self.n_calibration_bins,
            process_group=self.process_group,
            engine=self.engine,
        )
        out.stats = self.stats.merge(other.stats)
        return out

    def synced_stats(self) -> Any:
        """The state of every process of the group, all-reduced (a new ``BinaryStats``).

        Every process of the group must call it (it is a collective).  Without an
        initialised process group it returns a copy of the local state.
        """
        from .metrics import BinaryStats

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

    def compute(self, *, sync: bool | None = None) -> Any:
        """The metrics (:class:`bcelab.metrics.BinaryMetrics`); ``sync`` defaults to whether
        a process group is initialised."""
        if sync is None:
            sync = dist.is_available() and dist.is_initialized()
        stats = self.synced_stats() if sync else self.stats
        return _call(
            self.where,
            stats.compute,
            threshold=self.threshold,
            n_calibration_bins=self.n_calibration_bins,
        )
