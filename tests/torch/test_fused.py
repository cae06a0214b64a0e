"""bcelab.torch's fused fast path (bcelab.torch.autograd) against the generic path.

The fast path (one fused-kernel pass inside a torch.autograd.Function) must give the
generic Array-API path's value and gradient, run for eligible eager CPU calls, and stay
out of the way everywhere else (autocast, torch.func, torch.compile, reduction="none",
targets that need a gradient, ...).
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

import bcelab  # noqa: E402
import bcelab.torch as bt  # noqa: E402
from bcelab.errors import DomainError, NaNError  # noqa: E402
from bcelab.kernels import dispatch  # noqa: E402
from bcelab.torch import autograd, compiled, fused  # noqa: E402

FAST = "_FusedBCEBackward"


@contextmanager
def generic_path():
    """Turn the fused kernel off: every call takes the generic Array-API path."""
    was = dispatch.available()
    dispatch.set_enabled(False)
    try:
        yield
    finally:
        dispatch.set_enabled(was)


@contextmanager
def count_kernel_calls():
    """Count the kernel passes (fused.run_kernel: eager and compiled), whatever else happens."""
    calls: list[int] = []
    orig = fused.run_kernel

    def spy(*args, **kwargs):
        calls.append(1)
        return orig(*args, **kwargs)

    fused.run_kernel = spy
    try:
        yield calls
    finally:
        fused.run_kernel = orig


def _value_and_grad(loss, x, y):
    x = x.detach().clone().requires_grad_(True)
    out = loss(x, y)
    out.backward()
    return out.detach(), x.grad, type(out.grad_fn).__name__


def _both(loss, x, y):
    fast = _value_and_grad(loss, x, y)
    with generic_path():
        slow = _value_and_grad(loss, x, y)
    return fast, slow


# --- same numbers as the generic path ----------------------------------------------------


@given(
    n=st.integers(1, 3000),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    logits=st.booleans(),
    reduction=st.sampled_from(["mean", "sum", "weighted_mean"]),
    weighted=st.booleans(),
    pos_weight=st.sampled_from([None, 0.0, 2.5]),
    smoothing=st.sampled_from([0.0, 0.1]),
    hard=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_fast_path_equals_the_generic_path(
    n, dtype, logits, reduction, weighted, pos_weight, smoothing, hard, seed
):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g, dtype=torch.float64) * 6
    if logits and n >= 4:  # infinite logits with agreeing hard targets: limit 0
        x[:2] = torch.tensor([math.inf, -math.inf])
    y = torch.rand(n, generator=g, dtype=torch.float64)
    if hard or (logits and n >= 4):
        y = (y < 0.3).double()
    if logits and n >= 4:
        y[:2] = torch.tensor([1.0, 0.0])
    pred = x if logits else torch.sigmoid(x)
    pred, y = pred.to(dtype), y.to(dtype)
    w = torch.rand(n, generator=g, dtype=torch.float64).to(dtype) + 0.1 if weighted else None
    cls = bt.BCEWithLogitsLoss if logits else bt.BCELoss
    loss = cls(w, reduction, pos_weight=pos_weight, label_smoothing=smoothing)
    (vf, gf, kind_f), (vs, gs, kind_s) = _both(loss, pred, y)
    assert kind_f == FAST and kind_s != FAST
    assert vf.dtype == vs.dtype == dtype and gf.dtype == gs.dtype == dtype
    # float64: both compute in float64 (kernel: libm; generic: torch); float32: both in
    # float64, rounded once to float32 (a 1-ulp difference at a rounding tie).
    rtol, atol = (1e-12, 1e-300) if dtype == torch.float64 else (2.5e-7, 1e-37)
    np.testing.assert_allclose(vf.numpy(), vs.numpy(), rtol=rtol, atol=atol)
    # Where the gradient's two terms cancel, the two paths may differ by a few ulp of the
    # terms (the documented accuracy), not of the small difference.
    scale = _term_scale(pred, y, w, logits, pos_weight, smoothing, reduction)
    eps = 2.2e-16 if dtype == torch.float64 else 1.2e-7
    with np.errstate(invalid="ignore"):  # inf - inf where both are infinite (checked below)
        err = np.abs(gf.numpy().astype(np.float64) - gs.numpy().astype(np.float64))
    both_inf = np.isinf(gs.numpy()) & (gf.numpy() == gs.numpy())
    ok = both_inf | (err <= rtol * 10 * np.abs(gs.numpy()) + 8 * eps * scale + atol)
    assert ok.all(), (gf.numpy()[~ok], gs.numpy()[~ok])


def _term_scale(pred, y, w, logits, pos_weight, smoothing, reduction):
    """Per element, the larger of the gradient's two terms, weighted and reduced."""
    p = pred.double().numpy()
    t = y.double().numpy() * (1 - smoothing) + 0.5 * smoothing
    pw = 1.0 if pos_weight is None else pos_weight
    with np.errstate(all="ignore"):
        if logits:
            s = 1 / (1 + np.exp(-p))
            terms = np.maximum((1 - t) * s, pw * t * (1 - s))
        else:
            terms = np.maximum(pw * t / p, (1 - t) / (1 - p))
    wt = np.ones_like(p) if w is None else w.double().numpy()
    den = {"sum": 1.0, "mean": p.size, "weighted_mean": wt.sum()}[reduction]
    return np.nan_to_num(terms * wt / den, posinf=0.0)


