"""The core on JAX: jit, grad (= the analytic gradient), vmap, lax.scan; optax's names in bcelab.jax."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
jnp = jax.numpy

import bcelab  # noqa: E402
import bcelab.jax as bj  # noqa: E402
from bcelab.errors import DomainError, NaNError, ShapeError  # noqa: E402


def _data(seed: int, shape=(32,), scale: float = 4.0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * scale).astype(np.float32)
    y = rng.random(shape).astype(np.float32)
    return x, y


def _ref(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # Reference: the core on NumPy float64 (exact to half an ulp; test_core_vectors).
    return bcelab.bce_with_logits(x.astype(np.float64), y.astype(np.float64))


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31 - 1))
def test_jit_matches_the_float64_reference(seed):
    x, y = _data(seed)
    got = np.asarray(jax.jit(bcelab.bce_with_logits)(jnp.asarray(x), jnp.asarray(y)))
    assert got.dtype == np.float32
    # JAX without x64 computes in float32: a few ulp
    np.testing.assert_allclose(got, _ref(x, y), rtol=4e-6, atol=1e-6)


def test_jit_of_arrays_the_function_closes_over() -> None:
    # concrete arrays inside jax.jit still give traced comparisons: the value checks
    # raised TracerBoolConversionError
    x, y = jnp.array([0.5, -1.0]), jnp.array([1.0, 0.0])
    want = float(bcelab.bce_with_logits(x, y, reduction="mean"))
    got = jax.jit(lambda a: bcelab.bce_with_logits(x, y, reduction="mean") * a)(2.0)
    assert float(got) == pytest.approx(2 * want, rel=1e-6)
    p = jnp.array([0.2, 0.9])
    assert float(jax.jit(lambda a: bcelab.bce(p, y, clip=1e-7, reduction="sum") * a)(1.0)) > 0


def test_jit_infinite_logits_give_the_limit():
    x = jnp.array([jnp.inf, -jnp.inf, jnp.inf, -jnp.inf])
    y = jnp.array([1.0, 0.0, 0.0, 1.0])
    got = jax.jit(bcelab.bce_with_logits)(x, y)
    assert np.asarray(got).tolist() == [0.0, 0.0, math.inf, math.inf]
    g = jax.grad(lambda a: bcelab.bce_with_logits(a, y, reduction="sum"))(x)
    assert np.isfinite(np.asarray(g)).all()


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31 - 1), pw=st.sampled_from([None, 0.5, 3.0]))
def test_grad_equals_the_analytic_gradient(seed, pw):
    x, y = _data(seed, (8, 4))
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def loss(a):
        return bcelab.bce_with_logits(a, yj, pos_weight=pw, reduction="mean")

    auto = np.asarray(jax.jit(jax.grad(loss))(xj))
    analytic = np.asarray(bcelab.bce_with_logits_grad(xj, yj, pos_weight=pw, reduction="mean"))
    np.testing.assert_allclose(auto, analytic, rtol=1e-5, atol=1e-8)


def test_grad_of_kl_equals_grad_of_bce_and_focal_matches_its_analytic_gradient():
    x, y = _data(1, (16,))
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    g_kl = jax.grad(lambda a: bcelab.binary_kl(a, yj, logits=True, reduction="sum"))(xj)
    g_ce = jax.grad(lambda a: bcelab.bce_with_logits(a, yj, reduction="sum"))(xj)
    np.testing.assert_allclose(np.asarray(g_kl), np.asarray(g_ce), rtol=1e-5, atol=1e-7)
    g_fo = jax.grad(lambda a: bcelab.focal_with_logits(a, yj, gamma=0.5, reduction="sum"))(xj)
    ref = bcelab.focal_with_logits_grad(xj, yj, gamma=0.5)
    np.testing.assert_allclose(np.asarray(g_fo), np.asarray(ref), rtol=1e-4, atol=1e-7)


def test_vmap_gives_per_sample_losses():
    x, y = _data(2, (10, 5))
    per = jax.vmap(lambda a, b: bcelab.bce_with_logits(a, b, reduction="mean"))(
        jnp.asarray(x), jnp.asarray(y)
    )
    ref = bcelab.bce_with_logits(x.astype(np.float64), y.astype(np.float64), reduction="per_sample")
    np.testing.assert_allclose(np.asarray(per), ref, rtol=4e-6)


def _logreg_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(64, 2)).astype(np.float32)
    y = (X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.normal(size=64) > 0).astype(np.float32)
    return jnp.asarray(X), jnp.asarray(y)


def _loss(w, X, y):
    return bcelab.bce_with_logits(X @ w[:2] + w[2], y, reduction="mean")


def test_lax_scan_training_equals_the_python_loop():
    X, y = _logreg_data()
    step_grad = jax.grad(_loss)

    def step(w, _):
        return w - 0.5 * step_grad(w, X, y), _loss(w, X, y)

    w0 = jnp.zeros(3)
    w_scan, losses = jax.jit(lambda w: jax.lax.scan(step, w, None, length=50))(w0)
    w_loop = w0
    for _ in range(50):
        w_loop = w_loop - 0.5 * step_grad(w_loop, X, y)
    np.testing.assert_allclose(np.asarray(w_scan), np.asarray(w_loop), rtol=1e-5, atol=1e-6)
    assert float(losses[-1]) < 0.5 * float(losses[0])


def test_optax_style_update_with_the_drop_in_loss():
    # optax is not installed here, so the optax pattern (loss_fn -> value_and_grad ->
    # update) is written with a plain SGD update; bcelab.jax.sigmoid_binary_cross_entropy
    # has optax.losses.sigmoid_binary_cross_entropy's signature (element-wise).
    X, y = _logreg_data()

    def loss_fn(params):
        logits = X @ params["w"] + params["b"]
        return bj.sigmoid_binary_cross_entropy(logits, y).mean()

    params = {"w": jnp.zeros(2), "b": jnp.zeros(())}

    @jax.jit
    def update(params):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        return jax.tree_util.tree_map(lambda p, g: p - 0.5 * g, params, grads), loss

    first = None
    for _ in range(40):
        params, loss = update(params)
        first = float(loss) if first is None else first
    # reference: the same logistic regression loss from the core on NumPy float64
    w = np.concatenate([np.asarray(params["w"]), [float(params["b"])]]).astype(np.float64)
    Xn, yn = np.asarray(X, np.float64), np.asarray(y, np.float64)
    ref = float(bcelab.bce_with_logits(Xn @ w[:2] + w[2], yn, reduction="mean"))
    assert float(loss_fn(params)) == pytest.approx(ref, rel=1e-5)
    assert ref < 0.6 * first


def _optax_focal(x: np.ndarray, y: np.ndarray, alpha, gamma) -> np.ndarray:
    # optax.losses.sigmoid_focal_loss's source, transcribed to NumPy float64
    p = 1 / (1 + np.exp(-x))
    ce = np.logaddexp(0, -x) * y + np.logaddexp(0, x) * (1 - y)
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**31 - 1),
    alpha=st.sampled_from([None, 0.25, 0.9]),
    gamma=st.sampled_from([0.0, 0.5, 2.0]),
)
def test_sigmoid_focal_loss_is_optax_formula_and_the_core(seed, alpha, gamma):
    # optax's signature: (logits, labels, alpha=None, gamma=2.0), element-wise
    x, y = _data(seed, (6, 3))
    got = bj.sigmoid_focal_loss(jnp.asarray(x), jnp.asarray(y), alpha, gamma)
    assert got.shape == x.shape and got.dtype == jnp.float32
    core = bcelab.focal_with_logits(jnp.asarray(x), jnp.asarray(y), gamma=gamma, alpha=alpha)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(core))
    ref = _optax_focal(x.astype(np.float64), y.astype(np.float64), alpha, gamma)
    np.testing.assert_allclose(np.asarray(got), ref, rtol=2e-5, atol=1e-7)
    same = bj.sigmoid_focal_loss(
        logits=jnp.asarray(x), labels=jnp.asarray(y), alpha=alpha, gamma=gamma
    )
    np.testing.assert_array_equal(np.asarray(same), np.asarray(got))


def test_optax_names_match_optax_when_installed():
    optax = pytest.importorskip("optax")
    x, y = _data(8, (5, 4))
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    np.testing.assert_allclose(
        np.asarray(bj.sigmoid_binary_cross_entropy(xj, yj)),
        np.asarray(optax.losses.sigmoid_binary_cross_entropy(xj, yj)),
        rtol=1e-5,
        atol=1e-6,
    )
    for alpha, gamma in ((None, 2.0), (0.25, 2.0), (0.5, 0.5)):
        np.testing.assert_allclose(
            np.asarray(bj.sigmoid_focal_loss(xj, yj, alpha, gamma)),
            np.asarray(optax.losses.sigmoid_focal_loss(xj, yj, alpha=alpha, gamma=gamma)),
            rtol=1e-5,
            atol=1e-6,
        )


def test_sigmoid_focal_loss_takes_a_traced_alpha_as_optax_does():
    # jax.jit(f)(logits, labels, alpha): alpha used to be refused as a JitTracer
    optax = pytest.importorskip("optax")
    x, y = _data(9, (5, 4))
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def total(fn):
        return lambda z, a: fn(z, yj, alpha=a, gamma=2.0).sum()

    for alpha in (0.25, 0.9):
        ours = jax.jit(jax.value_and_grad(total(bj.sigmoid_focal_loss), argnums=(0, 1)))
        ref = jax.jit(jax.value_and_grad(total(optax.losses.sigmoid_focal_loss), argnums=(0, 1)))
        (v, (gx, ga)), (rv, (rgx, rga)) = ours(xj, alpha), ref(xj, alpha)
        np.testing.assert_allclose(float(v), float(rv), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(gx), np.asarray(rgx), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(float(ga), float(rga), rtol=1e-5)
        eager = bj.sigmoid_focal_loss(xj, yj, alpha, 2.0)
        traced = jax.jit(bj.sigmoid_focal_loss)(xj, yj, alpha)
        # a traced float32 alpha gives 1 - alpha in float32 (as optax), a Python one in
        # float64: they may differ by an ulp
        np.testing.assert_allclose(np.asarray(traced), np.asarray(eager), rtol=2e-6)


def test_jax_names_have_optax_signatures():
    import inspect

    def names(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]

    empty = inspect.Parameter.empty
    assert names(bj.sigmoid_binary_cross_entropy) == [("logits", empty), ("labels", empty)]
    assert names(bj.sigmoid_focal_loss) == [
        ("logits", empty),
        ("labels", empty),
        ("alpha", None),
        ("gamma", 2.0),
    ]


def test_eager_checks_raise_and_jit_skips_them_as_documented():
    x, y = _data(4, (4,))
    bad = jnp.asarray(y) * 255
    with pytest.raises(DomainError, match=r"bcelab\.jax\.sigmoid_binary_cross_entropy \(JAX\)"):
        bj.sigmoid_binary_cross_entropy(jnp.asarray(x), bad)
    with pytest.raises(DomainError, match="JAX"):
        bj.check_inputs(jnp.asarray(x), bad)
    with pytest.raises(DomainError, match=r"JAX.*probabilities"):
        bj.check_inputs(jnp.asarray(x) * 9, jnp.asarray(y), logits=False)
    bj.check_inputs(jnp.asarray(x), jnp.asarray(y))  # logits (optax's kind): fine
    with pytest.raises(DomainError, match=r"bcelab\.jax\.sigmoid_focal_loss \(JAX\)"):
        bj.sigmoid_focal_loss(jnp.asarray(x), bad)
    with pytest.raises(ShapeError, match="JAX"):  # shapes are checked even while tracing
        jax.jit(bj.sigmoid_binary_cross_entropy)(jnp.asarray(x), jnp.zeros(3))
    # under jit values do not exist: no value check (documented), the number is returned
    out = jax.jit(bj.sigmoid_binary_cross_entropy)(jnp.asarray(x), bad)
    assert out.shape == (4,)
    # no nan_policy here (as in optax): a NaN error names the core function that has one
    with pytest.raises(
        NaNError, match=r"JAX\): bce_with_logits: targets must not contain NaN;"
    ) as e:
        bj.sigmoid_binary_cross_entropy(jnp.asarray(x), jnp.asarray(y) * jnp.nan)
    assert "bcelab.bce_with_logits(..., nan_policy='omit')" in e.value.fix


def test_docs_example_runs():
    # the JAX example of docs/adapters.md, executed as written
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "adapters.md").read_text()
    (code,) = re.findall(r"```python\n(# docs-test: jax\n.*?)```", doc, re.S)
    exec(compile(code, "docs/adapters.md (jax)", "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "weighted_mean"])
def test_jit_with_constant_weights_and_pos_weight_arrays(reduction):
    # under jax.jit even a constant array's comparisons are traced: the value checks of
    # weights and pos_weight are skipped there, and the gradients divide by a traced total
    x = jnp.array([0.3, -1.0, 2.0, 4.0])
    y = jnp.array([1.0, 0.0, 1.0, 0.0])
    w = jnp.array([1.0, 2.0, 0.5, 0.0])
    pw = jnp.array([2.0, 2.0, 0.5, 1.0])
    p = jax.nn.sigmoid(x)
    calls = [
        (bcelab.bce_with_logits, x, {"weights": w}),
        (bcelab.bce, p, {"weights": w}),
        (bcelab.bce_with_logits_grad, x, {"weights": w}),
        (bcelab.bce_grad, p, {"weights": w}),
        (bcelab.bce_with_logits, x, {"pos_weight": pw}),
        (bcelab.bce_with_logits_grad, x, {"pos_weight": pw}),
    ]
    for fn, arg, kw in calls:
        if reduction == "weighted_mean" and "weights" not in kw:
            continue
        got = jax.jit(lambda v, fn=fn, kw=kw: fn(v, y, reduction=reduction, **kw))(arg)
        np.testing.assert_allclose(got, fn(arg, y, reduction=reduction, **kw), rtol=1e-6)


def test_x64_gradient_of_an_infinite_bce_is_infinite_as_without_x64():
    # with x64 log1p(-p) is replaced between -0.5 and -1e-6 (XLA's is off by up to 121
    # ulp there); the replacement zeroed log1p's derivative wherever log1p(-p) was -inf,
    # so jax.grad gave 0 * inf = NaN at p = 1, y = 0, where float32 and torch give +inf
    p, y = np.array([1.0, 0.0, 0.0, 0.2]), np.array([0.0, 1.0, 0.3, 0.6])
    want = bcelab.bce_grad(p, y)
    assert want[0] == np.inf
    with jax.enable_x64(True):
        for f in (bcelab.bce, lambda q, t, **kw: bcelab.focal(q, t, gamma=0.0, **kw)):
            got = jax.grad(lambda q, f=f: f(q, jnp.asarray(y), reduction="sum"))(jnp.asarray(p))
            assert got.dtype == jnp.float64
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-15)
