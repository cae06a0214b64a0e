"""The fused kernel (bcelab.kernels) against the reference Array-API path and against mpmath.

The reference path is the core itself with the dispatch turned off
(``bcelab.kernels.reference_path()``); per-element accuracy is checked against a 50-digit
mpmath evaluation of the same formulas as ``tests/test_core_accuracy.py`` (issue 2's grid).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("numba")
mpmath = pytest.importorskip("mpmath")

import bcelab  # noqa: E402
from bcelab.kernels import dispatch, fused_bce, reference_path  # noqa: E402
from bcelab.kernels.constants import CHUNK, PARALLEL_MIN  # noqa: E402
from bcelab.kernels.loss import KERNELS  # noqa: E402

mpmath.mp.dps = 50
TARGETS = [0.0, 1e-6, 0.1, 0.5, 0.9, 1.0]
ULPS = {"float64": 4.0, "float32": 2.0}


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except bcelab.BCELabError as e:
        return type(e).__name__, str(e)


# --- the mpmath accuracy grid (issue 2), through the fused kernel -------------------------------


def _logit_grid(dtype: str) -> np.ndarray:
    mags = np.geomspace(1e-8, 1e4, 120)
    return np.concatenate([-mags[::-1], [0.0], mags]).astype(dtype)


def _prob_grid(dtype: str) -> np.ndarray:
    if dtype == "float64":
        low, high = np.geomspace(1e-300, 0.5, 150), 1.0 - np.geomspace(1e-16, 0.5, 80)
    else:
        low = np.geomspace(1e-44, 0.5, 150).astype(np.float32)  # down to float32 subnormals
        high = (1.0 - np.geomspace(6e-8, 0.5, 80)).astype(np.float32)
    return np.unique(np.concatenate([low, high]).astype(dtype))


def _ref(kind: str, x: float, y: float) -> tuple[Any, Any]:
    """50-digit loss and gradient (the definitions in issue 2 / bcelab._core.formulas)."""
    X, Y = mpmath.mpf(x), mpmath.mpf(y)
    if kind == "logits":
        sp = lambda t: mpmath.log1p(mpmath.exp(t))  # noqa: E731
        sig = lambda t: 1 / (1 + mpmath.exp(-t))  # noqa: E731
        return Y * sp(-X) + (1 - Y) * sp(X), (1 - Y) * sig(X) - Y * sig(-X)
    t1 = 0 if Y == 0 else -Y * mpmath.log(X)
    t2 = 0 if Y == 1 else -(1 - Y) * mpmath.log1p(-X)
    g1 = 0 if Y == 0 else -Y / X
    g2 = 0 if Y == 1 else (1 - Y) / (1 - X)
    return t1 + t2, g1 + g2


def _ulp_err(got: np.ndarray, ref: np.ndarray, floor_scale: np.ndarray, dtype: str) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):  # float32 overflow of huge references
        ref_r = ref.astype(dtype)
        ulp = np.spacing(np.abs(ref_r)).astype(np.float64)
        floor = np.spacing(floor_scale.astype(dtype)).astype(np.float64)
        err = np.abs(got.astype(np.float64) - ref) / np.maximum(ulp, floor)
    return np.where(np.isfinite(ref), err, np.where(got == ref, 0.0, np.inf))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["logits", "probs"])
def test_accuracy_grid_fused(kind: str, dtype: str) -> None:
    xs = _logit_grid(dtype) if kind == "logits" else _prob_grid(dtype)
    worst = {"loss": (-1.0, 0.0, 0.0), "grad": (-1.0, 0.0, 0.0)}
    for y in TARGETS:
        yv = np.full_like(xs, y)
        yf = float(yv[0])
        loss = dispatch.try_fused(
            xs,
            yv,
            logits=kind == "logits",
            pos_weight=None,
            label_smoothing=0.0,
            convention="exact",
            reduction="none",
            weights=None,
            mask=None,
            nan_policy="raise",
        )
        res = fused_bce(xs, yv, logits=kind == "logits", reduction="sum", grad=True)
        assert loss is not NotImplemented and res.fused and res.grad is not None
        refs = [_ref(kind, float(x), yf) for x in xs]
        ref_l = np.array([float(r[0]) for r in refs])
        ref_g = np.array([float(r[1]) for r in refs])
        x64 = xs.astype(np.float64)
        with np.errstate(all="ignore"):
            if kind == "logits":
                sig = 1 / (1 + np.exp(-x64))
                terms = np.maximum((1 - yf) * sig, yf * (1 - sig))
            else:
                terms = np.maximum(yf / x64 if yf else 0 * x64, (1 - yf) / (1 - x64))
        # The loss is a sum of non-negative terms (pure ulps); the gradient a difference of
        # two terms, so its absolute floor is an ulp of the larger term (as in the core test).
        for name, got, ref, scale in (
            ("loss", loss, ref_l, np.zeros_like(ref_l)),
            ("grad", res.grad, ref_g, np.nan_to_num(terms, posinf=0.0)),
        ):
            e = _ulp_err(got, ref, scale, dtype)
            i = int(np.argmax(e))
            if e[i] > worst[name][0]:
                worst[name] = (float(e[i]), float(xs[i]), yf)
    print(
        f"\nfused {kind} {dtype}: worst loss {worst['loss'][0]:.2f} ulp at x={worst['loss'][1]!r}, "
        f"y={worst['loss'][2]}; worst grad {worst['grad'][0]:.2f} ulp at "
        f"x={worst['grad'][1]!r}, y={worst['grad'][2]}"
    )
    assert worst["loss"][0] <= ULPS[dtype], worst
    assert worst["grad"][0] <= ULPS[dtype], worst


# --- the fused kernel equals the reference path --------------------------------------------------

# Sizes that straddle the block (512), chunk (65536) and threading (PARALLEL_MIN) boundaries.
SIZES = [1, 4, 511, 513, CHUNK + 1, PARALLEL_MIN + 3]


def _data(rng: np.random.Generator, n: int, dtype: str, logits: bool, soft: bool) -> tuple:
    if logits:
        x = rng.normal(0.0, 4.0, n) * rng.choice([1.0, 1e-3, 30.0], n)
    else:
        x = rng.uniform(0.0, 1.0, n)
    y = rng.uniform(0.0, 1.0, n) if soft else rng.integers(0, 2, n).astype(float)
    return x.astype(dtype), y.astype(dtype)


def _close(a: Any, b: Any, dtype: str, *, cancels: bool = False) -> None:
    """Equal to rounding.  A gradient is a difference of two terms that cancel near p = y, so
    there the absolute error is an ulp of the terms: ``cancels`` adds rtol * max|b| as atol."""
    rtol = 1e-12 if dtype == "float64" else 1e-6
    b64 = np.asarray(b, dtype=np.float64)
    atol = rtol * float(np.max(np.abs(b64), initial=0.0)) if cancels else 0.0
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), b64, rtol=rtol, atol=atol)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mean_equals_reference(n: int, dtype: str) -> None:
    rng = np.random.default_rng(n)
    for logits in (True, False):
        x, y = _data(rng, n, dtype, logits, soft=True)
        fn = bcelab.bce_with_logits if logits else bcelab.bce
        got = fn(x, y, reduction="mean")
        with reference_path():
            ref = fn(x, y, reduction="mean")
        assert type(got) is type(ref)
        # float64 accumulation on both paths: equal to ~1e-15 relative (summation order differs)
        np.testing.assert_allclose(got, ref, rtol=1e-13)


hyp = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

OPTIONS = st.fixed_dictionaries(
    {
        "pos_weight": st.sampled_from([None, 0.0, 2.5, 1]),
        "label_smoothing": st.sampled_from([0.0, 0.1, 1.0]),
        "reduction": st.sampled_from(["mean", "sum", "weighted_mean", "none"]),
        "weighted": st.booleans(),
    }
)


@given(
    n=st.sampled_from([1, 3, 64, 700, CHUNK + 5]),
    dtype=st.sampled_from(["float32", "float64"]),
    logits=st.booleans(),
    soft=st.booleans(),
    opts=OPTIONS,
    seed=st.integers(0, 2**32 - 1),
)
@hyp.settings(max_examples=60, deadline=None)
def test_options_equal_reference(
    n: int, dtype: str, logits: bool, soft: bool, opts: dict, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x, y = _data(rng, n, dtype, logits, soft)
    w = rng.uniform(0.0, 2.0, n).astype(dtype) if opts["weighted"] else None
    if w is not None:
        w[rng.random(n) < 0.2] = 0.0
    kw = dict(
        pos_weight=opts["pos_weight"],
        label_smoothing=opts["label_smoothing"],
        reduction=opts["reduction"],
        weights=w,
    )
    fn = bcelab.bce_with_logits if logits else bcelab.bce
    got = _outcome(lambda: fn(x, y, **kw))
    with reference_path():
        ref = _outcome(lambda: fn(x, y, **kw))
    assert got[0] == ref[0], (got, ref)
    if got[0] == "ok":
        _close(got[1], ref[1], dtype)
        assert np.asarray(got[1]).dtype == np.asarray(ref[1]).dtype
    gfn = bcelab.bce_with_logits_grad if logits else bcelab.bce_grad
    gkw = {k: v for k, v in kw.items() if k != "reduction"}
    red = opts["reduction"]
    got_g = _outcome(lambda: gfn(x, y, reduction=red, **gkw))
    with reference_path():
        ref_g = _outcome(lambda: gfn(x, y, reduction=red, **gkw))
    assert got_g[0] == ref_g[0]
    if got_g[0] == "ok":
        assert got_g[1].dtype == ref_g[1].dtype
        _close(got_g[1], ref_g[1], dtype, cancels=True)


SPECIALS = [np.nan, np.inf, -np.inf, 0.0, 1.0, -0.5, 1.5, 5e-324, 1e-45]


@given(
    n=st.sampled_from([2, 9, 600]),
    dtype=st.sampled_from(["float32", "float64"]),
    logits=st.booleans(),
    nan_policy=st.sampled_from(["raise", "propagate", "omit"]),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    pred_special=st.lists(st.tuples(st.integers(0, 599), st.sampled_from(SPECIALS)), max_size=3),
    tgt_special=st.lists(st.tuples(st.integers(0, 599), st.sampled_from(SPECIALS)), max_size=2),
    seed=st.integers(0, 2**32 - 1),
)
@hyp.settings(max_examples=120, deadline=None)
def test_special_values_identical_to_reference(
    n: int,
    dtype: str,
    logits: bool,
    nan_policy: str,
    reduction: str,
    pred_special: list,
    tgt_special: list,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    x, y = _data(rng, n, dtype, logits, soft=True)
    with np.errstate(all="ignore"):
        for i, v in pred_special:
            x[i % n] = v
        for i, v in tgt_special:
            y[i % n] = v
    fn = bcelab.bce_with_logits if logits else bcelab.bce
    got = _outcome(lambda: fn(x, y, reduction=reduction, nan_policy=nan_policy))
    with reference_path():
        ref = _outcome(lambda: fn(x, y, reduction=reduction, nan_policy=nan_policy))
    assert got[0] == ref[0], (got, ref)
    if got[0] == "ok":
        np.testing.assert_allclose(
            np.asarray(got[1], dtype=np.float64),
            np.asarray(ref[1], dtype=np.float64),
            rtol=1e-12 if dtype == "float64" else 1e-6,
            equal_nan=True,
        )
    else:
        assert got[1] == ref[1]  # the very same message: the reference path raised it


# --- fused_bce: decomposition, gradient, threads, fallbacks -----------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("logits", [True, False])
def test_decomposition_and_gradient_match_core(dtype: str, logits: bool) -> None:
    rng = np.random.default_rng(7)
    x, y = _data(rng, 5000, dtype, logits, soft=True)
    w = rng.uniform(0, 1, 5000).astype(dtype)
    r = fused_bce(
        x,
        y,
        logits=logits,
        weights=w,
        reduction="weighted_mean",
        with_decomposition=True,
        grad=True,
        label_smoothing=0.05,
    )
    assert r.fused and r.grad is not None and r.grad.dtype == np.dtype(dtype)
    with reference_path():
        d = bcelab.decompose(
            x, y, logits=logits, weights=w, reduction="weighted_mean", label_smoothing=0.05
        )
        gfn = bcelab.bce_with_logits_grad if logits else bcelab.bce_grad
        g = gfn(x, y, weights=w, reduction="weighted_mean", label_smoothing=0.05)
    np.testing.assert_allclose([r.value, r.floor, r.excess], [d.bce, d.floor, d.excess], rtol=1e-12)
    _close(r.grad, g, dtype, cancels=True)
    assert abs(r.value - (r.floor + r.excess)) <= 1e-12 * r.value  # BCE = floor + excess
    out = np.empty_like(x)
    r2 = fused_bce(
        x,
        y,
        logits=logits,
        weights=w,
        reduction="weighted_mean",
        grad_out=out,
        label_smoothing=0.05,
    )
    assert r2.grad is out and r2.value == r.value
    np.testing.assert_array_equal(out, r.grad)


def test_threads_do_not_change_the_result() -> None:
    rng = np.random.default_rng(3)
    x, y = _data(rng, PARALLEL_MIN * 2 + 17, "float32", True, soft=True)
    one = fused_bce(x, y, logits=True, threads=1, with_decomposition=True)
    two = fused_bce(x, y, logits=True, threads=2, with_decomposition=True)
    assert (one.value, one.floor, one.excess) == (two.value, two.floor, two.excess)


def test_ineligible_inputs_take_the_reference_path() -> None:
    rng = np.random.default_rng(4)
    x, y = _data(rng, 400, "float64", True, soft=True)
    strided = fused_bce(x[::2], y[::2], logits=True)
    assert not strided.fused  # non-contiguous: never copied, computed by the reference path
    mixed = fused_bce(x.astype(np.float32), y, logits=True)  # float32 with float64 targets
    assert not mixed.fused
    with reference_path():
        assert strided.value == float(bcelab.bce_with_logits(x[::2], y[::2], reduction="mean"))
    torch = pytest.importorskip("torch")
    t = fused_bce(torch.from_numpy(x), torch.from_numpy(y), logits=True)
    assert not t.fused and abs(t.value - fused_bce(x, y, logits=True).value) < 1e-12


def test_errors_are_the_documented_ones() -> None:
    x = np.zeros(8)
    with pytest.raises(bcelab.DomainError, match="targets must lie in"):
        fused_bce(x, np.full(8, 2.0), logits=True)
    with pytest.raises(bcelab.NaNError):
        fused_bce(np.full(8, np.nan), np.zeros(8), logits=True, grad=True)
    with pytest.raises(bcelab.OptionError, match="reduction"):
        fused_bce(x, x, logits=True, reduction="none")
    with pytest.raises(bcelab.OptionError, match="pos_weight"):
        fused_bce(x, x, logits=True, pos_weight=2.0, with_decomposition=True)
    with pytest.raises(bcelab.DTypeError):
        fused_bce(x, x, logits=True, grad_out=np.empty(8, dtype=np.float32))
    with pytest.raises(bcelab.ShapeError):
        fused_bce(x, x, logits=True, grad_out=np.empty(7))
    with pytest.raises(bcelab.OptionError, match="overlap"):
        fused_bce(x, x, logits=True, grad_out=x)
    with pytest.raises(bcelab.EmptyReductionError):
        fused_bce(x, x, logits=True, weights=np.zeros(8), reduction="weighted_mean")
    with pytest.raises(bcelab.OptionError):
        fused_bce(x, x, logits=True).decomposition()
    # invalid weights are counted in the pass, then the reference path raises its own error
    for bad in (-1.0, np.nan, np.inf):
        w = np.ones(8)
        w[3] = bad
        got = _outcome(lambda w=w: bcelab.bce_with_logits(x, x, weights=w, reduction="mean"))
        with reference_path():
            ref = _outcome(lambda w=w: bcelab.bce_with_logits(x, x, weights=w, reduction="mean"))
        assert got == ref and got[0] == "DomainError"


def test_read_only_memmap_is_fused(tmp_path: Any) -> None:
    # Large evaluations read predictions from disk: a read-only np.memmap takes the kernel.
    path = tmp_path / "logits.f32"
    np.linspace(-6, 6, 3000, dtype=np.float32).tofile(path)
    x = np.memmap(path, dtype=np.float32, mode="r", shape=(3000,))
    y = (np.arange(3000) % 2).astype(np.float32)
    r = fused_bce(x, y, logits=True)
    assert r.fused
    with reference_path():
        ref = float(bcelab.bce_with_logits(np.array(x), y, reduction="mean"))
    assert abs(r.value - ref) <= 1e-13 * ref

    # the kernel of writeable arrays runs it (read-only arrays would be a numba type, and
    # a compile, of their own), and the memory is only read
    def signatures() -> list[Any]:
        return [sig for kernel in KERNELS.values() for sig in kernel.signatures]

    assert not [s for s in signatures() if any(getattr(t, "readonly", False) for t in s)]
    before = len(signatures())
    y.flags.writeable = False
    assert fused_bce(x, y, logits=True).value == r.value
    assert len(signatures()) == before
    assert np.array_equal(x, np.linspace(-6, 6, 3000, dtype=np.float32))


def test_without_numba_the_reference_path_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # `loss_driver()` caches False when `import numba` fails; everything then takes the reference path.
    monkeypatch.setitem(dispatch._STATE, "driver", False)
    assert not bcelab.kernels.available()
    x = np.linspace(-3, 3, 100)
    y = np.linspace(0, 1, 100)
    r = fused_bce(x, y, logits=True, grad=True)
    assert not r.fused and r.grad is not None
    assert r.value == float(bcelab.bce_with_logits(x, y, reduction="mean"))
