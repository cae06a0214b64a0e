"""One pass of bcelab's fused CPU kernel on torch tensors, and when a call may take it.

Shared by the eager path (:mod:`bcelab.torch.autograd`, a ``torch.autograd.Function``)
and the compiled path (:mod:`bcelab.torch.compiled`, a ``torch.compile`` custom op):
:func:`run_kernel` hands the tensors' memory to :func:`bcelab.kernels.fused_bce`
zero-copy (``Tensor.numpy()``); :func:`options_reason` and :func:`tensors_reason` say why
a call cannot take the kernel.  The numbers are the core's: the kernel implements the
formulas of :mod:`bcelab._core.formulas`.

The gradient of a large input (at least :data:`POOL_MIN` elements) is written into memory
this module keeps for the next call (:func:`gradient_buffer`): a fresh tensor of 1e7
float32 elements costs the operating system's page faults and zeroing on first write,
several times the kernel pass itself.  The gradient tensor handed to autograd (and kept
as ``.grad``) owns its buffer as long as it lives; a buffer is used again only when no
tensor refers to it any more, so a gradient kept by the caller is never overwritten.
At most :data:`POOL_SIZE` buffers are kept.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..kernels import dispatch, fused_bce
from ..kernels.threads import run_threads

__all__ = [
    "POOL_MIN",
    "POOL_SIZE",
    "BackwardScale",
    "FusedOptions",
    "gradient_buffer",
    "options_reason",
    "run_kernel",
    "scale_in_place",
    "tensors_reason",
]

REDUCTIONS = ("mean", "sum", "weighted_mean")
FLOATS = (torch.float32, torch.float64)
#: inputs with at least this many elements take their gradient memory from the pool
POOL_MIN = 1 << 18
#: buffers kept for reuse (two losses in one step each find one)
POOL_SIZE = 2


class _Pool:
    """The kept gradient buffers (NumPy arrays; a tensor made from one holds a reference)."""

    lock = threading.Lock()
    buffers: ClassVar[list[np.ndarray]] = []
    # never shared, held like the buffers (by a list only): its count is a free buffer's
    unused: ClassVar[list[np.ndarray]] = [np.empty(0)]


def _refs(buffers: list[np.ndarray], i: int) -> int:
    return sys.getrefcount(buffers[i])


def gradient_buffer(x: torch.Tensor) -> torch.Tensor:
    """A contiguous tensor like ``x`` for the kernel to write the gradient into.

    Below :data:`POOL_MIN` elements a new one; above, a kept buffer of the same size and
    dtype that no tensor refers to any more, else a new buffer (kept in place of the
    oldest).  Every element is written by the kernel, so the memory is not cleared.
    """
    n = x.numel()
    if n < POOL_MIN:
        return torch.empty_like(x, memory_format=torch.contiguous_format)
    dtype = np.float32 if x.dtype == torch.float32 else np.float64
    with _Pool.lock:
        bufs = _Pool.buffers
        free = _refs(_Pool.unused, 0)
        for i in range(len(bufs)):
            if bufs[i].size == n and bufs[i].dtype == dtype and _refs(bufs, i) <= free:
                return torch.from_numpy(bufs[i]).view(x.shape)
        buf = np.empty(n, dtype=dtype)
        _Pool.buffers = [buf, *bufs[: POOL_SIZE - 1]]
        return torch.from_numpy(buf).view(x.shape)


def scale_in_place(g: torch.Tensor, scale: torch.Tensor) -> None:
    """``g *= scale`` (``scale`` a one-element tensor; nothing to do when it is 1).

    The same bits as ``g.mul_(scale)`` (one IEEE multiplication in ``g``'s dtype), but
    NumPy's, on the kernels' threads for a large ``g``: torch's OpenMP workers keep
    spinning for a while after a parallel operation, and on a machine with few cores they
    then slow down the fused kernel that runs next (the next training step's loss).
    """
    s = float(scale)
    if s == 1.0:
        return
    flat = g.detach().numpy().reshape(-1)  # a kernel's buffer: contiguous
    factor = flat.dtype.type(s)
    n = flat.size
    nt = max(1, min(torch.get_num_threads(), n // POOL_MIN))

    def part(t: int) -> None:
        lo, hi = n * t // nt, n * (t + 1) // nt
        np.multiply(flat[lo:hi], factor, out=flat[lo:hi])

    run_threads(nt, part)


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


class BackwardScale:
    """The factor a loss's backward pass will multiply its gradient by, guessed ahead.

    A loss module keeps one.  A gradient computed with the factor already in it spares
    the backward pass a pass over the gradient (``(loss / k).backward()`` for gradient
    accumulation, loss scaling).  The guess is the factor of the last two backward
    passes when they were equal, else 1.  The gradient's bits never depend on it: the
    kernel multiplies after rounding, as the backward pass would, and after a wrong
    guess the kernel writes the gradient again.
    """

    __slots__ = ("last", "repeated")

    def __init__(self) -> None:
        self.last = 1.0
        self.repeated = False

    def guess(self) -> float:
        return self.last if self.repeated else 1.0

    def seen(self, factor: float) -> None:
        self.repeated = factor == self.last and math.isfinite(factor)
        self.last = factor


def run_kernel(
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor | None,
    opts: FusedOptions,
    want_grad: bool,
    *,
    grad_scale: float = 1.0,
    out: torch.Tensor | None = None,
) -> tuple[float, torch.Tensor | None]:
    """One kernel pass: the reduced loss and (optionally) its gradient as a new tensor
    (or in ``out``), times ``grad_scale`` after rounding (:func:`bcelab.kernels.fused_bce`)."""
    g = (out if out is not None else gradient_buffer(x)) if want_grad else None
    res = fused_bce(
        x.detach().numpy(),
        y.detach().numpy(),
        logits=opts.logits,
        weights=None if w is None else w.detach().numpy(),
        pos_weight=opts.pos_weight,
        label_smoothing=opts.label_smoothing,
        reduction=opts.reduction,
        grad_out=None if g is None else g.numpy(),
        grad_scale=grad_scale,
        threads=torch.get_num_threads(),
    )
    return res.value, g
