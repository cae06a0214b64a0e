"""Agreement with the peers on random inputs in their common domain.

- torch.nn.functional.binary_cross_entropy(_with_logits): exact where torch is exact
  (probabilities away from 0/1, where torch's -100 clamp does not act).
- Keras 3 BinaryCrossentropy on the torch and jax backends (run in subprocesses, since
  Keras picks its backend at import), within float32 rounding, under convention="keras".
- sklearn.metrics.log_loss on hard labels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import bcelab

RNG = np.random.default_rng(7)
N = 2000
P = RNG.uniform(1e-6, 1 - 1e-6, N)
X = RNG.normal(0, 8, N)
Y_SOFT = RNG.uniform(0, 1, N)
Y_HARD = (RNG.uniform(0, 1, N) < 0.3).astype(np.float64)
W = RNG.uniform(0, 3, N)
PW = 2.5


def test_torch_agreement() -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    t = torch.from_numpy
    for y in (Y_SOFT, Y_HARD):
        np.testing.assert_allclose(
            bcelab.bce(P, y),
            F.binary_cross_entropy(t(P), t(y), reduction="none").numpy(),
            rtol=1e-13,
            atol=1e-14,
        )  # torch forms log(1 - p), bcelab log1p(-p): ~1e-15 apart
        ours = bcelab.bce_with_logits(X, y, pos_weight=PW)
        theirs = F.binary_cross_entropy_with_logits(
            t(X), t(y), pos_weight=torch.tensor(PW), reduction="none"
        ).numpy()
        # torch evaluates (1 - y) x - ..., which cancels for soft targets: its absolute error
        # is a few ulp of |x|.  bcelab's two non-negative terms do not cancel.
        assert (np.abs(ours - theirs) <= 1e-12 * np.abs(theirs) + 8 * np.spacing(np.abs(X))).all()
        # torch's "mean" with weight= divides by N, like bcelab's "mean" with weights
        np.testing.assert_allclose(
            float(bcelab.bce_with_logits(X, y, weights=W, reduction="mean")),
            float(F.binary_cross_entropy_with_logits(t(X), t(y), weight=t(W))),
            rtol=1e-12,
        )
        # and the torch convention reproduces float32 torch bit for bit on typical input
        x32, y32 = X.astype(np.float32), y.astype(np.float32)
        conv = bcelab.bce_with_logits(x32, y32, convention="torch")
        ref = F.binary_cross_entropy_with_logits(t(x32), t(y32), reduction="none").numpy()
        # same formula in float32; torch's SIMD log_sigmoid may round differently by an ulp of x
        assert (np.abs(conv - ref) <= 2 * np.spacing(ref) + 2 * np.spacing(np.abs(x32))).all()
        assert np.mean(conv == ref) > 0.9  # measured: 96% bit-identical
    # gradients where torch is exact
    x = torch.tensor(X, requires_grad=True)
    F.binary_cross_entropy_with_logits(x, t(Y_SOFT), reduction="sum").backward()
    np.testing.assert_allclose(
        x.grad.numpy(), bcelab.bce_with_logits_grad(X, Y_SOFT), rtol=1e-9, atol=1e-15
    )


KERAS_SCRIPT = r"""
import json, sys
import numpy as np
import keras
d = json.loads(sys.stdin.read())
y = np.asarray(d["y"], dtype="float32").reshape(-1, 4)
p = np.asarray(d["p"], dtype="float32").reshape(-1, 4)
x = np.asarray(d["x"], dtype="float32").reshape(-1, 4)
out = {
  "probs_none": np.asarray(keras.losses.binary_crossentropy(y, p)).tolist(),
  "logits_none": np.asarray(keras.losses.binary_crossentropy(y, x, from_logits=True)).tolist(),
  "probs_mean": float(keras.losses.BinaryCrossentropy()(y, p)),
  "smooth_mean": float(keras.losses.BinaryCrossentropy(from_logits=True,
                                                       label_smoothing=0.2)(y, x)),
}
print(json.dumps(out))
"""


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_keras_agreement(backend: str) -> None:
    import importlib.util

    if importlib.util.find_spec("keras") is None or importlib.util.find_spec(backend) is None:
        pytest.skip(f"keras or {backend} not installed")
    n = 400
    y, p, x = Y_SOFT[:n], P[:n], X[:n]
    env = {**os.environ, "KERAS_BACKEND": backend}
    res = subprocess.run(
        [sys.executable, "-c", KERAS_SCRIPT],
        input=json.dumps({"y": y.tolist(), "p": p.tolist(), "x": x.tolist()}),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    k = json.loads(res.stdout.strip().splitlines()[-1])
    y32, p32, x32 = (a.astype(np.float32).reshape(-1, 4) for a in (y, p, x))
    rows = bcelab.bce(p32, y32, convention="keras", reduction="per_sample")
    np.testing.assert_allclose(rows, k["probs_none"], rtol=3e-6)
    rows = bcelab.bce_with_logits(x32, y32, convention="keras", reduction="per_sample")
    np.testing.assert_allclose(rows, k["logits_none"], rtol=3e-6, atol=1e-6)
    assert float(bcelab.bce(p32, y32, convention="keras", reduction="mean")) == pytest.approx(
        k["probs_mean"], rel=2e-6
    )
    sm = bcelab.bce_with_logits(x32, y32, convention="keras", label_smoothing=0.2, reduction="mean")
    assert float(sm) == pytest.approx(k["smooth_mean"], rel=2e-6)
    # and the exact convention agrees with Keras to float32 accuracy away from its clip
    assert float(bcelab.bce(p32, y32, reduction="mean")) == pytest.approx(k["probs_mean"], rel=2e-6)


@pytest.mark.parametrize("logits", [True, False])
def test_torch_gradient_with_nan_policy(logits: bool) -> None:
    # nan_policy="omit" differentiates the loss over the other elements (torch: the masked
    # mean); "propagate" gives NaN where the element is NaN and, elsewhere, the derivative
    # of the mean over all N (torch: the masked sum / N; its BCE refuses NaN probabilities)
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(7)
    x = rng.normal(size=40) if logits else rng.uniform(0.05, 0.95, size=40)
    y = rng.uniform(size=40)
    x[[3, 17]] = np.nan
    y[25] = np.nan
    keep = ~(np.isnan(x) | np.isnan(y))
    fn = bcelab.bce_with_logits_grad if logits else bcelab.bce_grad
    loss = F.binary_cross_entropy_with_logits if logits else F.binary_cross_entropy
    xt = torch.tensor(x, requires_grad=True)
    mask = torch.from_numpy(keep)
    loss(xt[mask], torch.from_numpy(y)[mask]).backward()
    assert xt.grad is not None
    np.testing.assert_allclose(fn(x, y, reduction="mean", nan_policy="omit"), xt.grad, rtol=1e-13)
    xt.grad = None
    (loss(xt[mask], torch.from_numpy(y)[mask], reduction="sum") / x.size).backward()
    got = fn(x, y, reduction="mean", nan_policy="propagate")
    np.testing.assert_array_equal(np.isnan(got), ~keep)
    np.testing.assert_allclose(got[keep], xt.grad.numpy()[keep], rtol=1e-13)


def test_sklearn_agreement() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    for dtype in (np.float64, np.float32):
        p = P.astype(dtype)
        want = metrics.log_loss(Y_HARD, p, sample_weight=W)
        got = bcelab.bce(p, Y_HARD, convention="sklearn", weights=W, reduction="weighted_mean")
        # sklearn 1.9 takes float32 logs in float32; bcelab (like sklearn <= 1.8, vectors.md
        # R16) takes them in float64, so float32 agrees to float32 rounding only.
        assert float(got) == pytest.approx(want, rel=1e-12 if dtype == np.float64 else 1e-6)
        exact = bcelab.bce(p, Y_HARD, weights=W, reduction="weighted_mean")
        assert float(exact) == pytest.approx(want, rel=1e-6 if dtype == np.float32 else 1e-12)
    # at the clip, sklearn's number is what the sklearn convention reproduces
    p0 = np.array([0.0, 1.0, 0.5])
    y0 = np.array([1.0, 0.0, 1.0])
    assert float(bcelab.bce(p0, y0, convention="sklearn", reduction="mean")) == pytest.approx(
        metrics.log_loss(y0, p0), rel=1e-12
    )
    # sklearn rejects soft targets (pitfalls.md 12); bcelab computes them
    with pytest.raises(ValueError):
        metrics.log_loss(Y_SOFT[:10], P[:10])
    assert np.isfinite(float(bcelab.bce(P[:10], Y_SOFT[:10], reduction="mean")))


def test_torch_convention_is_torchs_float32_value_on_random_elements() -> None:
    """Measured on 200,000 random elements each: 96-99% bit-identical to PyTorch (NumPy's
    own float32 exp and log1p gave 86% from logits); the rest an ulp of an intermediate."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(20261207)
    x = (rng.standard_normal(200_000) * 5).astype(np.float32)
    p = rng.random(200_000).astype(np.float32)
    for soft in (False, True):
        y = (rng.random(x.size) if soft else rng.random(x.size) < 0.5).astype(np.float32)
        ty = torch.from_numpy(y)
        ref = F.binary_cross_entropy_with_logits(torch.from_numpy(x), ty, reduction="none").numpy()
        got = np.asarray(bcelab.bce_with_logits(x, y, convention="torch"))
        assert np.mean(got == ref) > 0.95, soft
        # ulps of log sigma(x) (|log sigma(x)| = |x| + the loss there), which the loss
        # keeps whole where y = 0 and x << 0
        bound = 3 * np.spacing(ref) + 2 * np.spacing(np.abs(x) + ref)
        assert (np.abs(got - ref) <= bound).all()
        ref = F.binary_cross_entropy(torch.from_numpy(p), ty, reduction="none").numpy()
        got = np.asarray(bcelab.bce(p, y, convention="torch"))
        assert np.mean(got == ref) > 0.95, soft
        assert (np.abs(got - ref) <= 3 * np.spacing(ref)).all()
