"""``torch.compile``: bcelab's fused kernel as the custom ops ``torch.ops.bcelab.fused_bce_*``.

The generic Array-API path does not compile into one graph (the core's NumPy error-state
and warning guards break it into about a dozen), so under ``torch.compile`` an eligible
call of :func:`bcelab.torch.autograd.fused_loss` becomes one opaque custom-op node,
``bcelab::fused_bce_forward``: it runs the fused kernel (loss and gradient in one pass,
as in eager mode) and keeps the gradient.  Its backward is a second custom op,
``bcelab::fused_bce_backward``, that takes the kept gradient back, scales it by
``grad_output`` in place (when that is not 1) and hands it to autograd: no new memory and
no torch operation on the gradient, as in eager mode.  (An inductor multiplication there
costs a pass over new memory, and runs on torch's OpenMP threads, which keep spinning
afterwards and slowed the next step's forward pass by about half on 2 cores.)  Both ops
have fake (meta) implementations for tracing; double backward is not supported by
``torch.compile`` itself.  The kernel checks the values at run time and raises the core's
errors (NaN, targets or probabilities outside [0, 1]), which the generic path under
``torch.compile`` cannot do.

This module deliberately has no ``from __future__ import annotations``: ``custom_op``
reads the annotations to build the operator's schema.
"""

import threading
from typing import Any, ClassVar, Optional

import torch

from . import fused

__all__ = ["compiled_loss", "fused_bce_backward_op", "fused_bce_op"]


class HandOver:
    """Gradients computed by a forward op, waiting for their backward op.

    A custom op may not return one of its inputs, so the gradient does not travel as a
    saved tensor: the forward op keeps it here under the address of a one-byte ``key``
    tensor it returns (autograd keeps that tensor until the backward), and the backward op
    takes it back and returns it as new memory, which autograd can keep as ``.grad``
    without a copy.  Each kept gradient holds its key's memory too, so that address
    cannot be given to another tensor while the gradient waits (a forward whose backward
    never runs leaves its gradient here until it is pushed out).  At most :data:`SIZE`
    are kept; a backward that finds none (a second one through ``retain_graph``, one
    whose gradient was pushed out, or a key made elsewhere) recomputes it with the
    kernel: the same bits, one more pass.
    """

    SIZE = 2
    lock = threading.Lock()
    kept: ClassVar[dict[int, tuple[torch.UntypedStorage, torch.Tensor]]] = {}

    @classmethod
    def put(cls, key: torch.Tensor, g: torch.Tensor) -> None:
        with cls.lock:
            cls.kept.pop(key.data_ptr(), None)  # re-inserted as the newest
            cls.kept[key.data_ptr()] = (key.untyped_storage(), g)
            while len(cls.kept) > cls.SIZE:  # the oldest first (dicts keep insertion order)
                del cls.kept[next(iter(cls.kept))]

    @classmethod
    def take(cls, key: torch.Tensor) -> torch.Tensor | None:
        with cls.lock:
            entry = cls.kept.pop(key.data_ptr(), None)
        return None if entry is None else entry[1]


def _options(
    logits: bool, pos_weight: float | None, label_smoothing: float, reduction: str
) -> fused.FusedOptions:
    return fused.FusedOptions(logits, pos_weight, label_smoothing, reduction)


@torch.library.custom_op("bcelab::fused_bce_forward", mutates_args=(), device_types="cpu")
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
    """(loss, key) from one pass of the fused kernel; the gradient waits under ``key``."""
    opts = _options(logits, pos_weight, label_smoothing, reduction)
    wc = None if w is None else w.contiguous()
    value, g = fused.run_kernel(x.contiguous(), y.contiguous(), wc, opts, want_grad)
    key = torch.zeros(1, dtype=torch.uint8)
    if g is not None:
        HandOver.put(key, g)
    return torch.tensor(value, dtype=x.dtype), key


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
    return x.new_empty(()), x.new_empty((1,), dtype=torch.uint8)


@torch.library.custom_op("bcelab::fused_bce_backward", mutates_args=(), device_types="cpu")
def fused_bce_backward_op(
    key: torch.Tensor,
    grad_value: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    w: Optional[torch.Tensor],  # noqa: UP045
    logits: bool,
    pos_weight: Optional[float],  # noqa: UP045
    label_smoothing: float,
    reduction: str,
) -> torch.Tensor:
    """``grad_value`` times the gradient kept under ``key`` (recomputed if none is kept)."""
    g = HandOver.take(key)
    if g is None:
        opts = _options(logits, pos_weight, label_smoothing, reduction)
        wc = None if w is None else w.contiguous()
        g = fused.run_kernel(x.contiguous(), y.contiguous(), wc, opts, True)[1]
        assert g is not None  # want_grad=True
    fused.scale_in_place(g, grad_value)
    return g


@fused_bce_backward_op.register_fake
def _fake_backward(
    key: torch.Tensor,
    grad_value: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    w: Optional[torch.Tensor],  # noqa: UP045
    logits: bool,
    pos_weight: Optional[float],  # noqa: UP045
    label_smoothing: float,
    reduction: str,
) -> torch.Tensor:
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Any, ...]) -> None:
    x, y, w, *options = inputs
    ctx.options = tuple(options[:4])  # logits, pos_weight, label_smoothing, reduction
    ctx.mark_non_differentiable(output[1])
    ctx.save_for_backward(output[1], x, y, w)


# torch.compile's on-disk cache keys the forward graph only, so a compiled backward
# outlives a change of this formula (pytorch/pytorch#144344): a change that alters the
# backward must also rename the ops.
def _backward(ctx: Any, grad_value: torch.Tensor, grad_key: Any) -> tuple[Any, ...]:
    key, x, y, w = ctx.saved_tensors
    g = fused_bce_backward_op(key, grad_value, x, y, w, *ctx.options)
    return g, None, None, None, None, None, None, None


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
