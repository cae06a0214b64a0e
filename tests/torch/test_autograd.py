"""The eager fused path's backward (:mod:`bcelab.torch.autograd`): every backward through
one graph gives the same bits, so ``torch.autograd.gradcheck`` passes.

The first backward hands over the gradient the kernel wrote in the forward pass; a second
one through the retained graph has the kernel write it again (it used to take the core's
analytic gradient, a last bit apart: gradcheck's "Backward is not reentrant").
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

import bcelab.torch as bt  # noqa: E402
from bcelab.torch import fused  # noqa: E402

F64 = torch.float64


def _inputs(shape: tuple[int, ...], seed: int = 0) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, dtype=F64, generator=gen)
    p = torch.rand(shape, dtype=F64, generator=gen).clamp(0.05, 0.95)
    y = torch.rand(shape, dtype=F64, generator=gen)
    w = torch.rand(shape, dtype=F64, generator=gen)
    return x, p, y, w


def _cases(y: torch.Tensor, w: torch.Tensor) -> dict[str, tuple[bool, torch.nn.Module]]:
    """name: (from logits, loss module)."""
    return {
        "logits mean": (True, bt.BCEWithLogitsLoss()),
        "logits sum": (True, bt.BCEWithLogitsLoss(reduction="sum")),
        "logits weight": (True, bt.BCEWithLogitsLoss(weight=w)),
        "logits pos_weight": (True, bt.BCEWithLogitsLoss(pos_weight=1.7)),
        "logits label_smoothing": (True, bt.BCEWithLogitsLoss(label_smoothing=0.1)),
        "probs mean": (False, bt.BCELoss()),
        "probs label_smoothing": (False, bt.BCELoss(label_smoothing=0.1)),
        "probs weight sum": (False, bt.BCELoss(weight=w, reduction="sum")),
    }


NAMES = list(_cases(torch.zeros(1), torch.ones(1)))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("factor", [1.0, 0.3, -2.0, math.inf])
def test_every_backward_through_a_retained_graph_gives_the_same_bits(name, factor):
    x, p, y, w = _inputs((6, 4))
    logits, loss = _cases(y, w)[name]
    a = (x if logits else p).clone().requires_grad_(True)
    value = loss(a, y) * factor
    grads = [torch.autograd.grad(value, a, retain_graph=True)[0] for _ in range(3)]
    for g in grads[1:]:
        assert torch.equal(torch.nan_to_num(g), torch.nan_to_num(grads[0]))
        assert torch.equal(g.isnan(), grads[0].isnan())


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_passes_in_float64(name):
    x, p, y, w = _inputs((6, 4), seed=1)
    logits, loss = _cases(y, w)[name]
    a = (x if logits else p).clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: loss(t, y), (a,))


def test_the_first_backward_still_hands_over_the_kept_buffer():
    # the fix does not give up the zero-copy handover: x.grad is the kernel's buffer
    n = fused.POOL_MIN + 3
    x, y = torch.randn(n), torch.rand(n)
    loss = bt.BCEWithLogitsLoss()
    xa = x.clone().requires_grad_(True)
    loss(xa, y).backward()
    first = xa.grad.data_ptr()
    xa.grad = None  # the buffer is free again: the next step's gradient is written there
    loss(xa, y).backward()
    assert xa.grad.data_ptr() == first
    # a second backward through the retained graph: the same bits, accumulated
    xa.grad = None
    value = loss(xa, y)
    value.backward(retain_graph=True)
    once = xa.grad.clone()
    value.backward()
    assert torch.equal(xa.grad, once + once)
