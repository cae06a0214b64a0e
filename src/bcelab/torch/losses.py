"""bcelab's losses as ``nn.Module`` objects, with torch's names and arguments.

Each class is a thin module around one core function: it holds the options, checks
them at construction, calls the core on the tensors it receives and returns the result
in the input's floating dtype (float32 for float16/bfloat16/float32 inputs).  There are
no numerics here.

======================================  ==========================================
bcelab.torch class                      core function
======================================  ==========================================
:class:`BCELoss` (probabilities)        :func:`bcelab.bce`
:class:`BCEWithLogitsLoss` (logits)     :func:`bcelab.bce_with_logits`
:class:`BinaryKLLoss`                   :func:`bcelab.binary_kl`
:class:`BinaryKLWithLogitsLoss`         :func:`bcelab.binary_kl` (``logits=True``)
:class:`FocalLoss`                      :func:`bcelab.focal`
:class:`FocalWithLogitsLoss`            :func:`bcelab.focal_with_logits`
======================================  ==========================================

In eager mode on the CPU, :class:`BCELoss` and :class:`BCEWithLogitsLoss` with a
float32/float64 contiguous input and a mean/sum reduction hand the call to the core's
fused kernel (:func:`bcelab.torch.autograd.fused_loss`): loss and gradient in one pass,
the same numbers; everything else runs the generic Array-API path.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from .._core.options import (
    check_clip,
    check_convention,
    check_focal,
    check_reduction,
    check_unit_interval,
)
from ..errors import ShapeError
from ..information import binary_kl
from ..losses import bce, bce_with_logits, focal, focal_with_logits
from .autograd import fused_loss
from .common import (
    FRAMEWORK,
    call_core,
    check_tensors,
    check_weight,
    check_weight_values,
    out_dtype,
    pos_weight_number,
)
from .fused import BackwardScale

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "BinaryKLLoss",
    "BinaryKLWithLogitsLoss",
    "FocalLoss",
    "FocalWithLogitsLoss",
]


def _broadcasts(small: tuple[int, ...], big: tuple[int, ...]) -> bool:
    """torch's broadcasting rule, one way: ``small`` stretches to ``big`` (trailing axes)."""
    if len(small) > len(big):
        return False
    return all(s in (1, b) for s, b in zip(reversed(small), reversed(big), strict=False))


def broadcast_to_input(where: str, name: str, t: torch.Tensor, input: torch.Tensor) -> torch.Tensor:
    """``t`` broadcast to the input's shape as torch does (trailing axes), explicitly."""
    if tuple(t.shape) == tuple(input.shape):
        return t  # the core's check describes it as it is
    if not _broadcasts(tuple(t.shape), tuple(input.shape)):
        raise ShapeError(
            f"{where} ({FRAMEWORK}): {name} must broadcast to the input's shape "
            f"{tuple(input.shape)} (torch broadcasting: trailing axes)",
            f"received {name} of shape {tuple(t.shape)}",
            f"give {name} the input's shape, or e.g. one value per column (the last axis)",
        )
    check_weight_values(where, name, t, input)
    return t.expand(input.shape)


class _Loss(nn.Module):
    """torch's shared arguments (``weight``, ``reduction``) and bcelab's label smoothing."""

    weight: torch.Tensor | None

    def __init__(
        self, weight: torch.Tensor | None, reduction: str, *, label_smoothing: float
    ) -> None:
        super().__init__()
        check_weight(self.where, weight)
        self.reduction = check_reduction(reduction, fname=self.fname)
        self.label_smoothing = check_unit_interval(
            label_smoothing, name="label_smoothing", fname=self.fname
        )
        self.register_buffer("weight", weight)

    @property
    def where(self) -> str:
        return f"bcelab.torch.{type(self).__name__}"

    @property
    def fname(self) -> str:
        """The prefix of option errors raised at construction."""
        return f"{self.where} ({FRAMEWORK})"

    def _weights(self, input: torch.Tensor) -> torch.Tensor | None:
        """``weight`` broadcast to the input's shape (contiguous: the fused kernel reads it)."""
        if self.weight is None:
            return None
        return broadcast_to_input(self.where, "weight", self.weight, input).contiguous()

    def _finish(self, out: torch.Tensor, input: torch.Tensor) -> torch.Tensor:
        return out.to(out_dtype(input))

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, label_smoothing={self.label_smoothing}"


