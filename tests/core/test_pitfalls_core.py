"""One test per item of ../shared/reference/pitfalls.md that the core is responsible for.

Items 4 (autocast) and 10 (Keras metrics) are covered in the adapter tests, 15 (threshold
ties) and 16 (calibration memory, Dask-ML bias) in the metrics/evaluation tests.
"""

from __future__ import annotations

import numpy as np
import pytest

import bcelab

F32 = np.float32


def test_p1_tf_keras_double_epsilon() -> None:
    # keras#15249, tensorflow#51675: clip *and* +eps inside the log
    y = np.array([0.5, 0.3, 0.5, 0.9], F32)
    floor = float(bcelab.binary_entropy(y.astype(np.float64), reduction="mean"))
    tfk = float(bcelab.bce(y, y, convention="tf_keras", reduction="mean"))
    assert tfk < floor  # the double epsilon scores a perfect prediction *below* its minimum
    assert float(bcelab.bce(y, y, reduction="mean")) == pytest.approx(floor, rel=1e-7)
    # and distorts the extremes: -log(1e-7 + 1e-7) instead of -log(1e-7)
    v = bcelab.bce(np.array([0.0], F32), np.array([1.0], F32), convention="tf_keras")
    assert float(v[0]) == pytest.approx(-np.log(2e-7), rel=1e-6)


def test_p2_clipping_kills_the_gradient_logits_do_not() -> None:
    # keras#9664, keras#9247: a saturated sigmoid + clip has gradient 0, the truth is +-1
    x = np.array([100.0, -100.0])
    y = np.array([0.0, 1.0])
    np.testing.assert_array_equal(bcelab.bce_with_logits_grad(x, y), [1.0, -1.0])
    p = bcelab.sigmoid(x.astype(F32))
    np.testing.assert_array_equal(bcelab.bce_grad(p, y.astype(F32), clip=1e-7), [0.0, 0.0])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_p3_epsilon_below_dtype_resolution_is_refused(dtype: str) -> None:
    # keras#377, tensorflow#38457: 1 - 1e-7 == 1 in float16/bfloat16
    torch = pytest.importorskip("torch")
    p = torch.tensor([1.0, 0.0], dtype=getattr(torch, dtype))
    y = torch.tensor([0.0, 1.0])
    with pytest.raises(bcelab.OptionError, match="representable below 1"):
        bcelab.bce(p, y, clip=1e-7)
    out = bcelab.bce(p, y)  # computed in float32: the exact limits, never NaN
    assert out.dtype == torch.float32 and torch.isinf(out).all()


def test_p5_sigmoid_then_bce_at_zero_and_one() -> None:
    # pytorch#4867, #51866, #24933: no odd constants (27.63, 100) and no NaN at 0 and 1
    out = bcelab.bce(np.array([1.0, 0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0, 1.0]))
    np.testing.assert_array_equal(out, [0.0, 0.0, np.inf, np.inf])
    with pytest.raises(bcelab.DomainError, match="probabilities must lie in"):
        bcelab.bce(np.array([1.0 + 1e-7]), np.array([1.0]))  # never NaN for p slightly > 1


def test_p6_infinite_logits_give_limits_not_nan() -> None:
    # pytorch#49844, #102894: masking with -inf
    torch = pytest.importorskip("torch")
    x = torch.tensor([-np.inf, np.inf, -np.inf, np.inf], requires_grad=True)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0])
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert torch.isnan(theirs).any()  # the reported failure
    ours = bcelab.bce_with_logits(x, y)
    assert ours.tolist() == [0.0, 0.0, np.inf, np.inf]
    bcelab.bce_with_logits(x[:2], y[:2], reduction="sum").backward()
    assert x.grad.tolist()[:2] == [0.0, 0.0]


def test_p7_target_range_is_checked() -> None:
    # pytorch#123339, #110865: targets of 2, masks in 0..255 gave negative losses silently
    with pytest.raises(bcelab.DomainError, match=r"divide 0\.\.255 masks by 255"):
        bcelab.bce_with_logits(np.zeros(3), np.array([0.0, 2.0, 255.0]))


