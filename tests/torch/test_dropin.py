"""The drop-in names: bcelab.torch.BCELoss is torch.nn.BCELoss (probabilities) and
bcelab.torch.BCEWithLogitsLoss is torch.nn.BCEWithLogitsLoss (logits).

For every reduction, with and without ``weight`` (same shape, and shapes that torch
broadcasts: a scalar, one per column, one per row) and ``pos_weight``, forward values and
gradients, float32 and float64, on interior inputs: probabilities in (1e-6, 1 - 1e-6)
(logits in about (-13.8, 13.8)).  There both compute the same formula: float64 agrees to
rounding; in float32 torch computes in float32 and bcelab in float64 rounded once, so
bcelab agrees with torch's float64 result to float32 rounding, and with torch's float32
result to within torch's own float32 error.  What differs at p = 0 and p = 1 (torch clamps its logs)
is tested on its own, as documented.
"""

from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import bcelab.torch as bt  # noqa: E402
from bcelab.errors import DomainError  # noqa: E402

SHAPES = [(1,), (9,), (6, 3), (2, 3, 4)]
REDUCTIONS = ["none", "mean", "sum"]
DTYPES = [torch.float32, torch.float64]


def _broadcast_shapes(shape: tuple[int, ...]) -> list[tuple[int, ...] | None]:
    """None (no weight), the input's shape, and shapes torch broadcasts to it."""
    out: list[tuple[int, ...] | None] = [None, shape, (), (shape[-1],)]
    if len(shape) >= 2:
        out.append((shape[0],) + (1,) * (len(shape) - 1))  # one per row
    return out


@st.composite
def cases(draw: st.DrawFn, *, pos_weight: bool) -> dict:
    shape = draw(st.sampled_from(SHAPES))
    return {
        "shape": shape,
        "seed": draw(st.integers(0, 2**31 - 1)),
        "hard": draw(st.booleans()),
        "weight": draw(st.sampled_from(_broadcast_shapes(shape))),
        "pos_weight": draw(st.sampled_from([None, (), (shape[-1],), shape]))
        if pos_weight
        else None,
    }


def _data(case: dict, dtype: torch.dtype):
    g = torch.Generator().manual_seed(case["seed"])
    shape = case["shape"]
    p = 1e-6 + (1 - 2e-6) * torch.rand(shape, generator=g, dtype=torch.float64)
    y = torch.rand(shape, generator=g, dtype=torch.float64)
    if case["hard"]:
        y = (y < 0.4).double()

    def positive(s):
        return None if s is None else 0.1 + 3 * torch.rand(s, generator=g, dtype=torch.float64)

    w, pw = positive(case["weight"]), positive(case["pos_weight"])
    upstream = torch.randn(shape, generator=g, dtype=torch.float64)
    return [None if t is None else t.to(dtype) for t in (p, y, w, pw, upstream)]


def _value_and_grad(loss, pred, target, upstream):
    x = pred.detach().clone().requires_grad_(True)
    out = loss(x, target)
    out.backward(upstream if out.ndim else None)
    return out.detach(), x.grad


def _assert_same(ours, ref, pred, target, upstream):
    (v, g), (rv, rg) = (_value_and_grad(f, pred, target, upstream) for f in (ours, ref))
    assert v.dtype == rv.dtype and v.shape == rv.shape
    assert g.dtype == rg.dtype and g.shape == rg.shape
    if pred.dtype == torch.float64:
        for a, b in ((v, rv), (g, rg)):
            a, b = a.numpy(), b.numpy()
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.abs(b).max())
        return
    # float32: torch computes in float32 (with its own rounding error, e.g. where the
    # gradient's two terms nearly cancel), bcelab in float64 rounded once.  So bcelab
    # equals torch's float64 result on the same float32 inputs to float32 rounding, and
    # torch's float32 result to within torch's own error.
    ref64 = copy.deepcopy(ref).double()
    ev, eg = _value_and_grad(ref64, pred.double(), target.double(), upstream.double())
    for a, b, exact in ((v, rv, ev), (g, rg, eg)):
        a, b, exact = a.double().numpy(), b.double().numpy(), exact.numpy()
        tiny = 1e-7 * np.abs(exact).max()
        np.testing.assert_allclose(a, exact, rtol=1e-6, atol=tiny)
        assert np.all(np.abs(a - b) <= 2 * np.abs(b - exact) + 1e-6 * np.abs(exact) + tiny)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=30)