class _CrossEntropy(_Loss):
    """BCE from probabilities or logits: the fused kernel when eligible, else the core."""

    logits: ClassVar[bool]
    pos_weight: torch.Tensor | None

    def __init__(
        self,
        weight: torch.Tensor | None,
        reduction: str,
        pos_weight: torch.Tensor | float | None,
        *,
        label_smoothing: float,
        convention: str,
        clip: float | None,
    ) -> None:
        super().__init__(weight, reduction, label_smoothing=label_smoothing)
        # what this loss's backward passes multiply by (a gradient-accumulation 1 / k):
        # the fused kernel writes the gradient with it when it repeats
        self._backward_scale = BackwardScale()
        self.convention = check_convention(convention, fname=self.fname)
        self.clip = check_clip(clip, fname=self.fname)
        self.pos_weight_value: float | None = None
        if isinstance(pos_weight, torch.Tensor):
            self.register_buffer("pos_weight", pos_weight)
        else:
            self.register_buffer("pos_weight", None)
            self.pos_weight_value = pos_weight_number(pos_weight, self.fname)

    def _pos_weights(self, input: torch.Tensor) -> torch.Tensor | float | None:
        """``pos_weight`` as a number, a 0-d tensor or a tensor of the input's shape."""
        pw = self.pos_weight
        if pw is None:
            return self.pos_weight_value
        return pw if pw.ndim == 0 else broadcast_to_input(self.where, "pos_weight", pw, input)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_tensors(self.where, input=input, target=target)
        weights = self._weights(input)
        options: dict[str, Any] = dict(
            pos_weight=self._pos_weights(input),
            label_smoothing=self.label_smoothing,
            reduction=self.reduction,
            convention=self.convention,
        )
        fast = call_core(
            self.where,
            fused_loss,
            input,
            target,
            weights,
            logits=self.logits,
            clip=self.clip,
            # a module pickled by an earlier bcelab has none: no guess then
            backward_scale=getattr(self, "_backward_scale", None),
            **options,
        )
        if fast is not None:  # eager CPU float32/float64: one fused kernel pass
            return fast
        if self.logits:
            out = call_core(self.where, bce_with_logits, input, target, weights=weights, **options)
        else:
            out = call_core(
                self.where, bce, input, target, clip=self.clip, weights=weights, **options
            )
        return self._finish(out, input)


class BCELoss(_CrossEntropy):
    r"""Binary cross-entropy from **probabilities**, a drop-in for ``torch.nn.BCELoss``.

    .. math::

        \ell(p, y) = -w\,\bigl(w_+\, y \log p + (1 - y) \log(1 - p)\bigr)

    computed by :func:`bcelab.bce`.  torch's arguments, with torch's meaning:

    * ``weight``: a rescaling weight broadcast to the input's shape (torch broadcasting,
      trailing axes: e.g. one weight per column); kept as a buffer;
    * ``reduction``: ``"mean"`` (default, the sum of ``w * loss`` over the number of
      elements), ``"sum"`` or ``"none"``; bcelab adds ``"weighted_mean"`` and
      ``"per_sample"`` (:func:`bcelab.reduce`).

    bcelab's keyword-only extras: ``pos_weight`` (a number or a tensor broadcast to the
    input's shape, as in :class:`BCEWithLogitsLoss`), ``label_smoothing`` (targets become
    ``y (1 - s) + s/2``), ``convention`` (a framework's formula,
    :mod:`bcelab.conventions`) and ``clip`` (clip p to ``[eps, 1 - eps]``).

    ``forward(input, target)``.  What differs from ``torch.nn.BCELoss``:

    * **exact at p = 0 and p = 1**: torch clamps each log at -100, so a wrong certain
      prediction (p = 0, y = 1) costs 100 there and ``inf`` here, and the gradient at
      p = 0 or 1 follows the formula here instead of torch's ``1e-12`` guard; pass
      ``clip=`` for a bounded loss.  Inside (0, 1) both give the same value and gradient;
    * targets outside [0, 1], NaN, probabilities outside [0, 1], negative or infinite
      weights and shape mismatches raise a :class:`bcelab.BCELabError` naming PyTorch;
    * float16/bfloat16 inputs are computed in float32, so the loss works under
      ``torch.autocast``, where ``torch.nn.BCELoss`` refuses to run.
    """

    logits = False

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        reduction: str = "mean",
        *,
        pos_weight: torch.Tensor | float | None = None,
        label_smoothing: float = 0.0,
        convention: str = "exact",
        clip: float | None = None,
    ) -> None:
        super().__init__(
            weight,
            reduction,
            pos_weight,
            label_smoothing=label_smoothing,
            convention=convention,
            clip=clip,
        )