def test_several_chunks_and_threads_equal_the_generic_path():
    # 2**18 + 5 elements: several kernel chunks, the multi-thread split when torch has 2+
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(2**18 + 5, generator=g) * 4).float()
    y = (torch.rand(2**18 + 5, generator=g) < 0.3).float()
    (vf, gf, kind), (vs, gs, _) = _both(bt.BCEWithLogitsLoss(), x, y)
    assert kind == FAST
    np.testing.assert_allclose(vf.numpy(), vs.numpy(), rtol=2.5e-7)
    np.testing.assert_allclose(gf.numpy(), gs.numpy(), rtol=2.5e-6, atol=1e-37)


def test_bool_targets_and_2d_inputs_take_the_fast_path():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(50, 7, generator=g)
    y = torch.rand(50, 7, generator=g) < 0.5
    (vf, gf, kind), (vs, gs, _) = _both(bt.BCEWithLogitsLoss(), x, y)
    assert kind == FAST
    np.testing.assert_allclose(vf.numpy(), vs.numpy(), rtol=2.5e-7)
    np.testing.assert_allclose(gf.numpy(), gs.numpy(), rtol=2.5e-6, atol=1e-37)


@pytest.mark.parametrize("cls", [bt.BCELoss, bt.BCEWithLogitsLoss])
def test_a_broadcast_weight_takes_the_fast_path(cls):
    # torch's weight, one per column, is broadcast (and made contiguous) for the kernel
    g = torch.Generator().manual_seed(3)
    x = torch.randn(40, 3, generator=g, dtype=torch.float64)
    pred = x if cls is bt.BCEWithLogitsLoss else torch.sigmoid(x)
    y = torch.rand(40, 3, generator=g, dtype=torch.float64)
    loss = cls(torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64), "sum")
    (vf, gf, kind), (vs, gs, _) = _both(loss, pred, y)
    assert kind == FAST
    np.testing.assert_allclose(vf.numpy(), vs.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gf.numpy(), gs.numpy(), rtol=1e-11, atol=1e-300)


# --- autograd: grad_output, retain_graph, create_graph, no_grad -----------------------------


def test_grad_output_scales_the_saved_gradient():
    x, y = torch.randn(40, dtype=torch.float64), torch.rand(40, dtype=torch.float64)
    xa = x.clone().requires_grad_(True)
    (3.0 * bt.BCEWithLogitsLoss()(xa, y) + xa.sum()).backward()
    ref = 3.0 * bcelab.bce_with_logits_grad(x, y, reduction="mean") + 1.0
    np.testing.assert_allclose(xa.grad.numpy(), ref.numpy(), rtol=1e-13)