@given(case=cases(pos_weight=False))
def test_bce_loss_equals_torch_bce_loss(reduction, dtype, case):
    p, y, w, _, upstream = _data(case, dtype)
    ours = bt.BCELoss(w, reduction)
    ref = torch.nn.BCELoss(w, reduction=reduction)
    _assert_same(ours, ref, p, y, upstream)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=30)
@given(case=cases(pos_weight=True))
def test_bce_with_logits_loss_equals_torch_bce_with_logits_loss(reduction, dtype, case):
    p, y, w, pw, upstream = _data(case, dtype)
    x = torch.logit(p.double()).to(dtype)
    ours = bt.BCEWithLogitsLoss(w, reduction, pw)
    ref = torch.nn.BCEWithLogitsLoss(w, reduction=reduction, pos_weight=pw)
    _assert_same(ours, ref, x, y, upstream)


def test_the_two_losses_are_not_interchangeable_and_say_so():
    # The example: torch's BCELoss takes probabilities, BCEWithLogitsLoss logits;
    # so do bcelab's.  Logits handed to BCELoss are caught, not silently scored.
    x = torch.tensor([2.0, -1.0, 0.5])
    y = torch.tensor([1.0, 0.0, 1.0])
    want = float(torch.nn.BCEWithLogitsLoss()(x, y))
    assert float(bt.BCEWithLogitsLoss()(x, y)) == pytest.approx(want, rel=1e-6)
    assert float(bt.BCELoss()(torch.sigmoid(x), y)) == pytest.approx(want, rel=1e-6)
    with pytest.raises(DomainError, match=r"BCELoss \(PyTorch\).*probabilities"):
        bt.BCELoss()(x, y)


def test_probabilities_zero_and_one_are_exact_where_torch_clamps():
    # Documented in BCELoss's docstring: torch clamps each log at -100 and guards its
    # gradient's denominator with 1e-12; bcelab computes the formula.
    p = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    ours = bt.BCELoss(reduction="none")(p, y)
    theirs = torch.nn.BCELoss(reduction="none")(p, y)
    assert ours.tolist() == [0.0, 0.0, float("inf"), float("inf")]
    assert theirs.tolist() == [0.0, 0.0, 100.0, 100.0]
    # where the loss is finite (the target agrees), d/dp = (p - y) / (p (1 - p)) -> -+1
    (g_ours, _), (g_theirs, _) = (
        _value_and_grad(f, p[:2], y[:2], torch.ones(2))[::-1]
        for f in (bt.BCELoss(reduction="none"), torch.nn.BCELoss(reduction="none"))
    )
    assert g_ours.tolist() == [1.0, -1.0]
    assert g_theirs.tolist() == [0.0, 0.0]
    # one step inside, the two agree again
    q = torch.tensor([1e-6, 1 - 1e-6], dtype=torch.float64)
    np.testing.assert_allclose(
        bt.BCELoss(reduction="none")(q, 1 - y[:2]).numpy(),
        torch.nn.BCELoss(reduction="none")(q, 1 - y[:2]).numpy(),
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(bt.BCELoss, torch.nn.BCELoss), (bt.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss)],
)
def test_torch_arguments_defaults_and_buffers_match(ours, theirs):
    # torch's arguments (less the deprecated size_average / reduce) with torch's defaults;
    # bcelab's additions are keyword-only and come after them
    ref = inspect.signature(theirs).parameters
    got = inspect.signature(ours).parameters
    torch_names = [n for n in ref if n not in ("size_average", "reduce")]
    assert list(got)[: len(torch_names)] == torch_names
    for name in torch_names:
        assert got[name].default == ref[name].default, name
    extras = list(got)[len(torch_names) :]
    assert extras and all(got[n].kind is inspect.Parameter.KEYWORD_ONLY for n in extras)
    assert "from_logits" not in got  # Keras's word, not torch's
    # the same buffers and state_dict keys: a torch module's state loads into bcelab's
    kwargs = {"weight": torch.rand(3)}
    if theirs is torch.nn.BCEWithLogitsLoss:
        kwargs["pos_weight"] = torch.rand(3)
    t, b = theirs(**kwargs), ours(**kwargs)
    assert t.state_dict().keys() == b.state_dict().keys()
    b2 = ours(**{k: torch.zeros(3) for k in kwargs})
    b2.load_state_dict(t.state_dict())
    x = torch.rand(5, 3) * 0.98 + 0.01
    y = torch.rand(5, 3)
    assert float(b2(x, y)) == pytest.approx(float(t(x, y)), rel=1e-5)
    assert b.double().weight.dtype == torch.float64  # buffers follow .to()


