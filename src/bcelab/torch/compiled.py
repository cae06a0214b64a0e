"""``torch.compile``: bcelab's fused kernel as the custom op ``torch.ops.bcelab.fused_bce``.

The generic Array-API path does not compile into one graph (the core's NumPy error-state
and warning guards break it into about a dozen), so under ``torch.compile`` an eligible
call of :func:`bcelab.torch.autograd.fused_loss` becomes one opaque custom-op node:
forward runs the fused kernel (loss and gradient in one pass, as in eager mode), the
backward is a second custom op, ``bcelab::scale_grad``, that multiplies the saved
gradient by ``grad_output`` into kept memory on bcelab's threads (an inductor kernel
there ran on torch's OpenMP threads, whose spinning slowed the next step's forward pass
by about half on 2 cores).  The op has a fake
(meta) implementation for tracing and an autograd formula; double backward is not
supported by ``torch.compile`` itself.  The kernel checks the values at run time and
raises the core's errors (NaN, targets or probabilities outside [0, 1]), which the
generic path under ``torch.compile`` cannot do.

This module deliberately has no ``from __future__ import annotations``: ``custom_op``
reads the annotations to build the operator's schema.
"""

from typing import Any, Optional

import torch

from . import fused

__all__ = ["compiled_loss", "fused_bce_op", "scale_grad_op"]


@torch.library.custom_op("bcelab::fused_bce", mutates_args=(), device_types="cpu")
def fused_bce_op(
    x: torch.Tensor,
    y: torch.Tensor,
    w: Optional[torch.Tensor],  # noqa: UP045 (the schema parser wants Optional)
    logits: bool,
    pos_weight: Optional[float],  # noqa: UP045
    label_smoothing: float,
    reduction: str,
    want_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, gradient or an empty tensor) from one pass of the fused kernel."""
    opts = fused.FusedOptions(logits, pos_weight, label_smoothing, reduction)
    wc = None if w is None else w.contiguous()
    value, g = fused.run_kernel(x.contiguous(), y.contiguous(), wc, opts, want_grad)
    return torch.tensor(value, dtype=x.dtype), (x.new_empty((0,)) if g is None else g)


@fused_bce_op.register_fake
def _fake(
    x: torch.Tensor,
    y: torch.Tensor,
    w: Optional[torch.Tensor],  # noqa: UP045
    logits: bool,
    pos_weight: Optional[float],  # noqa: UP045
    label_smoothing: float,
    reduction: str,
    want_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.empty_like(x, memory_format=torch.contiguous_format) if want_grad else None
    return x.new_empty(()), (x.new_empty((0,)) if g is None else g)


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Any, ...]) -> None:
    ctx.mark_non_differentiable(output[1])
    ctx.save_for_backward(output[1])


@torch.library.custom_op("bcelab::scale_grad", mutates_args=(), device_types="cpu")
def scale_grad_op(g: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``scale * g`` in a new tensor: the compiled backward of ``bcelab::fused_bce``."""
    return fused.scaled_copy(g, scale)


@scale_grad_op.register_fake
def _fake_scale(g: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(g, memory_format=torch.contiguous_format)


def _backward(ctx: Any, grad_value: torch.Tensor, grad_g: Any) -> tuple[Any, ...]:
    (g,) = ctx.saved_tensors
    return scale_grad_op(g, grad_value), None, None, None, None, None, None, None


fused_bce_op.register_autograd(_backward, setup_context=_setup_context)


def _on_cpu(t: Any) -> bool:
    return bool(t.device.type == "cpu")


def _tensor_reason(input: Any, target: Any, weights: Any) -> str | None:
    """Checks that hold on traced (fake) tensors; strides are the op's business."""
    if torch._C._functorch.get_dynamic_layer_stack_depth() > 0:  # constant-folded by dynamo
        return "torch.func transform inside torch.compile"
    return fused.tensors_reason(input, target, weights, readable=_on_cpu, what="CPU")


def compiled_loss(
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
) -> torch.Tensor | None:
    """The reduced loss through the custom op (while compiling), or ``None`` if ineligible."""
    if fused.options_reason(pos_weight, label_smoothing, reduction, convention, clip):
        return None
    if _tensor_reason(input, target, weights):
        return None
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    want_grad = torch.is_grad_enabled() and input.requires_grad
    pw = None if pos_weight is None else float(pos_weight)  # type: ignore[arg-type]
    value, _ = fused_bce_op(
        input, target, weights, bool(logits), pw, float(label_smoothing), reduction, want_grad
    )
    return value
