"""Eager PyTorch on the CPU: bcelab's fused kernel inside a ``torch.autograd.Function``.

:func:`fused_loss` computes the reduced BCE (``mean``, ``sum`` or ``weighted_mean``) and
its gradient with respect to the predictions in **one pass** of the fused numba kernel
(:func:`bcelab.torch.fused.run_kernel`), zero-copy on the tensors' memory.  The forward
pass keeps the gradient, written already times the ``grad_output`` a loss module's
:class:`~bcelab.torch.fused.BackwardScale` expects; the backward pass hands it over,
scaled in place when ``grad_output`` is another factor (written again by the kernel
after a wrong guess other than 1).  The numbers are the core's (the kernel implements the
formulas of :mod:`bcelab._core.formulas`; the tests compare both paths), so this module
has no numerics of its own.

It returns ``None``, and the caller runs the generic Array-API path
(:func:`bcelab.bce_with_logits` / :func:`bcelab.bce` on the tensors), whenever
:func:`ineligible` gives a reason: numba missing or the kernel disabled, anything but a
plain strided contiguous CPU float32/float64 tensor (CUDA, float16/bfloat16 from
autocast, tensor subclasses, non-contiguous views), targets or weights that require a
gradient, ``torch.compile``/``torch.export``, ``torch.jit`` tracing, ``torch.func``
transforms (functorch-wrapped tensors), forward-mode AD, an active
``TorchDispatchMode``, or options the kernel does not take (``reduction="none"``,
``per_sample``, a ``pos_weight`` tensor, ``convention != "exact"``, ``clip``).

Values the kernel flags (NaN, targets or probabilities outside [0, 1], invalid weights)
go to the reference path inside :func:`bcelab.kernels.fused_bce`, which raises the
core's documented error.  A second backward through a retained graph runs the kernel
again (the handed-over gradient is gone), so every backward gives the same bits.  Second
derivatives (``create_graph=True``) differentiate the core's analytic gradient
(:func:`bcelab.bce_with_logits_grad` / :func:`bcelab.bce_grad`) instead of the saved one.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.autograd.forward_ad as forward_ad
from torch.utils._python_dispatch import _get_current_dispatch_mode

from ..gradients import bce_grad, bce_with_logits_grad
from . import compiled, fused

__all__ = ["fused_loss", "ineligible"]

_PLAIN = (torch.Tensor, torch.nn.Parameter)


def _plain(t: Any) -> bool:
    """A real CPU tensor the kernel can read in place (not a subclass, a GPU tensor, ...)."""
    return (
        type(t) in _PLAIN
        and t.device.type == "cpu"
        and t.layout == torch.strided
        and t.is_contiguous()
        and not torch._C._functorch.is_functorch_wrapped_tensor(t)
    )


def _context_reason() -> str | None:
    if torch.compiler.is_compiling():
        return "torch.compile / torch.export tracing"
    if torch.jit.is_tracing() or torch.jit.is_scripting():
        return "torch.jit tracing"
    if forward_ad._current_level >= 0:
        return "forward-mode AD"
    if _get_current_dispatch_mode() is not None:
        return "a TorchDispatchMode is active"
    return None


def ineligible(
    input: Any,
    target: Any,
    weights: Any = None,
    *,
    pos_weight: object = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    convention: str = "exact",
    clip: object = None,
) -> str | None:
    """Why this eager call cannot take the fused path, or ``None`` when it can."""
    reason = fused.options_reason(pos_weight, label_smoothing, reduction, convention, clip)
    if reason is not None:
        return reason
    reason = _context_reason()
    if reason is not None:
        return reason
    return fused.tensors_reason(input, target, weights, readable=_plain, what="contiguous CPU")


def _analytic_grad(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None, opts: fused.FusedOptions
) -> torch.Tensor:
    """The core's analytic gradient on the tensors (differentiable, for second derivatives)."""
    fn = bce_with_logits_grad if opts.logits else bce_grad
    g = fn(
        x,
        y,
        pos_weight=opts.pos_weight,
        label_smoothing=opts.label_smoothing,
        reduction=opts.reduction,
        weights=w,
    )
    return g.to(x.dtype)