def test_p8_pos_weight_shapes() -> None:
    # pytorch#82496, #27936, #25174: pos_weight is one weight per label (last axis)
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).normal(size=(5, 3))
    y = (x > 0.3).astype(float)
    pw = np.array([1.0, 2.0, 3.0])
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(x), torch.tensor(y), pos_weight=torch.tensor(pw), reduction="none"
    ).numpy()
    np.testing.assert_allclose(bcelab.bce_with_logits(x, y, pos_weight=pw), ref, rtol=1e-12)
    with pytest.raises(bcelab.ShapeError, match="one weight per label"):
        bcelab.bce_with_logits(x, y, pos_weight=np.ones(5))  # per-sample is not per-label


def test_p9_reduction_none_is_truly_elementwise_and_per_label_weights_work() -> None:
    # tensorflow#35004, keras#17766: Keras averages the last axis even with reduction='none'
    x = np.random.default_rng(2).normal(size=(4, 3))
    y = (x > 0).astype(float)
    assert bcelab.bce_with_logits(x, y).shape == (4, 3)
    w = np.broadcast_to([1.0, 0.0, 2.0], (4, 3))  # per-label weights
    v = bcelab.bce_with_logits(x, y, weights=w, reduction="sum")
    assert float(v) == pytest.approx(float((bcelab.bce_with_logits(x, y) * w).sum()), rel=1e-15)


def test_p11_soft_target_floor_and_a_loss_whose_minimum_is_zero() -> None:
    # FCOS#13, pytorch#11959, seed 000
    y = np.array([0.5, 0.3, 0.5, 0.9])
    d = bcelab.decompose(y, y)
    assert d.bce == pytest.approx(0.58056041, abs=5e-9) and d.excess == 0.0
    assert float(bcelab.binary_kl(y, y, reduction="mean")) == 0.0


def test_p12_soft_targets_and_single_class_batches() -> None:
    # sklearn#18523, #6703
    assert np.isfinite(float(bcelab.bce([0.2, 0.7], [0.1, 0.9], reduction="mean")))
    one_class = bcelab.bce([0.9, 0.8], [1, 1], reduction="mean")  # no labels= needed
    assert float(one_class) == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2, rel=1e-15)


def test_p13_focal_gradients_finite_at_extremes() -> None:
    # tensorflow#70326, kornia#2115
    torch = pytest.importorskip("torch")
    for gamma in (0.25, 0.5, 2.0):
        x = torch.tensor([-200.0, -80.0, 0.0, 80.0, 200.0], requires_grad=True)
        bcelab.focal_with_logits(x, torch.ones(5), gamma=gamma, reduction="sum").backward()
        assert torch.isfinite(x.grad).all(), (gamma, x.grad)
        np.testing.assert_allclose(
            x.grad.numpy(),
            bcelab.focal_with_logits_grad(x.detach().numpy(), np.ones(5, F32), gamma=gamma),
            rtol=1e-5,
            atol=1e-30,
        )


@pytest.mark.parametrize("alpha", [None, 0.25])
def test_focal_gradient_at_infinite_logits_on_the_wrong_side(alpha: float | None) -> None:
    # x = +inf with y = 0 and x = -inf with y = 1: the loss is inf and its gradient the
    # limit from finite logits, +-1 (times alpha_t) as the analytic gradient gives; autodiff
    # gave NaN (the factor's derivative 0 times the infinite cross-entropy)
    torch = pytest.importorskip("torch")
    x = np.array([np.inf, -np.inf, np.inf, -np.inf, 3.0])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    want = bcelab.focal_with_logits_grad(x, y, gamma=2.0, alpha=alpha)
    assert np.isfinite(want).all() and want[0] > 0 > want[1]
    xt = torch.tensor(x, requires_grad=True)
    loss = bcelab.focal_with_logits(xt, torch.tensor(y), gamma=2.0, alpha=alpha, reduction="sum")
    loss.backward()
    np.testing.assert_allclose(xt.grad.numpy(), want, rtol=1e-12)
    jnp = pytest.importorskip("jax.numpy")
    import jax

    def f(z: object) -> object:
        return bcelab.focal_with_logits(z, jnp.asarray(y), gamma=2.0, alpha=alpha, reduction="sum")

    np.testing.assert_allclose(np.asarray(jax.grad(f)(jnp.asarray(x))), want, rtol=1e-6)