@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_retain_graph_second_backward_and_second_derivatives(scale: float) -> None:
    # scale: a loss multiplied by a constant (grad_output is not 1) takes every path too
    torch.manual_seed(0)
    x, y = torch.randn(30, dtype=torch.float64), torch.rand(30, dtype=torch.float64)
    v = torch.randn(30, dtype=torch.float64)
    results = []
    for ctx in (generic_path, count_kernel_calls):
        xa = x.clone().requires_grad_(True)
        with ctx():
            loss = bt.BCEWithLogitsLoss(pos_weight=1.7, label_smoothing=0.05)(xa, y) * scale
            loss.backward(retain_graph=True)
            loss.backward()  # accumulates: twice the gradient
            twice = xa.grad.clone()
            (g,) = torch.autograd.grad(
                bt.BCEWithLogitsLoss(pos_weight=1.7, label_smoothing=0.05)(xa, y) * scale,
                xa,
                create_graph=True,
            )
            (hv,) = torch.autograd.grad(g @ v, xa)  # Hessian-vector product
        results.append((twice, g.detach(), hv))
    # Where the two terms of a gradient cancel, the documented bound is a few ulp of the
    # larger term (here at most (1 + pos_weight) / n per element), not of the result.
    larger_term = (1 + 1.7) / 30
    for a, b in zip(results[0], results[1], strict=True):
        np.testing.assert_allclose(
            a.numpy(), b.numpy(), rtol=1e-12, atol=8 * np.finfo(np.float64).eps * larger_term
        )


def test_a_recorded_grad_output_gives_its_gradient_without_a_warning():
    # torch.autograd.gradgradcheck differentiates with respect to grad_output too
    torch.manual_seed(1)
    x = torch.randn(16, dtype=torch.float64, requires_grad=True)
    y = torch.rand(16, dtype=torch.float64)
    grads = []
    for make in (torch.nn.BCEWithLogitsLoss, bt.BCEWithLogitsLoss):
        go = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            (g,) = torch.autograd.grad(make()(x, y), x, grad_outputs=go, create_graph=True)
            grads.append(torch.autograd.grad(g.sum(), go)[0])
    np.testing.assert_allclose(grads[1].numpy(), grads[0].numpy(), rtol=1e-13)
    assert torch.autograd.gradgradcheck(lambda a: bt.BCEWithLogitsLoss()(a, y), (x,))


def test_no_grad_calls_compute_the_value_only():
    x, y = torch.randn(100), torch.rand(100)
    with count_kernel_calls() as calls, torch.no_grad():
        out = bt.BCEWithLogitsLoss()(x.requires_grad_(True), y)
    assert len(calls) == 1 and out.grad_fn is None
    with generic_path():
        ref = bt.BCEWithLogitsLoss()(x.detach(), y)
    assert float(out) == pytest.approx(float(ref), rel=2.5e-7)


def test_targets_that_require_grad_get_the_right_gradient():
    # d/dy [y softplus(-x) + (1 - y) softplus(x)] = -x: the generic path, not the kernel
    x = torch.randn(20, dtype=torch.float64)
    y = torch.rand(20, dtype=torch.float64).requires_grad_(True)
    with count_kernel_calls() as calls:
        out = bt.BCEWithLogitsLoss(reduction="sum")(x, y)
    out.backward()
    assert not calls
    np.testing.assert_allclose(y.grad.numpy(), (-x).numpy(), rtol=1e-12, atol=1e-15)


# --- which calls take the fast path --------------------------------------------------------