class _FusedBCE(torch.autograd.Function):
    """Forward: loss and gradient from one kernel pass; backward: ``grad_output * gradient``.

    With a :class:`~bcelab.torch.fused.BackwardScale` the forward pass writes the gradient
    already times the guessed ``grad_output`` (the same bits as multiplying afterwards).
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        y: torch.Tensor,
        w: torch.Tensor | None,
        opts: Any,
        scale: fused.BackwardScale | None,
    ) -> torch.Tensor:
        want = bool(ctx.needs_input_grad[0])
        factor = scale.guess() if (want and scale is not None) else 1.0
        value, g = fused.run_kernel(x, y, w, opts, want_grad=want, grad_scale=factor)
        ctx.opts, ctx.grad, ctx.scale, ctx.factor = opts, g, scale, factor
        ctx.save_for_backward(x, y, w)
        return torch.tensor(value, dtype=x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:
        g, ctx.grad = ctx.grad, None  # hand it over: autograd may keep it as .grad
        s = float(grad_output.detach())  # the loss is 0-d; its gradient may itself be recorded
        if ctx.scale is not None:
            ctx.scale.seen(s)
        if torch.is_grad_enabled():
            # create_graph: the core's analytic gradient, differentiable with respect to x
            # (and grad_output)
            x, y, w = ctx.saved_tensors
            g = _analytic_grad(x, y, w, ctx.opts)
            if grad_output.requires_grad or s != 1.0:
                g = grad_output * g
            return g, None, None, None, None
        exact = math.isfinite(s)
        if g is None:
            # a second backward through a retained graph: the kernel writes the gradient
            # again, the same bits as the one handed over (torch.autograd.gradcheck
            # compares them); the new buffer is no one else's either
            x, y, w = ctx.saved_tensors
            g = fused.gradient_buffer(x)
            fused.run_kernel(x, y, w, ctx.opts, True, grad_scale=s if exact else 1.0, out=g)
            if not exact:
                fused.scale_in_place(g, grad_output)
        elif s != ctx.factor:  # (when the forward pass guessed the factor: nothing to do)
            if ctx.factor != 1.0:  # a wrong guess: the kernel writes the gradient again
                x, y, w = ctx.saved_tensors
                fused.run_kernel(x, y, w, ctx.opts, True, grad_scale=s if exact else 1.0, out=g)
            if ctx.factor == 1.0 or not exact:
                # the kernel's buffer is no one else's: scaled in place, no new memory
                fused.scale_in_place(g, grad_output)
        return g, None, None, None, None


def fused_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor | None = None,
    *,
    logits: bool,
    pos_weight: object = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    convention: str = "exact",
    clip: object = None,
    backward_scale: fused.BackwardScale | None = None,
) -> torch.Tensor | None:
    """The reduced loss (0-d, the input's dtype) via the fused kernel, or ``None`` if ineligible.

    ``backward_scale`` (a loss module's own) lets the forward pass guess the backward
    pass's ``grad_output``: see :class:`bcelab.torch.fused.BackwardScale`.

    ``input`` holds logits (``logits=True``) or probabilities; ``weights`` has the input's
    shape.  With autograd recording and ``input.requires_grad`` the result has a
    ``grad_fn`` (``_FusedBCEBackward``) whose backward costs one multiplication at most.
    Under ``torch.compile`` the kernel is the custom op
    ``torch.ops.bcelab.fused_bce_forward`` (:mod:`bcelab.torch.compiled`), one opaque node
    of the compiled graph.
    """
    if torch.compiler.is_compiling():
        return compiled.compiled_loss(
            input,
            target,
            weights,
            logits=logits,
            pos_weight=pos_weight,
            label_smoothing=label_smoothing,
            reduction=reduction,
            convention=convention,
            clip=clip,
        )
    if ineligible(
        input,
        target,
        weights,
        pos_weight=pos_weight,
        label_smoothing=label_smoothing,
        reduction=reduction,
        convention=convention,
        clip=clip,
    ):
        return None
    if target.dtype != input.dtype:  # bool labels: exact in any float dtype
        target = target.to(input.dtype)
    opts = fused.FusedOptions(
        bool(logits),
        None if pos_weight is None else float(pos_weight),  # type: ignore[arg-type]
        float(label_smoothing),
        reduction,
    )
    if torch.is_grad_enabled() and input.requires_grad:
        out: torch.Tensor = _FusedBCE.apply(input, target, weights, opts, backward_scale)
        return out
    value, _ = fused.run_kernel(input, target, weights, opts, want_grad=False)
    return torch.tensor(value, dtype=input.dtype)
