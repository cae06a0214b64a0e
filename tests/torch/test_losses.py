"""bcelab.torch losses: parity with torch's own losses, autocast, compile, torch.func, errors.

The drop-in checks of BCELoss / BCEWithLogitsLoss against torch.nn are in test_dropin.py.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
F = torch.nn.functional

import bcelab  # noqa: E402
import bcelab.torch as bt  # noqa: E402
from bcelab.errors import DomainError, DTypeError, NaNError, OptionError, ShapeError  # noqa: E402


def _data(seed: int, shape: tuple[int, ...] = (16, 3), scale: float = 4.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64) * scale
    y = torch.rand(shape, generator=g, dtype=torch.float64)
    return x, y


def _grad(loss_fn, x, *args, **kwargs):
    x = x.detach().clone().requires_grad_(True)
    loss_fn(x, *args, **kwargs).backward()
    return x.grad


# --- parity with torch where torch is exact ------------------------------------------


@given(seed=st.integers(0, 2**31 - 1), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_bce_logits_value_and_grad_match_torch(seed, reduction):
    # Reference: torch.nn.functional.binary_cross_entropy_with_logits in float64, which is
    # exact to rounding for finite logits of moderate size (|x| <= ~20 here).
    x, y = _data(seed)
    ours = bt.BCEWithLogitsLoss(reduction=reduction)

    def ref(a, b):
        return F.binary_cross_entropy_with_logits(a, b, reduction=reduction)

    if reduction == "none":
        np.testing.assert_allclose(ours(x, y).numpy(), ref(x, y).numpy(), rtol=1e-12, atol=1e-14)
        return
    assert float(ours(x, y)) == pytest.approx(float(ref(x, y)), rel=1e-12)
    np.testing.assert_allclose(_grad(ours, x, y), _grad(ref, x, y), rtol=1e-10, atol=1e-15)


@given(seed=st.integers(0, 2**31 - 1))
def test_bce_probs_grad_matches_torch_bce(seed):
    # Reference: F.binary_cross_entropy (float64): exact while p stays well inside (0, 1),
    # where its log clamp at -100 and its 1e-12 gradient guard are inactive.
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(32, generator=g, dtype=torch.float64) * 0.998 + 0.001
    y = torch.rand(32, generator=g, dtype=torch.float64)
    ours = bt.BCELoss()
    assert float(ours(p, y)) == pytest.approx(float(F.binary_cross_entropy(p, y)), rel=1e-12)
    np.testing.assert_allclose(
        _grad(ours, p, y), _grad(F.binary_cross_entropy, p, y), rtol=1e-9, atol=1e-15
    )


def test_float32_matches_torch_to_float32_rounding():
    x, y = _data(3, (1000,))
    x32, y32 = x.float(), y.float()
    ours = bt.BCEWithLogitsLoss(reduction="none")(x32, y32)
    assert ours.dtype == torch.float32
    ref64 = F.binary_cross_entropy_with_logits(x32.double(), y32.double(), reduction="none")
    np.testing.assert_allclose(ours.numpy(), ref64.float().numpy(), rtol=2e-7, atol=1e-30)


def test_pos_weight_per_label_and_sample_weight_match_torch():
    # torch's pos_weight broadcasts over the last axis (one per label), as bcelab's does.
    x, y = _data(5, (8, 3))
    pw = torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64)
    w = torch.rand(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ours = bt.BCEWithLogitsLoss(pos_weight=pw, weight=w, reduction="sum")
    ref = torch.nn.BCEWithLogitsLoss(pos_weight=pw, weight=w, reduction="sum")
    assert float(ours(x, y)) == pytest.approx(float(ref(x, y)), rel=1e-12)
    np.testing.assert_allclose(
        _grad(lambda a: ours(a, y), x), _grad(lambda a: ref(a, y), x), rtol=1e-10
    )
    # a scalar pos_weight is accepted as a number; a tensor is a buffer that follows .to()
    assert float(bt.BCEWithLogitsLoss(pos_weight=2.0)(x, y)) == pytest.approx(
        float(F.binary_cross_entropy_with_logits(x, y, pos_weight=torch.tensor(2.0))), rel=1e-12
    )
    assert {"pos_weight", "weight"} <= set(dict(ours.named_buffers()))


def test_label_smoothing_is_the_smoothed_target():
    # Keras/optax convention y (1 - s) + s / 2; torch has no BCE smoothing (pytorch#91545).
    x, y = _data(7)
    s = 0.2
    got = bt.BCEWithLogitsLoss(label_smoothing=s)(x, y)
    assert float(got) == pytest.approx(
        float(F.binary_cross_entropy_with_logits(x, y * (1 - s) + s / 2)), rel=1e-12
    )


def test_infinite_logits_give_the_limit_where_torch_gives_nan():
    # The limit of softplus: x -> +inf with y = 1 costs 0, with y = 0 costs +inf
    # (pytorch#49844: torch returns NaN for the first).
    x = torch.tensor([math.inf, -math.inf, math.inf, -math.inf])
    y = torch.tensor([1.0, 0.0, 0.0, 1.0])
    got = bt.BCEWithLogitsLoss(reduction="none")(x, y)
    assert got.tolist() == [0.0, 0.0, math.inf, math.inf]
    assert torch.isnan(F.binary_cross_entropy_with_logits(x, y, reduction="none")).any()


# --- KL and focal ---------------------------------------------------------------------


def test_kl_loss_has_the_bce_gradient_and_is_zero_at_a_perfect_fit():
    x, y = _data(11)
    np.testing.assert_allclose(
        _grad(bt.BinaryKLWithLogitsLoss(), x, y),
        _grad(bt.BCEWithLogitsLoss(), x, y),
        rtol=1e-9,
        atol=1e-15,
    )
    # soft targets: BCE at p = y is the floor H(y) > 0, the KL loss is exactly 0
    p = y.clone()
    assert float(bt.BinaryKLLoss()(p, y)) == 0.0
    assert float(bt.BCELoss()(p, y)) > 0.1


def test_focal_gamma_zero_is_bce_and_gradients_stay_finite():
    x, y = _data(13)
    assert float(bt.FocalWithLogitsLoss(gamma=0.0)(x, y)) == pytest.approx(
        float(bt.BCEWithLogitsLoss()(x, y))
    )
    # extreme logits with gamma < 1: finite gradient (tensorflow#70326, kornia#2115)
    xe = torch.tensor([-80.0, 80.0, 0.0, 30.0], dtype=torch.float64)
    ye = torch.tensor([0.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    g = _grad(bt.FocalWithLogitsLoss(gamma=0.5), xe, ye)
    assert torch.isfinite(g).all()
    # analytic reference: bcelab.focal_with_logits_grad (log-space formula)
    ref = bcelab.focal_with_logits_grad(xe, ye, gamma=0.5, reduction="mean")
    np.testing.assert_allclose(g.numpy(), ref.numpy(), rtol=1e-9, atol=1e-300)


# --- autocast, compile, torch.func ------------------------------------------------------


def test_autocast_bfloat16_is_computed_in_float32():
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 3)
    xin = torch.randn(64, 4)
    y = torch.rand(64, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = lin(xin)
        assert logits.dtype == torch.bfloat16
        loss = bt.BCEWithLogitsLoss()(logits, y)
        probs_loss = bt.BCELoss()(torch.sigmoid(logits), y)
    assert loss.dtype == torch.float32 and probs_loss.dtype == torch.float32
    # the reference is the float64 loss of the very bfloat16 values, rounded to float32
    ref = F.binary_cross_entropy_with_logits(logits.detach().double(), y.double())
    assert float(loss.detach()) == pytest.approx(float(ref), rel=1e-6)
    loss.backward()
    assert lin.weight.grad is not None and torch.isfinite(lin.weight.grad).all()


def test_torch_compile_matches_eager():
    # backend="aot_eager" traces forward and backward through dynamo + AOTAutograd without
    # inductor's C++ code generation, which takes ~25 s on this 2-core machine.
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2).double()
    loss_fn = bt.BCEWithLogitsLoss(label_smoothing=0.1)
    x = torch.randn(8, 3, dtype=torch.float64)
    y = torch.rand(8, 2, dtype=torch.float64)

    def step(inp):
        return loss_fn(lin(inp), y)

    eager = step(x)
    (ge,) = torch.autograd.grad(eager, lin.weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = torch.compile(step, backend="aot_eager")
        got = compiled(x)
        (gc,) = torch.autograd.grad(got, lin.weight)
    assert float(got.detach()) == pytest.approx(float(eager.detach()), rel=1e-12)
    np.testing.assert_allclose(gc.numpy(), ge.numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    ("make", "probs", "soft"),
    [
        (lambda: bt.BCEWithLogitsLoss(reduction="none"), False, False),
        (lambda: bt.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0, 0.5])), False, True),
        (lambda: bt.BCELoss(reduction="none"), True, False),
        (lambda: bt.BinaryKLWithLogitsLoss(), False, True),
        (lambda: bt.FocalWithLogitsLoss(), False, False),
        (lambda: bt.FocalLoss(), True, True),
    ],
)
def test_the_generic_path_compiles_into_one_graph(make, probs: bool, soft: bool) -> None:
    # the path CUDA tensors and the kernel's ineligible options take: fullgraph=True
    # fails on any graph break (which would keep Inductor from fusing the loss)
    torch.manual_seed(1)
    x = torch.randn(64, 2, dtype=torch.float64)
    x = torch.sigmoid(x) if probs else x
    y = torch.rand(64, 2, dtype=torch.float64)
    y = y if soft else torch.round(y)
    loss_fn = make()
    eager = loss_fn(x, y).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = torch.compile(lambda a, t: loss_fn(a, t).sum(), backend="eager", fullgraph=True)(x, y)
    assert float(got) == pytest.approx(float(eager), rel=1e-12)


def test_func_grad_equals_the_analytic_gradient():
    x, y = _data(17)
    g = torch.func.grad(lambda a: bt.BCEWithLogitsLoss(pos_weight=1.5)(a, y))(x)
    ref = bcelab.bce_with_logits_grad(x, y, pos_weight=1.5, reduction="mean")
    np.testing.assert_allclose(g.numpy(), ref.numpy(), rtol=1e-12, atol=1e-18)


def test_func_vmap_gives_per_sample_losses():
    x, y = _data(19, (10, 4))
    per = torch.func.vmap(bt.BCEWithLogitsLoss())(x, y)
    ref = bcelab.bce_with_logits(x, y, reduction="per_sample")
    np.testing.assert_allclose(per.numpy(), ref.numpy(), rtol=1e-12)
    # vmap of grad: the per-sample gradients
    pg = torch.func.vmap(torch.func.grad(bt.BCEWithLogitsLoss(reduction="sum")))(x, y)
    np.testing.assert_allclose(pg.numpy(), bcelab.bce_with_logits_grad(x, y).numpy(), rtol=1e-12)


# --- bad input: bcelab's error, naming PyTorch, before torch's own ------------------------


def test_targets_out_of_range_raise_instead_of_a_silent_negative_loss():
    # a 0..255 mask (pytorch#123339): torch returns softplus(x) - 255 x < 0 without a word
    x = torch.tensor([2.0, 3.0])
    y255 = torch.tensor([255.0, 255.0])
    assert float(F.binary_cross_entropy_with_logits(x, y255)) < 0
    with pytest.raises(
        DomainError, match=r"bcelab\.torch\.BCEWithLogitsLoss \(PyTorch\).*\[0, 1\]"
    ):
        bt.BCEWithLogitsLoss()(x, y255)


def test_errors_name_pytorch_and_come_first():
    x, y = _data(29, (4, 3))
    with pytest.raises(ShapeError, match="PyTorch"):  # torch raises its own ValueError
        bt.BCEWithLogitsLoss()(x, y[:, :1].squeeze(1))
    with pytest.raises(DomainError, match=r"PyTorch.*probabilities") as err:
        bt.BCELoss()(x, y)
    assert "use bcelab.torch.BCEWithLogitsLoss instead" in err.value.fix  # no logits= here
    with pytest.raises(DomainError, match=r"use bcelab\.torch\.FocalWithLogitsLoss instead"):
        bt.FocalLoss()(x, y)
    with pytest.raises(NaNError, match="PyTorch") as err:
        bt.FocalWithLogitsLoss()(x, torch.full_like(y, math.nan))
    # the adapters take no nan_policy: the advice names the core function that does
    assert "when nan_policy" not in str(err.value)
    assert err.value.fix.endswith(
        "call bcelab.focal_with_logits(..., nan_policy='omit') on the same arrays (prediction first)"
    )
    with pytest.raises(DTypeError, match="PyTorch"):
        bt.BCEWithLogitsLoss()(x.numpy(), y)
    with pytest.raises(DTypeError, match="PyTorch"):
        bt.BinaryKLWithLogitsLoss()(x.long(), y)
    with pytest.raises(DTypeError, match="PyTorch"):
        bt.BCELoss(weight=[1.0, 2.0, 3.0])  # torch's weight is a tensor
    with pytest.raises(ShapeError, match=r"BCELoss \(PyTorch\): weight must broadcast"):
        bt.BCELoss(weight=torch.ones(4))(y, y)  # 4 does not broadcast to (4, 3)
    with pytest.raises(ShapeError, match=r"PyTorch.*pos_weight must broadcast"):
        bt.BCEWithLogitsLoss(pos_weight=torch.ones(2))(x, y)
    with pytest.raises(OptionError, match=r"BCELoss \(PyTorch\): reduction must be one of"):
        bt.BCELoss(reduction="avg")
    with pytest.raises(OptionError, match="PyTorch"):
        bt.BCEWithLogitsLoss(label_smoothing=1.5)
    with pytest.raises(OptionError, match="PyTorch"):
        bt.BCELoss(clip=0.7)
    with pytest.raises(OptionError, match="PyTorch"):
        bt.FocalLoss(gamma=-1.0)
    with pytest.raises(OptionError, match="PyTorch"):
        bt.BCEWithLogitsLoss(convention="tensorflow")
    with pytest.raises(TypeError):
        bt.BCEWithLogitsLoss(clip=1e-7)  # clip is for probabilities: BCELoss only
    with pytest.raises(DomainError, match="PyTorch"):
        bt.check_inputs(x, y * 2, logits=True)
    with pytest.raises(DomainError, match="PyTorch"):
        bt.check_inputs(x, y, logits=False)  # x holds logits, not probabilities


def test_value_checks_are_skipped_under_torch_func_as_documented():
    # Under torch.func transforms values are not concrete: the core skips the value checks
    # (documented); the eager call raises.
    x, y = _data(31, (4,))
    bad = y * 3
    with pytest.raises(DomainError):
        bt.BCEWithLogitsLoss()(x, bad)
    g = torch.func.grad(lambda a: bt.BCEWithLogitsLoss()(a, bad))(x)
    assert g.shape == x.shape


def test_meta_tensors_are_refused_with_a_clear_error():
    # the meta device holds shapes only: the checks and the metrics need values.  Keras's
    # torch backend tries each loss and metric on meta tensors first and runs it on real
    # ones when that raises; a meta call that went through left garbage in a metric's
    # state (a base rate of -5e-21 in the fit test on a loaded machine)
    x = torch.zeros(5, 2, device="meta", requires_grad=True)
    y = torch.zeros(5, 2, device="meta")
    for call in (
        lambda: bt.BCEWithLogitsLoss()(x, y),
        lambda: bt.BCELoss()(x, y),
        lambda: bcelab.binary_entropy(y),
        lambda: bt.StreamingBinaryMetrics(logits=True).update(x, y),
    ):
        with pytest.raises(bcelab.DataError, match="a tensor on the meta device, which holds"):
            call()


def test_docs_example_runs():
    # the PyTorch example of docs/adapters.md, executed as written
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "adapters.md").read_text()
    (code,) = re.findall(r"```python\n(# docs-test: torch\n.*?)```", doc, re.S)
    exec(compile(code, "docs/adapters.md (torch)", "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize("pos_weight", [[1.0, 2.0, 3.0], True, "2", np.ones(3)])
def test_a_pos_weight_that_is_no_number_or_tensor_says_to_make_it_a_tensor(pos_weight):
    # a list ended in TypeError: float() argument must be a string or a real number
    with pytest.raises(OptionError, match=r"pos_weight must be None, a number or a tensor"):
        bt.BCEWithLogitsLoss(pos_weight=pos_weight)
    assert bt.BCEWithLogitsLoss(pos_weight=np.float32(2.0)).pos_weight_value == 2.0
