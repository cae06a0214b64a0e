"""Elements a result leaves out (``mask`` False, weight 0, NaN under ``nan_policy="omit"``)
get a gradient of exactly 0 under torch.autograd and jax.grad, also where their loss or
its derivative is infinite or NaN; the kept elements' gradient is that of the loss on the
kept elements alone.

CI runs ``BCELAB_FUZZ_EXAMPLES`` (default 1,000) examples of the fuzz property;
``BCELAB_FUZZ_EXAMPLES=10000 pytest tests/core/test_prepare_shield.py`` runs the larger check.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bcelab
from tests.fuzzing import fuzz

RNG = np.random.default_rng(11)
N = 12
KEEP = RNG.uniform(size=N) < 0.6
KEEP[:2] = True
X = RNG.normal(0, 3, N)
P = 1 / (1 + np.exp(-X))
Y = RNG.uniform(0, 1, N).round(1)


def _hostile(pred: np.ndarray, y: np.ndarray, *, logits: bool, how: str):
    """The inputs with the left-out elements made hostile for their derivative."""
    pred, y = pred.copy(), y.copy()
    if how == "omit":
        y[~KEEP] = np.nan
    else:
        pred[~KEEP] = -np.inf if logits else 1.0  # y = 1 at logit -inf; y = 0 at p = 1
        y[~KEEP] = 1.0 if logits else 0.0
    return pred, y


def _options(how: str, reduction: str, xp_array):
    if how == "mask":
        return {"mask": xp_array(KEEP)}
    if how == "weights":
        return {"weights": xp_array(np.where(KEEP, RNG.uniform(0.5, 2, N), 0.0))}
    return {"nan_policy": "omit"}


CASES = [
    ("bce", bcelab.bce, False, {}),
    ("bce_with_logits", bcelab.bce_with_logits, True, {"pos_weight": 2.0}),
    ("focal", bcelab.focal, False, {"gamma": 0.5}),
    ("focal_with_logits", bcelab.focal_with_logits, True, {"gamma": 2.0, "alpha": 0.25}),
    ("binary_kl", lambda z, y, **kw: bcelab.binary_kl(z, y, logits=True, **kw), True, {}),
]


def _expected(fn, pred, y, kw, how, reduction):
    """The gradient of the same loss on the kept elements alone, by torch (float64)."""
    torch = pytest.importorskip("torch")
    t = torch.tensor(pred[KEEP], requires_grad=True)
    extra = {}
    if how == "weights":
        extra = {"weights": torch.tensor(kw["weights"][KEEP])}
    fn(t, torch.tensor(y[KEEP]), reduction=reduction, **extra, **kw["fixed"]).sum().backward()
    out = np.zeros(N)
    out[KEEP] = t.grad.numpy()
    return out


@pytest.mark.parametrize("how", ["mask", "weights", "omit"])
@pytest.mark.parametrize("reduction", ["sum", "mean", "weighted_mean"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_torch_gradient_of_left_out_elements_is_zero(case, reduction, how):
    torch = pytest.importorskip("torch")
    _, fn, logits, fixed = case
    pred, y = _hostile(X if logits else P, Y, logits=logits, how=how)
    opts = _options(how, reduction, torch.tensor)
    t = torch.tensor(pred, requires_grad=True)
    fn(t, torch.tensor(y), reduction=reduction, **opts, **fixed).backward()
    assert torch.isfinite(t.grad).all(), t.grad
    assert (t.grad.numpy()[~KEEP] == 0).all()
    plain = {"fixed": fixed, "weights": None if how != "weights" else opts["weights"].numpy()}
    want = _expected(fn, np.where(KEEP, pred, 0.5), np.where(KEEP, y, 0.5), plain, how, reduction)
    if reduction == "mean" and how == "weights":
        want *= KEEP.sum() / N  # a weight of 0 still counts in "mean"'s element count
    np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("how", ["mask", "weights", "omit"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_jax_gradient_of_left_out_elements_is_zero(case, how):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    _, fn, logits, fixed = case
    pred, y = _hostile(X if logits else P, Y, logits=logits, how=how)
    opts = _options(how, "weighted_mean", lambda a: jnp.asarray(a))

    def loss(z):
        return fn(z, jnp.asarray(y), reduction="weighted_mean", **opts, **fixed)

    for grad in (jax.grad(loss), jax.jit(jax.grad(loss))):
        g = np.asarray(grad(jnp.asarray(pred)))
        assert np.isfinite(g).all(), g
        assert (g[~KEEP] == 0).all()


@pytest.mark.parametrize("how", ["mask", "weights", "omit"])
def test_target_gradient_of_the_floor(how):
    torch = pytest.importorskip("torch")
    y = Y.copy()
    y[~KEEP] = np.nan if how == "omit" else 0.0
    opts = _options(how, "mean", torch.tensor)
    t = torch.tensor(y, requires_grad=True)
    bcelab.binary_entropy(t, reduction="weighted_mean", **opts).backward()
    assert torch.isfinite(t.grad).all() and (t.grad.numpy()[~KEEP] == 0).all()


@pytest.mark.filterwarnings("error")
def test_decompose_of_tensors_that_require_grad_gives_numbers_without_a_warning():
    torch = pytest.importorskip("torch")
    pred, y = _hostile(X, Y, logits=True, how="mask")
    z = torch.tensor(pred, requires_grad=True)
    d = bcelab.decompose(z, torch.tensor(y), logits=True, mask=torch.tensor(KEEP))
    ref = bcelab.decompose(pred, y, logits=True, mask=KEEP)
    assert d.count == ref.count == KEEP.sum()
    np.testing.assert_allclose(
        [d.bce, d.floor, d.excess], [ref.bce, ref.floor, ref.excess], rtol=1e-14
    )


def test_numpy_values_unchanged_by_the_shield():
    torch = pytest.importorskip("torch")
    pred, y = _hostile(P, Y, logits=False, how="mask")
    for reduction in ("none", "sum", "mean"):
        a = bcelab.bce(pred, y, mask=KEEP, reduction=reduction)
        b = bcelab.bce(
            torch.tensor(pred), torch.tensor(y), mask=torch.tensor(KEEP), reduction=reduction
        )
        np.testing.assert_allclose(np.asarray(a), b.numpy(), rtol=1e-15, atol=0)
    # reduction="none" with nan_policy="omit" keeps NaN where an input is NaN
    _, yn = _hostile(P, Y, logits=False, how="omit")
    out = bcelab.bce(torch.tensor(P), torch.tensor(yn), nan_policy="omit")
    assert torch.isnan(out[~torch.tensor(KEEP)]).all()


@fuzz
@given(data=st.data(), case=st.sampled_from(CASES))
def test_fuzz_left_out_elements_never_give_nan_gradients(data, case):
    """Any valid inputs, edges included (p = 0 and 1, logits +-inf, soft and hard targets),
    with NaN targets, a mask and zero weights drawn at random: the torch gradient is 0 at
    every left-out element, and NaN nowhere while every kept element's loss is finite."""
    torch = pytest.importorskip("torch")
    _, fn, logits, fixed = case
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=5))
    edges = [-np.inf, np.inf, 0.0, 40.0, -40.0] if logits else [0.0, 1.0, 0.5, 1e-300]
    preds = st.sampled_from(edges) | (st.floats(-50, 50) if logits else st.floats(0, 1))
    pred = data.draw(hnp.arrays(np.float64, shape, elements=preds))
    y = data.draw(
        hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 1.0]) | st.floats(0, 1))
    )
    keep = np.ones(shape, bool)
    kw = {"reduction": data.draw(st.sampled_from(["sum", "mean", "weighted_mean"]))}
    if data.draw(st.booleans()):
        nan = data.draw(hnp.arrays(np.bool_, shape))
        y[nan] = np.nan
        keep &= ~nan
        kw["nan_policy"] = "omit"
    if data.draw(st.booleans()):
        m = data.draw(hnp.arrays(np.bool_, shape))
        keep &= m
        kw["mask"] = torch.tensor(m)
    if data.draw(st.booleans()):
        w = data.draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 0.5, 2.0])))
        keep &= w != 0
        kw["weights"] = torch.tensor(w)
    assume(keep.any())
    t = torch.tensor(pred, requires_grad=True)
    fn(t, torch.tensor(y), **kw, **fixed).backward()
    g = t.grad.numpy()
    assert (g[~keep] == 0).all(), (pred, y, kw, g)
    # a kept element of infinite cross-entropy may have an infinite or undefined
    # derivative (also where the focal factor underflows its loss to 0)
    ce = bcelab.bce_with_logits if logits else bcelab.bce
    finite = np.isfinite(ce(pred[keep], y[keep])).all()
    assert not (finite and np.isnan(g).any()), (pred, y, kw, g)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_of_a_saturated_float32_sigmoid_has_a_finite_gradient(gamma):
    # sigmoid(20) is exactly 1.0 in float32: a perfect prediction of y = 1, loss 0 and
    # derivative 0 for gamma > 0 (autograd through log(p) alone gives 0 * inf = NaN)
    torch = pytest.importorskip("torch")
    from bcelab.torch import FocalLoss

    for loss in (
        lambda p, y: bcelab.focal(p, y, gamma=gamma, reduction="mean"),
        FocalLoss(gamma=gamma),
    ):
        x = torch.tensor([20.0, 0.3, -120.0], requires_grad=True)
        p = torch.sigmoid(x)
        assert p[0] == 1.0 and p[2] == 0.0
        loss(p, torch.tensor([1.0, 1.0, 0.0])).backward()
        assert torch.isfinite(x.grad).all() and x.grad[0] == 0 and x.grad[2] == 0
        ref = torch.tensor([20.0, 0.3, -120.0], dtype=torch.float64, requires_grad=True)
        bcelab.focal_with_logits(
            ref, torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64), gamma=gamma, reduction="mean"
        ).backward()
        np.testing.assert_allclose(x.grad[1].item(), ref.grad[1].item(), rtol=1e-6)
