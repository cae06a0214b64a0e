"""PyTorch adapter: bcelab's losses as ``nn.Module`` objects and a distributed metric.

Each loss is a thin ``nn.Module`` around a core function (:func:`bcelab.bce_with_logits`,
:func:`bcelab.bce`, :func:`bcelab.binary_kl`, :func:`bcelab.focal_with_logits`): it holds
the options, calls the core on the tensors it receives and returns the result in the
input's floating dtype (float32 for float16/bfloat16/float32 inputs).  There are no
numerics here.  In eager mode on the CPU, ``BCELoss`` with a float32/float64 contiguous
input and a mean/sum reduction hands the call to the core's fused kernel through a
``torch.autograd.Function`` (:mod:`bcelab._torch_autograd`): loss and gradient in one
pass, the same numbers; everything else (CUDA, autocast half inputs, ``torch.compile``,
``torch.func``, ``reduction="none"``, tensor ``pos_weight``, ...) runs the generic path.

What differs from ``torch.nn.BCEWithLogitsLoss`` / ``BCELoss``:

* infinite logits give the exact limit (0 or inf) instead of NaN;
* targets outside [0, 1], NaN, probabilities outside [0, 1] and shape mismatches raise a
  :class:`bcelab.BCELabError` subclass naming PyTorch, before any torch error;
* float16/bfloat16 inputs are computed in float32 (float32 in float64), so the losses
  work under ``torch.autocast``, where ``nn.BCELoss`` refuses to run;
* ``label_smoothing`` is available (Keras/optax convention ``y (1 - s) + s/2``).

Value checks need concrete values: under ``torch.compile``, ``torch.func.vmap`` and
``torch.func.grad`` the core skips them (:func:`bcelab._core.arrays.is_traced`); shape and
dtype checks still run.  Call the module once eagerly, or :func:`check_inputs`, to get
the value checks.

>>> import torch
>>> loss = BCELoss()
>>> round(float(loss(torch.tensor([0.0, float("inf")]), torch.tensor([1.0, 1.0]))), 6)
0.346574
"""

from __future__ import annotations

import torch
from torch import nn

from ._core.options import check_reduction
from ._core.prepare import prepare
from ._torch_autograd import fused_loss
from ._torch_common import FRAMEWORK, _call, _check_tensors
from ._torch_metrics import BinaryMetrics
from .errors import OptionError
from .information import binary_kl
from .losses import bce, bce_with_logits, focal_with_logits

__all__ = ["BCELoss", "BinaryKLLoss", "BinaryMetrics", "FocalLoss", "check_inputs"]


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
            prepare,
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
        _call(where, check_reduction, reduction, fname=where)
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
        fast = _call(
            self.where,
            fused_loss,
            input,
            target,
            weight,
            from_logits=self.from_logits,
            pos_weight=pw,
            label_smoothing=self.label_smoothing,
            reduction=self.reduction,
            convention=self.convention,
            clip=self.clip,
        )
        if fast is not None:  # eager CPU float32/float64: one fused kernel pass
            return fast
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
            input,
            target,
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
