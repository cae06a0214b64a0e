"""One test matrix over NumPy, PyTorch and JAX inputs: same numbers, same dtype rules,
and autograd (torch.autograd, jax.grad) equal to bcelab's analytic gradients."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import bcelab

from ..conftest import Backend

RNG = np.random.default_rng(0)
X = np.concatenate([RNG.normal(0, 5, 40), [-np.inf, np.inf, 0.0, 50.0, -50.0, 1e4, -1e4]])
Y = np.concatenate([RNG.uniform(0, 1, 40), [0.0, 1.0, 0.5, 1.0, 0.0, 0.3, 0.7]])
P = bcelab.sigmoid(np.clip(X, -30, 30))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_values_on_every_backend(backend: Backend, dtype: str) -> None:
    x, y, p = (backend.asarray(a, dtype) for a in (X, Y, P))
    ref = {
        "bce_with_logits": bcelab.bce_with_logits(X.astype(dtype), Y.astype(dtype)),
        "bce": bcelab.bce(P.astype(dtype), Y.astype(dtype)),
        "binary_entropy": bcelab.binary_entropy(Y.astype(dtype)),
        "binary_kl": bcelab.binary_kl(X.astype(dtype), Y.astype(dtype), logits=True),
        "focal_with_logits": bcelab.focal_with_logits(X.astype(dtype), Y.astype(dtype)),
    }
    got = {
        "bce_with_logits": bcelab.bce_with_logits(x, y),
        "bce": bcelab.bce(p, y),
        "binary_entropy": bcelab.binary_entropy(y),
        "binary_kl": bcelab.binary_kl(x, y, logits=True),
        "focal_with_logits": bcelab.focal_with_logits(x, y),
    }
    # JAX without x64 computes float32 inputs in float32 (no float64 on that backend).
    rtol = 1e-14 if dtype == "float64" else (2e-6 if backend.name == "jax" else 1e-7)
    for name, r in ref.items():
        g = Backend.to_numpy(got[name])
        assert g.dtype == np.dtype(dtype), name
        assert not np.isnan(g).any(), name
        np.testing.assert_allclose(
            g, r, rtol=rtol, atol=1e-30 if dtype == "float64" else 1e-6, err_msg=name
        )


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_is_computed_in_float32(backend: Backend, dtype: str) -> None:
    x = backend.asarray(X, dtype)
    y = backend.asarray(Y, "float32")
    out = bcelab.bce_with_logits(x, y)
    assert "float32" in str(out.dtype)
    # same as upcasting the (rounded) half-precision logits by hand
    x32 = Backend.to_numpy(x).astype(np.float32)
    np.testing.assert_allclose(
        Backend.to_numpy(out), bcelab.bce_with_logits(x32, Y.astype("f4")), rtol=2e-6
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "weighted_mean"])
def test_reductions_on_every_backend(backend: Backend, reduction: str) -> None:
    w = RNG.uniform(0, 2, X.shape)
    ref = bcelab.bce_with_logits(X, Y, reduction=reduction, weights=w)
    got = bcelab.bce_with_logits(
        backend.asarray(X, "float32"),
        backend.asarray(Y, "float32"),
        reduction=reduction,
        weights=backend.asarray(w, "float32"),
    )
    np.testing.assert_allclose(float(got), float(ref), rtol=1e-6)


def test_torch_autograd_equals_analytic_gradients() -> None:
    torch = pytest.importorskip("torch")
    fin = np.isfinite(X)
    for pw in (None, 2.5):
        for ls in (0.0, 0.1):
            x = torch.tensor(X, requires_grad=True)
            bcelab.bce_with_logits(
                x, torch.tensor(Y), pos_weight=pw, label_smoothing=ls, reduction="sum"
            ).backward()
            g = bcelab.bce_with_logits_grad(X, Y, pos_weight=pw, label_smoothing=ls)
            assert not torch.isnan(x.grad).any()
            np.testing.assert_allclose(x.grad.numpy()[fin], g[fin], rtol=1e-12, atol=1e-300)
    # probabilities, including p = 0 and p = 1 where the naive log gives NaN gradients
    pp = np.array([0.0, 1.0, 0.3, 0.999, 1e-12, 0.5])
    yy = np.array([0.0, 1.0, 0.3, 0.2, 0.0, 1.0])
    p = torch.tensor(pp, requires_grad=True)
    bcelab.bce(p, torch.tensor(yy), reduction="mean").backward()
    np.testing.assert_allclose(
        p.grad.numpy(), bcelab.bce_grad(pp, yy, reduction="mean"), rtol=1e-12
    )
    np.testing.assert_allclose(p.grad.numpy()[:2], [1 / 6, -1 / 6])  # finite, exact
    # focal, including gamma < 1 (tensorflow#70326)
    for gamma in (0.0, 0.5, 2.0):
        x = torch.tensor(X[fin], requires_grad=True)
        bcelab.focal_with_logits(
            x, torch.tensor(Y[fin]), gamma=gamma, alpha=0.25, reduction="sum"
        ).backward()
        g = bcelab.focal_with_logits_grad(X[fin], Y[fin], gamma=gamma, alpha=0.25)
        assert torch.isfinite(x.grad).all()
        np.testing.assert_allclose(x.grad.numpy(), g, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "weighted_mean"])
@pytest.mark.parametrize("weighted", [False, True])
def test_masked_gradients_equal_autograd_of_the_masked_loss(reduction: str, weighted: bool) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.normal(0, 3, (4, 5))
    p = 1 / (1 + np.exp(-x))
    y = rng.uniform(0, 1, (4, 5)).round(1)
    m = rng.uniform(size=(4, 5)) < 0.6
    p[~m] = 1.0  # left out by the mask: their infinite gradient must not leak
    y[~m] = 0.0
    w = rng.uniform(0, 2, (4, 5)) if weighted else None
    tw = None if w is None else torch.tensor(w)
    cases = [
        (bcelab.bce, bcelab.bce_grad, p, {}),
        (bcelab.bce_with_logits, bcelab.bce_with_logits_grad, x, {"pos_weight": 1.5}),
        (bcelab.focal_with_logits, bcelab.focal_with_logits_grad, x, {"gamma": 1.5}),
    ]
    for loss, grad, pred, kw in cases:
        t = torch.tensor(pred, requires_grad=True)
        out = loss(t, torch.tensor(y), reduction=reduction, weights=tw, mask=torch.tensor(m), **kw)
        out.sum().backward()
        got = grad(pred, y, reduction=reduction, weights=w, mask=m, **kw)
        assert np.isfinite(got).all() and (got[~m] == 0).all()
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-12, atol=1e-300)


def test_masked_gradient_refuses_a_bad_mask() -> None:
    with pytest.raises(bcelab.ShapeError, match="mask"):
        bcelab.bce_grad(np.full(3, 0.5), np.ones(3), mask=np.ones(4, dtype=bool))
    with pytest.raises(bcelab.EmptyReductionError):
        bcelab.bce_with_logits_grad(
            np.zeros(3), np.ones(3), mask=np.zeros(3, bool), reduction="mean"
        )


def test_jax_grad_equals_analytic_gradients() -> None:
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    fin = np.isfinite(X)
    x32, y32 = X[fin].astype(np.float32), Y[fin].astype(np.float32)

    def loss(x: object) -> object:
        return bcelab.bce_with_logits(x, jnp.asarray(y32), reduction="sum")

    g = jax.grad(loss)(jnp.asarray(x32))
    np.testing.assert_allclose(
        np.asarray(g), bcelab.bce_with_logits_grad(x32, y32), rtol=2e-6, atol=1e-7
    )
    jitted = jax.jit(jax.grad(loss))(jnp.asarray(x32))
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(g), rtol=1e-6)
    # infinite logits: the limits, not NaN
    gi = jax.grad(lambda x: bcelab.bce_with_logits(x, jnp.asarray([1.0, 0.0]), reduction="sum"))(
        jnp.asarray([jnp.inf, -jnp.inf])
    )
    np.testing.assert_array_equal(np.asarray(gi), [0.0, 0.0])


def test_torch_module_outputs_and_cuda_when_present() -> None:
    torch = pytest.importorskip("torch")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        x = torch.tensor(X, device=dev, dtype=torch.float32)
        y = torch.tensor(Y, device=dev, dtype=torch.float32)
        out = bcelab.bce_with_logits(x, y)
        assert out.device.type == dev and out.dtype == torch.float32
        np.testing.assert_allclose(
            out.cpu().numpy(), bcelab.bce_with_logits(X.astype("f4"), Y.astype("f4")), rtol=1e-7
        )


@pytest.mark.parametrize("guarded", [True, False])
def test_autograd_at_exactly_zero_logit(guarded: bool) -> None:
    # JAX differentiates |x| as 1 at 0, torch as 0; bcelab's formulas must not depend on it.
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    x0 = np.zeros(4)
    if guarded:  # an infinite logit elsewhere in the batch selects the guarded formula
        x0 = np.array([0.0, 0.0, 0.0, np.inf])
    y = np.array([1.0, 0.0, 0.25, 1.0])
    want = bcelab.bce_with_logits_grad(x0, y)
    np.testing.assert_allclose(want, [-0.5, 0.5, 0.25, 0.0 if guarded else -0.5])
    xt = torch.tensor(x0, requires_grad=True)
    bcelab.bce_with_logits(xt, torch.tensor(y), reduction="sum").backward()
    np.testing.assert_allclose(xt.grad.numpy(), want)
    gj = jax.grad(lambda v: bcelab.bce_with_logits(v, jax.numpy.asarray(y), reduction="sum"))(
        jax.numpy.asarray(x0, dtype="float32")
    )
    np.testing.assert_allclose(np.asarray(gj), want)
    # and the sigmoid's derivative at 0 is 1/4 on both
    st = torch.zeros(1, requires_grad=True)
    bcelab.sigmoid(st).sum().backward()
    sj = jax.grad(lambda v: bcelab.sigmoid(v).sum())(jax.numpy.zeros(1))
    assert float(st.grad[0]) == 0.25 and float(sj[0]) == 0.25


# Derivatives of every order at x = 0, against the closed forms: softplus'' = sigmoid' =
# s (1 - s) = 1/4, sigmoid'' = s (1 - s)(1 - 2s) = 0, sigmoid''' = s (1 - s)(1 - 6 s (1 - s))
# = -1/8; so the Hessian of the summed BCE from logits is 1/4 per element at x = 0,
# whatever the target (a logistic regression started at zero weights has Hessian X^T X / 4).
@pytest.mark.parametrize("guarded", [True, False])
def test_second_and_third_derivatives_at_zero_logit(guarded: bool) -> None:
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    x0 = np.array([0.0, 0.0, 0.0, np.inf if guarded else 1.0])
    y = np.array([1.0, 0.0, 0.25, 1.0])
    s1 = 1.0 / (1.0 + np.exp(-1.0))
    want = np.array([0.25, 0.25, 0.25, 0.0 if guarded else s1 * (1.0 - s1)])

    def loss_t(v: object) -> object:
        return bcelab.bce_with_logits(v, torch.tensor(y), reduction="sum")

    h_t = torch.autograd.functional.hessian(loss_t, torch.tensor(x0)).diagonal().numpy()
    h_j = jax.hessian(lambda v: bcelab.bce_with_logits(v, jnp.asarray(y), reduction="sum"))(
        jnp.asarray(x0, dtype="float32")
    ).diagonal()
    np.testing.assert_allclose(h_t, want, rtol=1e-15)
    np.testing.assert_allclose(np.asarray(h_j), want, rtol=1e-7)
    # the same through torch's own loss, the reference
    ref = torch.autograd.functional.hessian(
        lambda v: torch.nn.functional.binary_cross_entropy_with_logits(
            v[:3], torch.tensor(y[:3]), reduction="sum"
        ),
        torch.zeros(3, dtype=torch.float64),
    )
    np.testing.assert_allclose(h_t[:3], ref.diagonal().numpy(), rtol=1e-15)
    # the sigmoid's derivatives at 0: 1/4, 0, -1/8 on both backends
    d = jax.grad
    sj = [
        f(jnp.float32(0.0))
        for f in (
            d(bcelab.sigmoid),
            d(d(bcelab.sigmoid)),
            d(d(d(bcelab.sigmoid))),
        )
    ]
    assert [float(v) for v in sj] == [0.25, 0.0, -0.125]
    xt = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    g1 = torch.autograd.grad(bcelab.sigmoid(xt).sum(), xt, create_graph=True)[0]
    g2 = torch.autograd.grad(g1.sum(), xt, create_graph=True)[0]
    g3 = torch.autograd.grad(g2.sum(), xt)[0]
    assert [float(g.detach()) for g in (g1, g2, g3)] == [0.25, 0.0, -0.125]


def test_focal_and_kl_second_derivatives_at_zero_logit() -> None:
    torch = pytest.importorskip("torch")
    y = torch.tensor([0.0, 1.0, 0.3], dtype=torch.float64)

    def focal_by_hand(v: object) -> object:  # (1 - p_t)^2 CE with torch's own functions
        p = torch.sigmoid(v)
        ce = torch.nn.functional.binary_cross_entropy_with_logits(v, y, reduction="none")
        return ((1 - (p * y + (1 - p) * (1 - y))) ** 2 * ce).sum()

    x0 = torch.zeros(3, dtype=torch.float64)
    hess = torch.autograd.functional.hessian
    want = hess(focal_by_hand, x0).diagonal()
    got = hess(lambda v: bcelab.focal_with_logits(v, y, gamma=2.0, reduction="sum"), x0)
    np.testing.assert_allclose(got.diagonal().numpy(), want.numpy(), rtol=1e-13)
    kl = hess(lambda v: bcelab.binary_kl(v, y, logits=True, reduction="sum"), x0)
    np.testing.assert_allclose(kl.diagonal().numpy(), [0.25, 0.25, 0.25], rtol=1e-15)


# d/dy of y a + (1 - y) b is a - b: -x from logits, log((1 - p) / p) from probabilities,
# also at hard targets (knowledge distillation through a teacher's saturated sigmoid).
def test_derivative_in_the_targets_at_hard_targets(backend: Backend) -> None:
    if backend.name == "numpy":
        pytest.skip("no autograd")
    x = np.array([-3.0, 0.0, 2.0, 50.0, -120.0, 7.5])
    y = np.array([0.0, 1.0, 0.3, 1.0, 0.0, 1.0])
    p = np.array([0.2, 0.5, 0.9, 1e-6, 0.75, 0.4])
    cases = {
        "logits": (lambda v: bcelab.bce_with_logits(x_b, v, reduction="sum"), -x),
        "probs": (lambda v: bcelab.bce(p_b, v, reduction="sum"), np.log1p(-p) - np.log(p)),
        "pos_weight": (
            lambda v: bcelab.bce_with_logits(x_b, v, pos_weight=2.5, reduction="sum"),
            2.5 * np.logaddexp(0.0, -x) - np.logaddexp(0.0, x),
        ),
    }
    dtype = "float32" if backend.name == "jax" else "float64"  # JAX without x64
    x_b, p_b = backend.asarray(x, dtype), backend.asarray(p, dtype)
    for name, (f, want) in cases.items():
        got = _derivative_in_the_targets(backend, f, y, dtype)
        tol = 1e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=name)


def _derivative_in_the_targets(backend: Backend, f: Any, y: np.ndarray, dtype: str) -> np.ndarray:
    """d f(y) / dy by torch autograd or ``jax.grad``."""
    if backend.name == "torch":
        import torch

        yt = torch.tensor(y, requires_grad=True)
        f(yt).backward()
        return yt.grad.numpy()
    import jax

    return np.asarray(jax.grad(f)(backend.asarray(y, dtype)))


def test_both_forms_of_the_kink_give_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    # autograd's form (where on x >= 0) and NumPy's (minimum/maximum), on the same library
    torch = pytest.importorskip("torch")
    from bcelab._core import formulas

    rng = np.random.default_rng(3)
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-30, -745.2, 710.0, 88.7]
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor(np.concatenate([rng.normal(0, 20, 4000), edges]), dtype=dtype)
        y = torch.tensor(np.concatenate([rng.uniform(0, 1, 4000), [0.0, 1.0] * 5, [0.5]]))
        y = y.to(dtype)
        xp = formulas.namespace_of(x)

        def run(xp: object = xp, x: torch.Tensor = x, y: torch.Tensor = y) -> list[torch.Tensor]:
            return [
                formulas.sigmoid(xp, x),
                formulas.softplus(xp, x),
                *formulas.neglog_terms_logits(xp, x, y, guard=False),
                *formulas.neglog_terms_logits(xp, x, y),
            ]

        with_where = run()
        monkeypatch.setattr(formulas, "has_autograd", lambda _: False)
        with_min_max = run()
        monkeypatch.undo()
        for a, b in zip(with_where, with_min_max, strict=True):
            assert torch.equal(a.isnan(), b.isnan())
            ok = ~a.isnan()
            # bit for bit, signed zeros aside (they enter only as additions to nonzero terms)
            assert torch.equal(a[ok], b[ok])


def test_pandas_and_polars_series_are_read_as_numpy() -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    p, y = np.array([0.1, 0.6, 0.8]), np.array([0.0, 1.0, 1.0])
    want = float(bcelab.bce(p, y, reduction="mean"))
    series = pd.Series(p, index=[5, 3, 9])  # the index is not used: positions are
    assert float(bcelab.bce(series, pd.Series(y), reduction="mean")) == want
    assert float(bcelab.bce(pl.Series(p), pl.Series(y), reduction="mean")) == want
    assert (
        float(
            bcelab.bce(
                pd.Series(p, dtype="Float64"), pd.Series([0, 1, 1], dtype="Int64"), reduction="mean"
            )
        )
        == want
    )
    np.testing.assert_array_equal(bcelab.bce_grad(series, pd.Series(y)), bcelab.bce_grad(p, y))
    with pytest.raises(bcelab.NaNError):  # pandas' NA is a missing value, not a number
        bcelab.bce(pd.Series([0.1, None, 0.8], dtype="Float64"), pd.Series(y))
    with pytest.raises(bcelab.DTypeError, match="na_value"):
        bcelab.bce(series, pd.Series(["0", "1", "1"]))
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' read-only memory, copied for torch
        out = bcelab.bce(torch.tensor(p), pd.Series(y), reduction="mean")
    assert float(out) == pytest.approx(want, rel=1e-15)


# d/dy of alpha_t (1 - p_t)^gamma CE, with u = 1 - p_t = y q + (1 - y) p:
# alpha_t [(a - b) u^gamma + CE gamma u^(gamma - 1) (q - p)] + (2 alpha - 1) CE u^gamma.
# The log-space factor once gave NaN at a hard target (0 * inf from d log(y) / dy).
@pytest.mark.parametrize(("gamma", "alpha"), [(0.5, None), (1.0, None), (2.0, 0.25), (3.0, None)])
def test_focal_derivative_in_the_targets(
    backend: Backend, gamma: float, alpha: float | None
) -> None:
    if backend.name == "numpy":
        pytest.skip("no autograd")
    x = np.array([-3.0, 0.0, 2.0, 12.0, -9.0, 7.5, 0.4, -1.2])
    y = np.array([0.0, 1.0, 0.3, 1.0, 0.0, 1.0, 0.0, 0.8])
    a, b = np.logaddexp(0.0, -x), np.logaddexp(0.0, x)  # -log p, -log q
    p, q = np.exp(-a), np.exp(-b)
    ce, u = y * a + (1 - y) * b, y * q + (1 - y) * p
    want = (a - b) * u**gamma + ce * gamma * u ** (gamma - 1) * (q - p)
    if alpha is not None:
        want = (alpha * y + (1 - alpha) * (1 - y)) * want + (2 * alpha - 1) * ce * u**gamma
    dtype = "float32" if backend.name == "jax" else "float64"  # JAX without x64
    x_b = backend.asarray(x, dtype)

    def f(v: object) -> object:
        return bcelab.focal_with_logits(x_b, v, gamma=gamma, alpha=alpha, reduction="sum")

    got = _derivative_in_the_targets(backend, f, y, dtype)
    tol = 2e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# The mixed second derivative d^2 / dx dy of the focal loss once missed the logits'
# part of d log(1 - p_t) / dy = (q - p) / u (p and q were taken as constants there):
# jax.hessian gave -0.083 where optax gives -0.383.  Every Hessian block (xx, xy, yy),
# against the plain formula in float64, from logits and from probabilities, hard
# targets included.
def _plain_focal_hessian(
    z: np.ndarray, y: np.ndarray, gamma: float, alpha: float | None, logits: bool
) -> list[np.ndarray]:
    """Diagonals of the xx, xy and yy blocks, by torch autograd of the textbook formula."""
    torch = pytest.importorskip("torch")
    f = torch.nn.functional

    def total(v: Any, t: Any) -> Any:
        if logits:
            p, ce = torch.sigmoid(v), t * f.softplus(-v) + (1 - t) * f.softplus(v)
        else:
            p, ce = v, -(t * torch.log(v) + (1 - t) * torch.log1p(-v))
        out = (t * (1 - p) + (1 - t) * p) ** gamma * ce
        if alpha is not None:
            out = (alpha * t + (1 - alpha) * (1 - t)) * out
        return out.sum()

    h = torch.autograd.functional.hessian(total, (torch.tensor(z), torch.tensor(y)))
    return [h[0][0].diagonal().numpy(), h[0][1].diagonal().numpy(), h[1][1].diagonal().numpy()]


@pytest.mark.parametrize("gamma", [0.5, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.25])
@pytest.mark.parametrize("logits", [True, False])
def test_focal_hessian_in_logits_and_targets(
    backend: Backend, gamma: float, alpha: float | None, logits: bool
) -> None:
    if backend.name == "numpy":
        pytest.skip("no autograd")
    x = np.array([0.3, -1.2, -3.0, 0.0, 2.0, 12.0, -9.0, 7.5, 0.4, 30.0])
    y = np.array([0.8, 0.4, 0.0, 1.0, 0.3, 1.0, 0.0, 1.0, 0.0, 0.5])
    z = x if logits else 1.0 / (1.0 + np.exp(-x))
    if not logits:  # probabilities from float32 sigmoids: away from 0 and 1
        z = np.clip(z, 1e-4, 1.0 - 1e-4)
    z, y = (a.astype(np.float32).astype(np.float64) for a in (z, y))  # the same for JAX
    want = _plain_focal_hessian(z, y, gamma, alpha, logits)
    fn = bcelab.focal_with_logits if logits else bcelab.focal

    def total(v: Any, t: Any) -> Any:
        return fn(v, t, gamma=gamma, alpha=alpha, reduction="sum")

    if backend.name == "torch":
        import torch

        h = torch.autograd.functional.hessian(total, (torch.tensor(z), torch.tensor(y)))
        got = [h[0][0].diagonal(), h[0][1].diagonal(), h[1][1].diagonal()]
        # the off-diagonal blocks are symmetric
        np.testing.assert_allclose(
            h[1][0].diagonal().numpy(), got[1].numpy(), rtol=1e-13, atol=1e-15
        )
        tol: dict[str, float] = {"rtol": 1e-11, "atol": 1e-13}
    else:
        import jax

        h = jax.hessian(total, argnums=(0, 1))(*(jax.numpy.asarray(a, "float32") for a in (z, y)))
        got = [np.diag(h[0][0]), np.diag(h[0][1]), np.diag(h[1][1])]
        np.testing.assert_allclose(np.diag(h[1][0]), got[1], rtol=1e-6, atol=1e-7)
        tol = {"rtol": 2e-4, "atol": 2e-5}
    for name, g, w in zip(("xx", "xy", "yy"), got, want, strict=True):
        g = Backend.to_numpy(g)
        assert np.isfinite(g).all(), name
        np.testing.assert_allclose(g, w, err_msg=name, **tol)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.25])
def test_focal_hessian_equals_optax_and_gradgradcheck(gamma: float, alpha: float | None) -> None:
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    import bcelab.jax as bj
    import bcelab.torch as bt

    # soft targets: at a hard target optax's logsumexp (weights 0 and 1) has no
    # derivative in the label with a weight of 0, so its mixed derivative is off there
    x = np.array([0.3, -1.2, -3.0, 0.0, 2.0, 5.0, -4.0])
    y = np.array([0.8, 0.4, 0.05, 0.97, 0.3, 0.5, 0.6])
    try:
        import optax
    except ImportError:
        optax = None
    if optax is not None:
        xj, yj = jax.numpy.asarray(x, "float32"), jax.numpy.asarray(y, "float32")
        blocks = []
        for f in (bj.sigmoid_focal_loss, optax.losses.sigmoid_focal_loss):
            h = jax.hessian(lambda a, b, f=f: f(a, b, alpha=alpha, gamma=gamma).sum(), (0, 1))(
                xj, yj
            )
            blocks.append([np.diag(h[i][j]) for i, j in ((0, 0), (0, 1), (1, 1))])
        for name, g, w in zip(("xx", "xy", "yy"), *blocks, strict=True):
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6, err_msg=name)
    # torch's own check, with both the predictions and the targets requiring grad
    p = 1.0 / (1.0 + np.exp(-x))
    for loss, z in ((bt.FocalWithLogitsLoss, x), (bt.FocalLoss, p)):
        mod = loss(reduction="none", gamma=gamma, alpha=alpha)
        zt = torch.tensor(z, requires_grad=True)
        yt = torch.tensor(y, requires_grad=True)
        assert torch.autograd.gradcheck(mod, (zt, yt))
        assert torch.autograd.gradgradcheck(mod, (zt, yt))