class BCEWithLogitsLoss(_CrossEntropy):
    r"""Binary cross-entropy from **logits**, a drop-in for ``torch.nn.BCEWithLogitsLoss``.

    .. math::

        \ell(x, y) = w\,\bigl(w_+\, y \operatorname{softplus}(-x)
        + (1 - y) \operatorname{softplus}(x)\bigr)

    computed by :func:`bcelab.bce_with_logits`.  torch's arguments, with torch's meaning:
    ``weight`` (a rescaling weight broadcast to the input's shape, trailing axes),
    ``reduction`` (``"mean"``, ``"sum"``, ``"none"``; bcelab adds ``"weighted_mean"`` and
    ``"per_sample"``) and ``pos_weight`` (the weight of the positive class, broadcast
    along the last axis: one per label; a number is accepted too).  Both are kept as
    buffers, so ``.to(device)`` moves them.

    bcelab's keyword-only extras: ``label_smoothing`` (targets become ``y (1 - s) + s/2``)
    and ``convention`` (a framework's formula, :mod:`bcelab.conventions`).

    ``forward(input, target)``.  What differs from ``torch.nn.BCEWithLogitsLoss``:

    * infinite logits give the exact limit (0 or inf) and a finite gradient instead of NaN;
    * targets outside [0, 1], NaN, negative or infinite weights and shape mismatches raise
      a :class:`bcelab.BCELabError` naming PyTorch, before any torch error;
    * float16/bfloat16 inputs are computed in float32 (float32 in float64).
    """

    logits = True

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        reduction: str = "mean",
        pos_weight: torch.Tensor | float | None = None,
        *,
        label_smoothing: float = 0.0,
        convention: str = "exact",
    ) -> None:
        super().__init__(
            weight,
            reduction,
            pos_weight,
            label_smoothing=label_smoothing,
            convention=convention,
            clip=None,
        )


class _KL(_Loss):
    """KL(y || p) from probabilities or logits, via :func:`bcelab.binary_kl`."""

    logits: ClassVar[bool]

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        reduction: str = "mean",
        *,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, reduction, label_smoothing=label_smoothing)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_tensors(self.where, input=input, target=target)
        out = call_core(
            self.where,
            binary_kl,
            input,
            target,
            logits=self.logits,
            label_smoothing=self.label_smoothing,
            reduction=self.reduction,
            weights=self._weights(input),
        )
        return self._finish(out, input)


class BinaryKLLoss(_KL):
    r"""BCE minus its floor, :math:`\mathrm{KL}(y \| p) = \mathrm{BCE}(p, y) - H(y)`, from probabilities.

    The same gradient as :class:`BCELoss`, and 0 at a perfect fit, also for soft targets
    (autoencoders, distillation).  Arguments as :class:`BCELoss`: ``weight``,
    ``reduction``, keyword-only ``label_smoothing``.
    """

    logits = False


class BinaryKLWithLogitsLoss(_KL):
    r""":class:`BinaryKLLoss` from logits: the same gradient as :class:`BCEWithLogitsLoss`."""

    logits = True


class _Focal(_Loss):
    """The sigmoid focal loss from probabilities or logits."""

    logits: ClassVar[bool]

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        reduction: str = "mean",
        *,
        gamma: float = 2.0,
        alpha: float | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, reduction, label_smoothing=label_smoothing)
        self.gamma, self.alpha = check_focal(gamma, alpha, fname=self.fname)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_tensors(self.where, input=input, target=target)
        out = call_core(
            self.where,
            focal_with_logits if self.logits else focal,
            input,
            target,
            gamma=self.gamma,
            alpha=self.alpha,
            label_smoothing=self.label_smoothing,
            reduction=self.reduction,
            weights=self._weights(input),
        )
        return self._finish(out, input)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}, {super().extra_repr()}"


class FocalLoss(_Focal):
    r"""Focal loss (Lin et al. 2017) from probabilities, via :func:`bcelab.focal`.

    .. math::

        \ell = \alpha_t (1 - p_t)^\gamma\, \mathrm{BCE}(p, y), \quad
        p_t = p y + (1 - p)(1 - y), \quad \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    ``gamma=0`` and ``alpha=None`` give :class:`BCELoss`.  Arguments: ``weight``,
    ``reduction`` as :class:`BCELoss`; keyword-only ``gamma``, ``alpha`` (None: no class
    weighting) and ``label_smoothing``.
    """

    logits = False


class FocalWithLogitsLoss(_Focal):
    r"""Sigmoid focal loss from logits, via :func:`bcelab.focal_with_logits`.

    :class:`FocalLoss` on ``sigmoid(input)``, with the modulating factor computed in log
    space, so gradients stay finite for every finite logit and every ``gamma >= 0``.
    ``gamma=0`` and ``alpha=None`` give :class:`BCEWithLogitsLoss`.
    """

    logits = True