@settings(max_examples=30)
@given(seed=st.integers(0, 2**31 - 1), reduction=st.sampled_from(REDUCTIONS))
def test_probability_and_logit_classes_agree_for_kl_and_focal(seed, reduction):
    g = torch.Generator().manual_seed(seed)
    p = 1e-3 + (1 - 2e-3) * torch.rand(6, 3, generator=g, dtype=torch.float64)
    y = torch.rand(6, 3, generator=g, dtype=torch.float64)
    w = 0.5 + torch.rand(3, generator=g, dtype=torch.float64)  # one weight per column
    x = torch.logit(p)
    for probs_cls, logits_cls, kw in (
        (bt.BinaryKLLoss, bt.BinaryKLWithLogitsLoss, {}),
        (bt.FocalLoss, bt.FocalWithLogitsLoss, {"gamma": 1.5, "alpha": 0.25}),
    ):
        a = probs_cls(w, reduction, **kw)(p, y)
        b = logits_cls(w, reduction, **kw)(x, y)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-15)
        # and the weight is torch's rescaling weight, broadcast over the rows
        plain = probs_cls(None, "none", **kw)(p, y) * w
        ref = {"none": plain, "mean": plain.mean(), "sum": plain.sum()}[reduction]
        np.testing.assert_allclose(a.numpy(), ref.numpy(), rtol=1e-12, atol=1e-15)


def test_focal_with_gamma_zero_is_the_bce_pair():
    g = torch.Generator().manual_seed(0)
    p = 0.01 + 0.98 * torch.rand(20, generator=g, dtype=torch.float64)
    y = torch.rand(20, generator=g, dtype=torch.float64)
    assert float(bt.FocalLoss(gamma=0.0)(p, y)) == pytest.approx(float(bt.BCELoss()(p, y)))
    x = torch.logit(p)
    assert float(bt.FocalWithLogitsLoss(gamma=0.0)(x, y)) == pytest.approx(
        float(bt.BCEWithLogitsLoss()(x, y))
    )


def test_an_error_about_a_tensor_that_needs_grad_raises_no_torch_warning():
    # the message reads the first bad value; float() of such a tensor made torch warn
    # (once per process: hence a fresh one, where any warning is an error)
    import subprocess
    import sys

    code = (
        "import torch, bcelab.torch as bt\n"
        "x = torch.tensor(1.5, requires_grad=True)\n"
        "try:\n"
        "    bt.BCELoss(reduction='none')(x, torch.tensor(1.0))\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, 'first: 1.5' in str(e))\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["DomainError", "True"], out.stdout + out.stderr