@pytest.mark.parametrize("gamma", [0.25, 0.5, 0.9, 1.0, 2.0])
def test_focal_gradient_at_perfect_infinite_logits_is_zero(gamma: float) -> None:
    # x = +inf with y = 1 and x = -inf with y = 0: loss 0, derivative 0 (the limit
    # q^gamma p of the factor's derivative times CE); for gamma < 1 the analytic gradient
    # was NaN (its log-space form took exp(inf - inf))
    x = np.array([np.inf, -np.inf, np.inf, -np.inf])
    y = np.array([1.0, 0.0, 0.3, 0.7])
    got = bcelab.focal_with_logits_grad(x, y, gamma=gamma)
    np.testing.assert_array_equal(got[:2], [0.0, 0.0])
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, requires_grad=True)
    bcelab.focal_with_logits(xt, torch.tensor(y), gamma=gamma, reduction="sum").backward()
    np.testing.assert_array_equal(got, xt.grad.numpy())


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_from_probabilities_has_the_bce_sign_where_the_loss_is_infinite(gamma) -> None:
    # p = 1 with y < 1 and p = 0 with y > 0: the loss is inf and its derivative the
    # factor times the BCE's (+-inf, as bce gives); autograd gave NaN (the factor's logs
    # have an infinite derivative there, and the factor's own derivative is 0 * inf)
    torch = pytest.importorskip("torch")
    p = np.array([1.0, 0.0, 0.0, 0.3, 1.0, 0.0])
    y = np.array([0.0, 1.0, 0.3, 0.6, 1.0, 0.0])
    want = np.array([np.inf, -np.inf, -np.inf, np.nan, 0.0, 0.0])
    pt, yt = torch.tensor(p, requires_grad=True), torch.tensor(y, requires_grad=True)
    bcelab.focal(pt, yt, gamma=gamma, reduction="sum").backward()
    want[3] = pt.grad[3].item()  # a finite point: the logits' analytic gradient below
    np.testing.assert_array_equal(pt.grad.numpy(), want)
    np.testing.assert_array_equal(np.sign(yt.grad.numpy()[:3]), [-1.0, 1.0, 1.0])
    z = float(np.log(0.3 / 0.7))  # d/dp = d/dx / (p (1 - p)) at x = logit(p)
    dz = bcelab.focal_with_logits_grad(np.array([z]), y[3:4], gamma=gamma)[0]
    assert want[3] == pytest.approx(dz / (0.3 * 0.7), rel=1e-12)
    jnp = pytest.importorskip("jax.numpy")
    import jax

    for x64 in (True, False):
        with jax.enable_x64(x64):
            f = lambda q: bcelab.focal(q, jnp.asarray(y), gamma=gamma, reduction="sum")  # noqa: E731
            got = np.asarray(jax.grad(f)(jnp.asarray(p)), np.float64)
            np.testing.assert_allclose(got, want, rtol=1e-6)


def test_p14_label_smoothing_on_torch() -> None:
    # pytorch#91545: BCE has no label smoothing in PyTorch
    torch = pytest.importorskip("torch")
    x = torch.tensor([10.0, -10.0, -10.0])
    y = torch.tensor([1.0, 0.0, 1.0])
    v = bcelab.bce_with_logits(x, y, label_smoothing=0.1, reduction="mean")
    assert float(v) == pytest.approx(3.5000454, rel=1e-6)  # vectors.md R8


def test_p17_float32_accumulation() -> None:
    # summing 1e8 float32 values in float32 stalls at 2**24; bcelab accumulates in float64
    v = np.ones(2**24 + 1000, dtype=F32)
    naive = np.cumsum(v, dtype=F32)[-1]  # a sequential float32 running sum
    assert naive == 2**24  # stuck
    assert float(bcelab.reduce(v, reduction="sum")) == 2**24 + 1000


def test_reduce_weights_are_applied_in_the_accumulation_dtype() -> None:
    # weights were cast to the values' dtype first: a float16 value's weight of 0.3
    # became 0.2998 (a silent 5e-4 error), and a weight of 65520 became inf, refused
    # as "inf" though the caller passed a finite number
    v = np.ones(2, dtype=np.float16)
    assert float(bcelab.reduce(v, weights=np.array([0.3, 0.3]), reduction="sum")) == 0.6
    assert float(bcelab.reduce(v, weights=np.array([0.3, 65520.0]), reduction="sum")) == 65520.3
    out = bcelab.reduce(v, weights=np.array([0.3, 65520.0]), reduction="none")
    assert out.dtype == np.float16 and out[0] == np.float16(0.3) and np.isinf(out[1])
    w32 = bcelab.reduce(np.ones(1, F32), weights=np.array([0.1]), reduction="none")
    assert w32.dtype == F32 and w32[0] == F32(0.1)  # one rounding of w * v