def _x_y(n=12, dtype=torch.float32):
    return torch.randn(n, dtype=dtype).requires_grad_(True), torch.rand(n, dtype=dtype)


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("reduction none", lambda x, y: bt.BCEWithLogitsLoss(reduction="none")(x, y).sum()),
        ("per_sample", lambda x, y: bt.BCEWithLogitsLoss(reduction="per_sample")(x, y)),
        (
            "pos_weight tensor",
            lambda x, y: bt.BCEWithLogitsLoss(pos_weight=torch.tensor(2.0))(x, y),
        ),
        ("convention", lambda x, y: bt.BCEWithLogitsLoss(convention="torch")(x, y)),
        ("clip", lambda x, y: bt.BCELoss(clip=1e-6)(x.sigmoid(), y)),
        ("non-contiguous", lambda x, y: bt.BCEWithLogitsLoss()(x.view(3, 4).t(), y.view(3, 4).t())),
        ("float16", lambda x, y: bt.BCEWithLogitsLoss()(x.half(), y.half())),
        ("float64 targets", lambda x, y: bt.BCEWithLogitsLoss()(x, y.double())),
        ("int targets", lambda x, y: bt.BCEWithLogitsLoss()(x, (y > 0.5).long())),
        ("float64 weight", lambda x, y: bt.BCEWithLogitsLoss(torch.ones(12).double())(x, y)),
        (
            "weight requires grad",
            lambda x, y: bt.BCEWithLogitsLoss(torch.ones(12, requires_grad=True))(x, y),
        ),
        ("focal", lambda x, y: bt.FocalWithLogitsLoss()(x, y)),
        ("kl", lambda x, y: bt.BinaryKLWithLogitsLoss()(x, y)),
    ],
)
def test_ineligible_calls_take_the_generic_path(case, make):
    x, y = _x_y()
    with count_kernel_calls() as calls:
        out = make(x, y)
        out.backward()
    assert not calls, case
    assert type(out.grad_fn).__name__ != FAST
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_autocast_and_torch_func_take_the_generic_path():
    x, y = _x_y(dtype=torch.float32)
    loss = bt.BCEWithLogitsLoss()
    with count_kernel_calls() as calls:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = loss(torch.nn.functional.linear(x[None], torch.eye(12))[0], y)
        g = torch.func.grad(lambda a: loss(a, y))(x.detach())
        per = torch.func.vmap(loss)(x.detach().view(3, 4), y.view(3, 4))
    assert not calls
    assert out.dtype == torch.float32 and per.shape == (3,)
    ref = bcelab.bce_with_logits_grad(x.detach(), y, reduction="mean")
    np.testing.assert_allclose(g.numpy(), ref.numpy(), rtol=1e-6)


