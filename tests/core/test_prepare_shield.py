"""Elements a result leaves out (``mask`` False, weight 0, NaN under ``nan_policy="omit"``)
get a gradient of exactly 0 under torch.autograd and jax.grad, also where their loss or
its derivative is infinite or NaN; the kept elements' gradient is that of the loss on the
kept elements alone."""

from __future__ import annotations

import numpy as np
import pytest

import bcelab

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
