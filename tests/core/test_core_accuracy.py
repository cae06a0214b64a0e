"""Per-element accuracy against a 50-digit mpmath reference (issue 2, "Numerical accuracy").

Required: loss and gradient within 4 ulp in float64 and within 2 ulp of the correctly
rounded float32 result in float32.  Where the exact value is 0 or results from an
unavoidable cancellation (the gradient near its zero at p = y), the tolerance is
relative-plus-absolute: the absolute part is a few ulp of the *terms* being combined,
which is the rounding that any float evaluation of the inputs must incur.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import bcelab

mpmath.mp.dps = 50
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the reference math, not bcelab
TARGETS = [0.0, 1e-6, 0.1, 0.5, 0.9, 1.0]
ULPS = {"float64": 4.0, "float32": 2.0}


def _logit_grid(dtype: str) -> np.ndarray:
    mags = np.geomspace(1e-8, 1e4, 160)
    return np.concatenate([-mags[::-1], [0.0], mags]).astype(dtype)


def _prob_grid(dtype: str) -> np.ndarray:
    if dtype == "float64":
        low = np.geomspace(1e-300, 0.5, 200)
        high = 1.0 - np.geomspace(1e-16, 0.5, 100)
    else:
        low = np.geomspace(1e-44, 0.5, 200).astype(np.float32)  # down to subnormals
        high = (1.0 - np.geomspace(6e-8, 0.5, 100)).astype(np.float32)
    return np.unique(np.concatenate([low, high]).astype(dtype))


def _ref_logits(x: float, y: float) -> tuple[mpmath.mpf, mpmath.mpf]:
    X, Y = mpmath.mpf(x), mpmath.mpf(y)
    sp = lambda t: mpmath.log1p(mpmath.exp(t))  # noqa: E731
    loss = Y * sp(-X) + (1 - Y) * sp(X)
    sig = lambda t: 1 / (1 + mpmath.exp(-t))  # noqa: E731
    return loss, (1 - Y) * sig(X) - Y * sig(-X)


def _ref_probs(p: float, y: float) -> tuple[mpmath.mpf, mpmath.mpf]:
    P, Y = mpmath.mpf(p), mpmath.mpf(y)
    t1 = 0 if Y == 0 else -Y * mpmath.log(P)
    t2 = 0 if Y == 1 else -(1 - Y) * mpmath.log1p(-P)
    g1 = 0 if Y == 0 else -Y / P
    g2 = 0 if Y == 1 else (1 - Y) / (1 - P)
    return t1 + t2, g1 + g2


def _ulp_errors(got: np.ndarray, ref: list, scale: list, dtype: str) -> np.ndarray:
    """Error in ulps of the correctly rounded result; `scale` sets the absolute floor."""
    ref_r = np.array([float(r) for r in ref], dtype=np.float64).astype(dtype)
    err = np.abs(got.astype(np.float64) - np.array([float(r) for r in ref]))
    ulp = np.spacing(np.abs(ref_r).astype(dtype)).astype(np.float64)
    floor = np.spacing(np.asarray(scale, dtype=np.float64).astype(dtype)).astype(np.float64)
    return err / np.maximum(ulp, floor)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["logits", "probs"])
def test_accuracy_grid(kind: str, dtype: str) -> None:
    xs = _logit_grid(dtype) if kind == "logits" else _prob_grid(dtype)
    worst: dict[str, tuple[float, float, float]] = {}
    for y in TARGETS:
        yv = np.full_like(xs, y, dtype=dtype)
        yf = float(yv[0])
        if kind == "logits":
            got_l = bcelab.bce_with_logits(xs, yv)
            got_g = bcelab.bce_with_logits_grad(xs, yv)
            refs = [_ref_logits(float(x), yf) for x in xs]
        else:
            got_l = bcelab.bce(xs, yv)
            got_g = bcelab.bce_grad(xs, yv)
            refs = [_ref_probs(float(x), yf) for x in xs]
        assert got_l.dtype == np.dtype(dtype) and got_g.dtype == np.dtype(dtype)
        ref_l = [r[0] for r in refs]
        ref_g = [r[1] for r in refs]
        # The loss is a sum of two non-negative terms: pure ulp error, no absolute floor.
        e_l = _ulp_errors(got_l, ref_l, [0.0] * len(xs), dtype)
        # The gradient is a difference of two terms (zero at p = y): the absolute floor is
        # a few ulp of the larger term, the rounding that evaluating either term incurs.
        if kind == "logits":
            sig = 1 / (1 + np.exp(-xs.astype(np.float64)))
            terms = np.maximum((1 - yf) * sig, yf * (1 - sig))
        else:
            with np.errstate(divide="ignore"):
                p64 = xs.astype(np.float64)
                terms = np.maximum(yf / p64 if yf else 0 * p64, (1 - yf) / (1 - p64))
        e_g = _ulp_errors(got_g, ref_g, list(terms), dtype)
        for name, e in (("loss", e_l), ("grad", e_g)):
            finite = np.isfinite(np.array([float(r) for r in (ref_l if name == "loss" else ref_g)]))
            e = np.where(finite, e, 0.0)
            i = int(np.argmax(e))
            if e[i] > worst.get(name, (-1.0, 0.0, 0.0))[0]:
                worst[name] = (float(e[i]), float(xs[i]), yf)
    print(
        f"\n{kind} {dtype}: worst loss {worst['loss'][0]:.2f} ulp at (x={worst['loss'][1]!r}, "
        f"y={worst['loss'][2]}), worst grad {worst['grad'][0]:.2f} ulp at "
        f"(x={worst['grad'][1]!r}, y={worst['grad'][2]})"
    )
    assert worst["loss"][0] <= ULPS[dtype], worst
    assert worst["grad"][0] <= ULPS[dtype], worst


def test_infinite_reference_values_match() -> None:
    # Where the exact loss is infinite (p = 0, y > 0) we must return +inf, never NaN or a clip.
    p = np.array([0.0, 1.0, 0.0, 1.0])
    y = np.array([1.0, 0.0, 0.5, 1.0])
    out = bcelab.bce(p, y)
    np.testing.assert_array_equal(out, [np.inf, np.inf, np.inf, 0.0])