def test_torch_compile_runs_the_kernel_as_one_custom_op():
    # Under torch.compile the fused kernel is the custom op bcelab::fused_bce_forward (one graph,
    # no break: fullgraph=True); torch.func transforms inside compile use the generic path.
    x = torch.randn(6, 5, dtype=torch.float64)
    y = (torch.rand(6, 5, dtype=torch.float64) < 0.4).double()
    loss = bt.BCEWithLogitsLoss(pos_weight=2.0, label_smoothing=0.1)
    with generic_path():
        ref_v, ref_g, _ = _value_and_grad(loss, x, y)
    with warnings.catch_warnings(), count_kernel_calls() as calls:
        warnings.simplefilter("ignore")
        step = torch.compile(lambda a: loss(a, y), backend="aot_eager", fullgraph=True)
        xa = x.clone().requires_grad_(True)
        got = step(xa)
        got.backward()
        n_op = len(calls)
        g = torch.compile(torch.func.grad(lambda a: loss(a, y)), backend="aot_eager")(x)
    assert n_op == 1 and len(calls) == 1  # the grad transform did not call the kernel
    np.testing.assert_allclose(float(got.detach()), float(ref_v), rtol=1e-12)
    np.testing.assert_allclose(xa.grad.numpy(), ref_g.numpy(), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(g.numpy(), ref_g.numpy(), rtol=1e-10, atol=1e-300)


def test_custom_op_passes_opcheck():
    x = torch.randn(7, dtype=torch.float64, requires_grad=True)
    y = torch.rand(7, dtype=torch.float64)
    w = torch.rand(7, dtype=torch.float64)
    op = torch.ops.bcelab.fused_bce_forward.default
    torch.library.opcheck(op, (x, y, None, True, None, 0.0, "mean", True))
    torch.library.opcheck(op, (x.detach().sigmoid(), y, w, False, 1.5, 0.2, "sum", False))
    back = torch.ops.bcelab.fused_bce_backward.default
    key = torch.zeros(1, dtype=torch.uint8)  # nothing kept under it: the gradient is recomputed
    torch.library.opcheck(
        back,
        (key, torch.tensor(0.5, dtype=torch.float64), x.detach(), y, w, True, None, 0.0, "mean"),
    )


def test_a_left_gradient_is_found_by_its_own_key_only():
    x = torch.randn(7, dtype=torch.float64)
    y = torch.rand(7, dtype=torch.float64)
    one = torch.tensor(1.0, dtype=torch.float64)
    forward = torch.ops.bcelab.fused_bce_forward.default
    back = torch.ops.bcelab.fused_bce_backward.default
    ref = (torch.sigmoid(x) - y) / 7
    for _ in range(200):
        # a forward whose backward never runs leaves its gradient (of 3 * x) behind, and
        # the allocator hands freed one-byte blocks out again
        forward(3 * x, y, None, True, None, 0.0, "mean", True)
        for key in [torch.zeros(1, dtype=torch.uint8) for _ in range(3)]:
            torch.testing.assert_close(back(key, one, x, y, None, True, None, 0.0, "mean"), ref)
    # two forwards' gradients are each found by their own key, in either order
    _, k1 = forward(x, y, None, True, None, 0.0, "mean", True)
    _, k2 = forward(2 * x, y, None, True, None, 0.0, "sum", True)
    g2 = back(k2, one, 2 * x, y, None, True, None, 0.0, "sum")
    torch.testing.assert_close(g2, torch.sigmoid(2 * x) - y)
    torch.testing.assert_close(back(k1, one, x, y, None, True, None, 0.0, "mean"), ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [7, fused.POOL_MIN + 3])
def test_scale_in_place_is_torchs_product(dtype: torch.dtype, n: int) -> None:
    g = torch.randn(n, dtype=dtype)
    g[:3] = torch.tensor([0.0, -0.0, 1e-30])
    for value in (1.0, 0.25, -3.0, 1.0 / 3.0):
        s = torch.tensor(value, dtype=dtype)
        got = g.clone()
        fused.scale_in_place(got, s)
        assert torch.equal(got, s * g)
        assert torch.equal(torch.signbit(got), torch.signbit(s * g))


def test_the_compiled_backward_hands_over_the_kept_gradient():
    # the forward op keeps its gradient; the backward op returns that memory, scaled, and a
    # second backward (retain_graph) recomputes it
    x = torch.randn(30, dtype=torch.float64)
    y = torch.rand(30, dtype=torch.float64)
    ref = bcelab.bce_with_logits_grad(x, y, reduction="mean")
    xa = x.clone().requires_grad_(True)
    with count_kernel_calls() as calls:
        value, _ = torch.ops.bcelab.fused_bce_forward(xa, y, None, True, None, 0.0, "mean", True)
        (value * 3.0).backward(retain_graph=True)
        assert len(calls) == 1
        np.testing.assert_allclose(xa.grad.numpy(), 3.0 * ref.numpy(), rtol=1e-12)
        value.backward()
        assert len(calls) == 2  # the kept gradient was handed over: computed again
    np.testing.assert_allclose(xa.grad.numpy(), 4.0 * ref.numpy(), rtol=1e-12)
    # a forward whose backward never runs keeps its gradient only until others replace it
    for _ in range(5):
        torch.ops.bcelab.fused_bce_forward(xa, y, None, True, None, 0.0, "mean", True)
    assert len(compiled.HandOver.kept) <= compiled.HandOver.SIZE


def test_torch_compile_scales_the_gradient_of_a_scaled_loss():
    # loss / 4 (gradient accumulation): the compiled backward multiplies by 1/4
    x = torch.randn(40, dtype=torch.float64)
    y = torch.rand(40, dtype=torch.float64)
    loss = bt.BCEWithLogitsLoss()
    ref = bcelab.bce_with_logits_grad(x, y, reduction="mean") / 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step = torch.compile(lambda a: loss(a, y) / 4, backend="aot_eager", fullgraph=True)
        xa = x.clone().requires_grad_(True)
        step(xa).backward()
    assert xa.grad is not None
    np.testing.assert_allclose(xa.grad.numpy(), ref.numpy(), rtol=1e-12, atol=1e-300)


def test_ineligible_explains_itself():
    x, y = _x_y()
    assert autograd.ineligible(x, y) is None
    assert autograd.ineligible(x, y > 0.5) is None
    assert "reduction" in autograd.ineligible(x, y, reduction="none")
    assert "target requires grad" == autograd.ineligible(x, y.requires_grad_(True))
    assert "input" in autograd.ineligible(x.bfloat16(), y.bfloat16())
    assert "pos_weight" in autograd.ineligible(x, y, pos_weight=math.inf)
    with generic_path():
        assert "unavailable" in autograd.ineligible(x, y.detach())


# --- bad input: the core's errors, the same as the generic path ----------------------------


@pytest.mark.parametrize(
    ("bad", "err"),
    [("targets", DomainError), ("nan", NaNError), ("probs", DomainError), ("weights", DomainError)],
)
def test_bad_values_raise_the_generic_paths_error(bad, err):
    x, y = torch.randn(8), torch.rand(8)
    loss = bt.BCEWithLogitsLoss()
    if bad == "targets":
        y = y * 3
    elif bad == "nan":
        x[2] = math.nan
    elif bad == "probs":
        loss = bt.BCELoss()
    else:
        loss = bt.BCEWithLogitsLoss(-torch.ones(8))
    messages = []
    for ctx in (count_kernel_calls, generic_path):
        with ctx(), pytest.raises(err, match="PyTorch") as info:
            loss(x, y)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_large_gradients_reuse_memory_only_when_no_tensor_holds_it() -> None:
    # the gradient of a large input comes from kept buffers (no page faults on every call);
    # a gradient the caller still holds (accumulation, a saved copy) is never overwritten
    n = fused.POOL_MIN
    gen = torch.Generator().manual_seed(3)
    y = (torch.rand(n, generator=gen) < 0.4).float()
    loss = bt.BCEWithLogitsLoss()
    x = torch.randn(n, generator=gen).requires_grad_(True)
    loss(x, y).backward()
    first = x.grad.clone()
    kept = x.grad.data_ptr()
    loss(x, y).backward()  # accumulates into x.grad: two passes, one buffer each
    assert torch.equal(x.grad, 2 * first)
    others = [torch.randn(n, generator=gen).requires_grad_(True) for _ in range(3)]
    for z in others:
        loss(z, y).backward()
        assert z.grad.data_ptr() != x.grad.data_ptr()
    assert torch.equal(x.grad, 2 * first)  # untouched while held
    with generic_path():
        for z in others:
            ref = z.detach().clone().requires_grad_(True)
            loss(ref, y).backward()
            assert torch.allclose(z.grad, ref.grad, rtol=1e-6, atol=0.0)
    used = {kept} | {z.grad.data_ptr() for z in others}
    x.grad = None
    for z in others:
        z.grad = None
    x2 = torch.randn(n, generator=gen).requires_grad_(True)
    loss(x2, y).backward()
    assert x2.grad.data_ptr() in used  # memory no tensor held any more was used again


@pytest.mark.parametrize("scale", [0.25, -3.0, 0.0])
def test_a_scaled_loss_scales_the_kept_gradient_without_touching_it(scale: float) -> None:
    # loss / steps (gradient accumulation) or one term of a sum: grad_output is not 1, so
    # the backward scales the kernel's kept buffer in place; a gradient the caller holds
    # (``plain``, then ``held``) is never that buffer and stays as it is
    n = fused.POOL_MIN
    gen = torch.Generator().manual_seed(5)
    y = (torch.rand(n, generator=gen) < 0.3).float()
    x = (3 * torch.randn(n, generator=gen)).requires_grad_(True)
    loss = bt.BCEWithLogitsLoss()
    loss(x, y).backward()
    plain = x.grad
    for _ in range(3):  # the buffers are used again from the second step on
        x.grad = None
        (loss(x, y) * scale).backward()
        assert torch.equal(x.grad, plain * scale)
        assert x.grad.data_ptr() != plain.data_ptr()
        assert x.grad.data_ptr() in {b.ctypes.data for b in fused._Pool.buffers}
    held = x.grad
    (loss(x, y) * 2.0).backward()  # accumulates: the held gradient is read, not reused
    assert torch.equal(x.grad, plain * scale + plain * 2.0)
    assert torch.equal(held, x.grad) and held.data_ptr() == x.grad.data_ptr()
    with generic_path():
        ref = x.detach().clone().requires_grad_(True)
        (loss(ref, y) * scale).backward()
    assert torch.allclose(plain * scale, ref.grad, rtol=1e-6, atol=1e-12)
