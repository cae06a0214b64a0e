"""One pass of bcelab's fused CPU kernel on torch tensors, and when a call may take it.

Shared by the eager path (:mod:`bcelab.torch.autograd`, a ``torch.autograd.Function``)
and the compiled path (:mod:`bcelab.torch.compiled`, a ``torch.compile`` custom op):
:func:`run_kernel` hands the tensors' memory to :func:`bcelab.kernels.fused_bce`
zero-copy (``Tensor.numpy()``); :func:`options_reason` and :func:`tensors_reason` say why
a call cannot take the kernel.  The numbers are the core's: the kernel implements the
formulas of :mod:`bcelab._core.formulas`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..kernels import dispatch, fused_bce

__all__ = ["FusedOptions", "options_reason", "run_kernel", "tensors_reason"]

REDUCTIONS = ("mean", "sum", "weighted_mean")
FLOATS = (torch.float32, torch.float64)


@dataclass(frozen=True)
class FusedOptions:
    """The options the kernel takes, already checked."""

    logits: bool
    pos_weight: float | None
    label_smoothing: float
    reduction: str


def options_reason(
    pos_weight: object, label_smoothing: object, reduction: str, convention: str, clip: object
) -> str | None:
    """Why these options (or this installation) rule the fused kernel out, or ``None``."""
    if reduction not in REDUCTIONS:
        return f"reduction={reduction!r}"
    if convention != "exact" or clip is not None:
        return "convention or clip"
    if pos_weight is not None and not (
        isinstance(pos_weight, (int, float)) and 0.0 <= float(pos_weight) < math.inf
    ):
        return "pos_weight is not a finite number >= 0"
    if not (isinstance(label_smoothing, (int, float)) and 0.0 <= label_smoothing <= 1.0):
        return "label_smoothing"
    if not dispatch.available():
        return "the fused kernel is unavailable (numba missing or disabled)"
    return None


def tensors_reason(
    input: Any, target: Any, weights: Any, *, readable: Callable[[Any], bool], what: str
) -> str | None:
    """Why these tensors cannot go to the kernel, or ``None``.

    ``readable`` says whether the kernel can read a tensor's memory: in eager mode a plain
    contiguous CPU tensor; under ``torch.compile`` any CPU tensor (the custom op makes it
    contiguous).  ``what`` names that condition in the reason.
    """
    if not readable(input) or input.dtype not in FLOATS or input.numel() == 0:
        return f"input is not a non-empty {what} float32/float64 tensor"
    if not readable(target) or target.shape != input.shape:
        return f"target is not a {what} tensor of the input's shape"
    if target.requires_grad:
        return "target requires grad"
    if target.dtype != input.dtype and target.dtype != torch.bool:
        return "target has another dtype (bool labels are converted)"
    if weights is not None:
        if not readable(weights) or weights.shape != input.shape or weights.dtype != input.dtype:
            return f"weights are not a {what} tensor of the input's shape and dtype"
        if weights.requires_grad:
            return "weights require grad"
    return None


def run_kernel(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None, opts: FusedOptions, want_grad: bool
) -> tuple[float, torch.Tensor | None]:
    """One kernel pass: the reduced loss and (optionally) its gradient as a new tensor."""
    g = torch.empty_like(x, memory_format=torch.contiguous_format) if want_grad else None
    res = fused_bce(
        x.detach().numpy(),
        y.detach().numpy(),
        logits=opts.logits,
        weights=None if w is None else w.detach().numpy(),
        pos_weight=opts.pos_weight,
        label_smoothing=opts.label_smoothing,
        reduction=opts.reduction,
        grad_out=None if g is None else g.numpy(),
        threads=torch.get_num_threads(),
    )
    return res.value, g
